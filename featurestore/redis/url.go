package redis

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Config is what a store URL says: where Redis is and how keys are
// namespaced in it.
type Config struct {
	// Cluster reports a Redis Cluster (redis-cluster://) rather than a
	// single node (redis://).
	Cluster bool
	// Addrs holds host:port: the one node, or the cluster's seed nodes.
	Addrs []string
	// Username and Password authenticate (AUTH); both are optional.
	Username, Password string
	// DB is the database a single node selects. A cluster has only 0.
	DB int
	// Prefix is prepended to every key, to share one Redis between several
	// stores. It never contains '{' or '}', which would change the
	// cluster's hash slots.
	Prefix string
	// ClientCache is the memory, in bytes, of the client-side cache of a
	// single node (see Store.ClientCache); 0: none. ParseURL sets
	// DefaultClientCache unless the URL says otherwise; a cluster has none.
	ClientCache int64
}

// Addr returns the store's address for messages: host:port, or the seed
// nodes joined by commas. It never contains the password.
func (c *Config) Addr() string { return strings.Join(c.Addrs, ",") }

// Validate checks what ParseURL guarantees, for a Config built by hand:
// at least one address, one for a single node, database 0 in a cluster,
// no '{' or '}' in the prefix. Errors match ErrInvalidURL.
func (c *Config) Validate() error {
	switch {
	case len(c.Addrs) == 0:
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	case !c.Cluster && len(c.Addrs) > 1:
		return fmt.Errorf("%w: %d hosts: a single node has one", ErrInvalidURL, len(c.Addrs))
	case c.DB < 0 || (c.Cluster && c.DB != 0):
		return fmt.Errorf("%w: database %d", ErrInvalidURL, c.DB)
	case strings.ContainsAny(c.Prefix, "{}"):
		return fmt.Errorf("%w: prefix %q: '{' and '}' are reserved for the cluster's hash tags", ErrInvalidURL, printable(c.Prefix))
	case c.ClientCache < 0:
		return fmt.Errorf("%w: client_cache %d is negative", ErrInvalidURL, c.ClientCache)
	case c.Cluster && c.ClientCache > 0:
		return fmt.Errorf("%w: client_cache: a cluster has no client-side cache", ErrInvalidURL)
	}
	return nil
}

const defaultPort = "6379"

// ParseURL parses a store URL:
//
//	redis://[[user]:password@]host[:port][/db][?prefix=STR][&client_cache=SIZE]
//	redis-cluster://[[user]:password@]host:port,host:port,...[?prefix=STR]
//
// The port defaults to 6379 and the database to 0. client_cache sizes a
// single node's client-side cache (see Store.ClientCache) in bytes, with
// an optional unit KiB, MiB or GiB ("64MiB"); 0 turns it off; default
// 128MiB. The user and password
// are percent-decoded; a password holding '/', '?' or '#' must write them
// as %2F, %3F, %23. Errors match ErrInvalidURL, name the bad part and never
// repeat the password.
func ParseURL(rawURL string) (*Config, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: no scheme: want redis://host:port/db or redis-cluster://host:port,host:port", ErrInvalidURL)
	}
	c := &Config{}
	switch scheme {
	case "redis":
	case "redis-cluster":
		c.Cluster = true
	case "rediss", "rediss-cluster":
		return nil, fmt.Errorf("%w: scheme %q: TLS is not supported", ErrInvalidURL, scheme)
	default:
		return nil, fmt.Errorf("%w: scheme %q: want redis or redis-cluster", ErrInvalidURL, printable(scheme))
	}
	// The authority (userinfo and hosts) ends at the first '/', '?' or '#',
	// as in RFC 3986. An '@' after that end is most likely a password with
	// an unencoded '/', '?' or '#': that is refused without quoting any part
	// of the URL, since any of them may hold a piece of the password.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if !strings.Contains(authority, "@") && strings.Contains(tail, "@") {
		return nil, fmt.Errorf("%w: '@' after the host: percent-encode '/', '?' and '#' in the password as %%2F, %%3F, %%23", ErrInvalidURL)
	}
	if i := strings.IndexByte(tail, '#'); i >= 0 {
		return nil, fmt.Errorf("%w: fragment %q: a store URL has none", ErrInvalidURL, printable(tail[i:]))
	}
	tail, query, _ := strings.Cut(tail, "?")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if err := c.parseUserinfo(authority[:i]); err != nil {
			return nil, err
		}
		authority = authority[i+1:]
	}
	if err := c.parseHosts(authority); err != nil {
		return nil, err
	}
	if tail != "" {
		if err := c.parseDB(tail[1:]); err != nil {
			return nil, err
		}
	}
	if err := c.parseQuery(query); err != nil {
		return nil, err
	}
	return c, nil
}

