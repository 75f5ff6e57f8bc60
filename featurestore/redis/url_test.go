package redis_test

import (
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/fstore/fstore/featurestore/redis"
)

func TestParseURL(t *testing.T) {
	const cc = redis.DefaultClientCache
	tests := []struct {
		url  string
		want redis.Config
	}{
		{"redis://127.0.0.1:6379/0", redis.Config{ClientCache: cc, Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://localhost", redis.Config{ClientCache: cc, Addrs: []string{"localhost:6379"}}},
		{"redis://localhost/", redis.Config{ClientCache: cc, Addrs: []string{"localhost:6379"}}},
		{"redis://h:7000/3", redis.Config{ClientCache: cc, Addrs: []string{"h:7000"}, DB: 3}},
		{"redis://:s3cret@h:7000/1", redis.Config{ClientCache: cc, Addrs: []string{"h:7000"}, Password: "s3cret", DB: 1}},
		{"redis://alice:p%40ss%2Fw@h:7000", redis.Config{ClientCache: cc, Addrs: []string{"h:7000"}, Username: "alice", Password: "p@ss/w"}},
		{"redis://:p@ss@h:7000", redis.Config{ClientCache: cc, Addrs: []string{"h:7000"}, Password: "p@ss"}},
		{"redis://[::1]:7000/2", redis.Config{ClientCache: cc, Addrs: []string{"[::1]:7000"}, DB: 2}},
		{"redis://[::1]", redis.Config{ClientCache: cc, Addrs: []string{"[::1]:6379"}}},
		{"redis://h:1/0?prefix=tenant1%3A", redis.Config{ClientCache: cc, Addrs: []string{"h:1"}, Prefix: "tenant1:"}},
		{"redis://h:1?prefix=", redis.Config{ClientCache: cc, Addrs: []string{"h:1"}}},
		{"redis://h:1?client_cache=0", redis.Config{Addrs: []string{"h:1"}}},
		{"redis://h:1?client_cache=4096", redis.Config{Addrs: []string{"h:1"}, ClientCache: 4096}},
		{"redis://h:1?client_cache=3KiB&prefix=p", redis.Config{Addrs: []string{"h:1"}, ClientCache: 3 << 10, Prefix: "p"}},
		{"redis://h:1?client_cache=64MiB", redis.Config{Addrs: []string{"h:1"}, ClientCache: 64 << 20}},
		{"redis://h:1?client_cache=2GiB", redis.Config{Addrs: []string{"h:1"}, ClientCache: 2 << 30}},
		{"redis-cluster://a:7000?client_cache=0", redis.Config{Cluster: true, Addrs: []string{"a:7000"}}},
		{"redis-cluster://a:7000,b:7001,c:7002", redis.Config{Cluster: true, Addrs: []string{"a:7000", "b:7001", "c:7002"}}},
		{"redis-cluster://a:7000/?prefix=x", redis.Config{Cluster: true, Addrs: []string{"a:7000"}, Prefix: "x"}},
		{"redis-cluster://a:7000/0", redis.Config{Cluster: true, Addrs: []string{"a:7000"}}},
		{"redis-cluster://:pw@a:7000,b:7001", redis.Config{Cluster: true, Addrs: []string{"a:7000", "b:7001"}, Password: "pw"}},
	}
	for _, tc := range tests {
		got, err := redis.ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, *got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		url  string
		want string // a substring of the error
	}{
		{"", "no scheme"},
		{"127.0.0.1:6379", "no scheme"},
		{"http://h:1/0", `scheme "http"`},
		{"rediss://h:1/0", "TLS is not supported"},
		{"redis://", "no host"},
		{"redis:///0", "no host"},
		{"redis://:pw@/0", "no host"},
		{"redis://h:abc/0", `port "abc" is not a number`},
		{"redis://h:0/0", `port "0" is not a number`},
		{"redis://h:65536/0", `port "65536"`},
		{"redis://h:/0", "empty port"},
		{"redis://:7000/0", "empty host name"},
		{"redis://a:1:2/0", `host "a:1:2"`},
		{"redis://::1/0", `host "::1"`},
		{"redis://[::1/0", "missing ']'"},
		{"redis://[::1]x/0", "ends with ']' or ']:port'"},
		{"redis://h:1/x", `database "x" is not a number`},
		{"redis://h:1/-1", `database "-1"`},
		{"redis://h:1/0/1", `database "0/1"`},
		{"redis://h:1/99999999999", `database "99999999999"`},
		{"redis://a:1,b:2/0", "a single node has one"},
		{"redis-cluster://a:1,,b:2", "empty host in the host list"},
		{"redis-cluster://a:1,b:x", `host "b:x"`},
		{"redis-cluster://a:1/1", "only database 0"},
		{"redis://h:1/0?db=2", `unknown query parameter "db"`},
		{"redis://h:1/0?client_cache=", `client_cache: "" is not a size`},
		{"redis://h:1/0?client_cache=-1", `client_cache: "-1" is not a size`},
		{"redis://h:1/0?client_cache=%2B5", `client_cache: "+5" is not a size`},
		{"redis://h:1/0?client_cache=5MB", `client_cache: "5MB" is not a size`},
		{"redis://h:1/0?client_cache=MiB", `client_cache: "MiB" is not a size`},
		{"redis://h:1/0?client_cache=99999999999GiB", `client_cache: "99999999999GiB" is not a size`},
		{"redis://h:1/0?client_cache=1&client_cache=2", "client_cache given 2 times"},
		{"redis-cluster://a:1?client_cache=1MiB", "a cluster has no client-side cache"},
		{"redis://h:1/0?prefix=a&prefix=b", "prefix given 2 times"},
		{"redis://h:1/0?prefix=%zz", "query"},
		{"redis://h:1/0?prefix=%7Bx%7D", "reserved for the cluster's hash tags"},
		{"redis://h:1/0#frag", `fragment "#frag"`},
		{"redis://:pa%zzss@h:1/0", "password: bad percent-encoding"},
		{"redis://:pa/ss@h:1/0", "percent-encode"},
		{"redis://h h:1/0", "bad character"},
	}
	for _, tc := range tests {
		_, err := redis.ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error with %q", tc.url, tc.want)
			continue
		}
		if !errors.Is(err, redis.ErrInvalidURL) {
			t.Errorf("ParseURL(%q) = %v, not ErrInvalidURL", tc.url, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %q, want it to contain %q", tc.url, err, tc.want)
		}
		// Open gives the same error, without dialling anything.
		if _, openErr := redis.Open(tc.url, redis.Timeouts{}); openErr == nil || openErr.Error() != err.Error() {
			t.Errorf("Open(%q) = %v, want %v", tc.url, openErr, err)
		}
	}
}

// TestParseURLHidesPassword checks that no error quotes the password.
func TestParseURLHidesPassword(t *testing.T) {
	for _, url := range []string{
		"redis://:hunter2@h:x/0",
		"redis://:hunter2@h:1/x",
		"redis://:hunter2@h:1/0?bad=1",
		"redis://:hunter2%zz@h:1/0",
		"redis://:hun/ter2@h:1/0",
		"redis://:hun?ter2@h:1/0",
		"redis://:hun#ter2@h:1/0",
		"redis-cluster://user:hunter2@a:1,b:x",
	} {
		_, err := redis.ParseURL(url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", url)
			continue
		}
		for _, piece := range []string{"hunter2", "hun", "ter2"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("ParseURL(%q) = %q: quotes the password", url, err)
				break
			}
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://:pw@h:7000/15?prefix=t%3A",
		"redis://user:p%40ss@[::1]:7000",
		"redis-cluster://a:7000,b:7001,c:7002?prefix=x",
		"redis-cluster://a:1,,b:2",
		"redis://h:1/0#x",
		"redis://:p/w@h:1",
		"redis://[::1",
		"redis://h:99999/0",
		"rediss://h",
		"://",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, url string) {
		c, err := redis.ParseURL(url)
		if err != nil {
			if !errors.Is(err, redis.ErrInvalidURL) {
				t.Fatalf("ParseURL(%q) = %v, not ErrInvalidURL", url, err)
			}
			return
		}
		if len(c.Addrs) == 0 || (!c.Cluster && len(c.Addrs) != 1) {
			t.Fatalf("ParseURL(%q) = %+v: bad address count", url, c)
		}
		for _, a := range c.Addrs {
			if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
				t.Fatalf("ParseURL(%q) gave address %q: %v", url, a, err)
			}
		}
		if c.DB < 0 || (c.Cluster && c.DB != 0) {
			t.Fatalf("ParseURL(%q) gave database %d", url, c.DB)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseURL(%q) = %+v, which fails Validate: %v", url, c, err)
		}
	})
}