// printable shortens s for an error message.
func printable(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func (c *Config) parseUserinfo(userinfo string) error {
	user, password, hasPassword := strings.Cut(userinfo, ":")
	var err error
	if c.Username, err = url.PathUnescape(user); err != nil {
		return fmt.Errorf("%w: user name: bad percent-encoding", ErrInvalidURL)
	}
	if hasPassword {
		if c.Password, err = url.PathUnescape(password); err != nil {
			// The error would quote the password; say only where it is.
			return fmt.Errorf("%w: password: bad percent-encoding", ErrInvalidURL)
		}
	}
	return nil
}

func (c *Config) parseHosts(authority string) error {
	if authority == "" {
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	hosts := strings.Split(authority, ",")
	if !c.Cluster && len(hosts) > 1 {
		return fmt.Errorf("%w: %d hosts %q: a single node has one; use redis-cluster:// for a cluster", ErrInvalidURL, len(hosts), printable(authority))
	}
	for _, h := range hosts {
		addr, err := parseHostPort(h)
		if err != nil {
			return err
		}
		c.Addrs = append(c.Addrs, addr)
	}
	return nil
}

func parseHostPort(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty host in the host list", ErrInvalidURL)
	}
	host, port := s, defaultPort
	// A colon after the last ']' (or anywhere, for a name or IPv4) starts
	// the port; a bare IPv6 address must be bracketed.
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i > strings.LastIndexByte(s, ']') {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", fmt.Errorf("%w: host %q: %v", ErrInvalidURL, printable(s), err)
		}
		host, port = h, p
	} else if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return "", fmt.Errorf("%w: host %q: a bracketed IPv6 address ends with ']' or ']:port'", ErrInvalidURL, printable(s))
		}
		host = s[1 : len(s)-1]
	}
	if host == "" {
		return "", fmt.Errorf("%w: host %q: empty host name", ErrInvalidURL, printable(s))
	}
	if strings.ContainsAny(host, "/?#@[] \t\r\n") {
		return "", fmt.Errorf("%w: host %q: bad character in host name", ErrInvalidURL, printable(s))
	}
	if port == "" {
		return "", fmt.Errorf("%w: host %q: empty port", ErrInvalidURL, printable(s))
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || port[0] == '+' {
		return "", fmt.Errorf("%w: host %q: port %q is not a number from 1 to 65535", ErrInvalidURL, printable(s), printable(port))
	}
	return net.JoinHostPort(host, port), nil
}

func (c *Config) parseDB(path string) error {
	if path == "" {
		return nil
	}
	db, err := strconv.ParseUint(path, 10, 31)
	if err != nil || path[0] == '+' {
		return fmt.Errorf("%w: database %q is not a number from 0 to 2147483647", ErrInvalidURL, printable(path))
	}
	if c.Cluster && db != 0 {
		return fmt.Errorf("%w: database %d: a Redis Cluster has only database 0", ErrInvalidURL, db)
	}
	c.DB = int(db)
	return nil
}

func (c *Config) parseQuery(query string) error {
	if !c.Cluster {
		c.ClientCache = DefaultClientCache
	}
	if query == "" {
		return nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("%w: query %q: %v", ErrInvalidURL, printable(query), err)
	}
	for name, vs := range values {
		if name != "prefix" && name != "client_cache" {
			return fmt.Errorf("%w: unknown query parameter %q: want prefix or client_cache", ErrInvalidURL, printable(name))
		}
		if len(vs) > 1 {
			return fmt.Errorf("%w: query parameter %s given %d times", ErrInvalidURL, name, len(vs))
		}
	}
	c.Prefix = values.Get("prefix")
	if strings.ContainsAny(c.Prefix, "{}") {
		return fmt.Errorf("%w: prefix %q: '{' and '}' are reserved for the cluster's hash tags", ErrInvalidURL, printable(c.Prefix))
	}
	if values.Has("client_cache") {
		size, err := parseSize(values.Get("client_cache"))
		if err != nil {
			return fmt.Errorf("%w: client_cache: %v", ErrInvalidURL, err)
		}
		if c.Cluster && size > 0 {
			return fmt.Errorf("%w: client_cache: a cluster has no client-side cache (only a single node, redis://)", ErrInvalidURL)
		}
		c.ClientCache = size
	}
	return nil
}

// parseSize parses a size in bytes: decimal digits and an optional unit,
// KiB, MiB or GiB.
func parseSize(s string) (int64, error) {
	digits := strings.TrimRight(s, "KMGiB")
	unit := s[len(digits):]
	shift := map[string]uint{"": 0, "KiB": 10, "MiB": 20, "GiB": 30}
	sh, ok := shift[unit]
	n, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || n < 0 || digits[0] == '+' || n > (1<<62)>>sh {
		return 0, fmt.Errorf("%q is not a size: want bytes, optionally with a unit KiB, MiB or GiB, e.g. 64MiB or 0 for none", printable(s))
	}
	return n << sh, nil
}
