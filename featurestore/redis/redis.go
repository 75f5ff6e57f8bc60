package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	// maxBatch is the most keys (or commands) one request carries.
	maxBatch = 10_000
	// maxUpdateAttempts bounds the compare-and-set attempts of one key.
	maxUpdateAttempts = 32
	// scanCount is the COUNT hint of every SCAN.
	scanCount = 1000
)

// Timeouts bound connecting to Redis and every request to it. It mirrors
// featurestore.StoreTimeouts, which this package cannot import.
type Timeouts struct {
	// Dial bounds connecting, and the PING with which Open checks the
	// store. Default 2s.
	Dial time.Duration
	// Read and Write bound one request's socket reads and writes.
	// Default 1s each.
	Read, Write time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Dial <= 0 {
		t.Dial = 2 * time.Second
	}
	if t.Read <= 0 {
		t.Read = time.Second
	}
	if t.Write <= 0 {
		t.Write = time.Second
	}
	return t
}

// Store is an online store in a Redis node or cluster. It is safe for
// concurrent use.
type Store struct {
	addr    string
	layout  keyLayout
	single  *goredis.Client        // nil for a cluster
	cluster *goredis.ClusterClient // nil for a single node
	rdb     goredis.UniversalClient

	roundTrips atomic.Int64
	closed     atomic.Bool
	retryLocks retryLocks
	cc         *clientCache // nil: no client-side cache
}

// Open connects to the Redis of a store URL (see ParseURL) and checks it
// answers: a single node with PING, a cluster with PING to every node, all
// within t.Dial. A Redis that cannot be reached fails with an OpError
// matching ErrUnavailable ("cannot reach redis at 127.0.0.1:6379: ...").
func Open(rawURL string, t Timeouts) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg, t)
}

// OpenConfig is Open for a parsed URL.
func OpenConfig(cfg *Config, t Timeouts) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t = t.withDefaults()
	s := &Store{
		addr:   cfg.Addr(),
		layout: keyLayout{prefix: cfg.Prefix, cluster: cfg.Cluster},
	}
	hook := countHook{n: &s.roundTrips}
	// RESP2 works with every Redis and needs none of the push-notification
	// machinery; maintenance notifications would start goroutines of their
	// own. DisableIdentity saves a CLIENT SETINFO per new connection.
	maint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if cfg.Cluster {
		s.cluster = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:                    cfg.Addrs,
			Username:                 cfg.Username,
			Password:                 cfg.Password,
			Protocol:                 2,
			MaxRedirects:             2,
			DialTimeout:              t.Dial,
			DialerRetries:            1,
			ReadTimeout:              t.Read,
			WriteTimeout:             t.Write,
			ContextTimeoutEnabled:    true,
			DisableIdentity:          true,
			MaintNotificationsConfig: maint,
		})
		// Count at the nodes: one per request a node client sends, so a
		// cluster pipeline counts once per node it touches.
		s.cluster.OnNewNode(func(node *goredis.Client) { node.AddHook(hook) })
		s.rdb = s.cluster
	} else {
		s.single = goredis.NewClient(&goredis.Options{
			Addr:                     cfg.Addrs[0],
			Username:                 cfg.Username,
			Password:                 cfg.Password,
			DB:                       cfg.DB,
			Protocol:                 2,
			MaxRetries:               1,
			DialTimeout:              t.Dial,
			DialerRetries:            1,
			ReadTimeout:              t.Read,
			WriteTimeout:             t.Write,
			ContextTimeoutEnabled:    true,
			DisableIdentity:          true,
			MaintNotificationsConfig: maint,
		})
		s.single.AddHook(hook)
		s.rdb = s.single
	}

	ctx, cancel := context.WithTimeout(context.Background(), t.Dial)
	defer cancel()
	var err error
	if s.cluster != nil {
		err = s.cluster.ForEachShard(ctx, func(ctx context.Context, node *goredis.Client) error {
			if err := node.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("node %s: %w", node.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = s.single.Ping(ctx).Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", t.Dial, err)
		}
		openErr := &OpError{Op: "reach", Addr: s.addr, Err: err, Unavailable: unavailable(err)}
		if closeErr := s.rdb.Close(); closeErr != nil {
			return nil, errors.Join(openErr, closeErr)
		}
		return nil, openErr
	}
	if s.single != nil && cfg.ClientCache > 0 {
		cc, err := newClientCache(cfg, t)
		if err != nil {
			openErr := &OpError{Op: "track keys in", Addr: s.addr, Err: err, Unavailable: unavailable(err)}
			return nil, errors.Join(openErr, s.rdb.Close())
		}
		s.cc = cc
	}
	return s, nil
}

// Addr returns the store's address: host:port, or a cluster's seed nodes
// joined by commas.
func (s *Store) Addr() string { return s.addr }

// RoundTrips returns how many requests the store has sent to Redis nodes
// since Open: one per command or pipeline a node client sent (a request
// go-redis retried on a fresh connection counts once). Connecting and the
// handshake on a new connection are not counted.
func (s *Store) RoundTrips() int64 { return s.roundTrips.Load() }

// ServerCPU returns the CPU time (user + system, as INFO cpu reports it)
// the store's Redis processes have used since they started: the one
// node's, or the sum over a cluster's masters. Benchmarks read it before
// and after a run to charge Redis's share of each request, which matters
// when Redis shares the machine.
func (s *Store) ServerCPU(ctx context.Context) (time.Duration, error) {
	var mu sync.Mutex
	var total time.Duration
	add := func(ctx context.Context, c *goredis.Client) error {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return opError(ctx, "INFO cpu", c.Options().Addr, err)
		}
		d, err := parseInfoCPU(info)
		if err != nil {
			return fmt.Errorf("redis %s: %w", c.Options().Addr, err)
		}
		mu.Lock()
		total += d
		mu.Unlock()
		return nil
	}
	var err error
	if s.cluster != nil {
		err = s.cluster.ForEachMaster(ctx, add)
	} else {
		err = add(ctx, s.single)
	}
	return total, err
}

// parseInfoCPU sums used_cpu_sys and used_cpu_user (seconds, decimal) of
// an INFO cpu reply.
func parseInfoCPU(info string) (time.Duration, error) {
	var total float64
	found := 0
	for line := range strings.Lines(info) {
		name, val, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("INFO cpu: %s is %q", name, val)
		}
		total += v
		found++
	}
	if found != 2 {
		return 0, errors.New("INFO cpu: no used_cpu_sys and used_cpu_user")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// Close closes the store's connections. Calls after it fail with
// ErrClosed; a second Close does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.cc != nil {
		s.cc.close()
	}
	return s.rdb.Close()
}

// invalidate drops keys this process wrote from the client-side cache as
// soon as the write returns, rather than when Redis's invalidation comes
// back: a read after a write in this process sees the write.
func (s *Store) invalidate(keys [][]byte) {
	if s.cc != nil {
		s.cc.invalidate(keys)
	}
}

// enter checks a call may start.
func (s *Store) enter(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Get looks keys up and calls fn(i, value) for every keys[i] present, from
// the calling goroutine, after every reply has arrived; value is valid only
// during the call. A single node answers one MGET, a cluster one pipeline
// of GETs per node.
func (s *Store) Get(ctx context.Context, keys [][]byte, fn func(i int, value []byte)) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	var err error
	if s.cc != nil && s.cc.live.Load() {
		err = s.getCached(ctx, keys, fn)
	} else if s.single != nil {
		err = s.getSingle(ctx, keys, fn)
	} else {
		scratch := make([]byte, 0, 256)
		err = s.mget(ctx, s.keyArgs(keys), func(i int, v string) {
			scratch = append(scratch[:0], v...)
			fn(i, scratch)
		})
	}
	if err != nil {
		return opError(ctx, "read from", s.addr, err)
	}
	return nil
}

// getScratch is the reusable state of a single node's Get: the MGET's
// arguments, the Redis keys they point to, and the raw reply. Arguments
// are *string into keys, whose strings alias keyBuf: go-redis writes a
// *string argument as its string, and a pointer goes into an interface
// without an allocation, as a string or []byte does not.
type getScratch struct {
	keyBuf []byte
	keys   []string
	args   []any
	reply  bytes.Buffer
	// The client-side cache's misses: their indexes in the call's keys,
	// the cache generations seen, whether Redis had them, their PTTL
	// replies raw and parsed, and a cache frame being built.
	miss    []int32
	gens    []uint64
	found   []bool
	ttls    bytes.Buffer
	ttlVals []int64
	frame   []byte
}

var getPool = sync.Pool{New: func() any { return new(getScratch) }}

// maxPooledReply bounds the reply buffer a getScratch keeps in the pool,
// so that one huge read does not pin its memory.
const maxPooledReply = 1 << 20

// getSingle reads keys from a single node with MGETs of up to maxBatch
// keys, each reply read raw into a pooled buffer and parsed here: no
// allocation per key, where go-redis's own MGET allocates a string and an
// interface per value. The read is retried once on a network error that is
// not a timeout, as go-redis retries its own commands (RawWriteToCmd opts
// out of that, as it cannot undo what it wrote).
func (s *Store) getSingle(ctx context.Context, keys [][]byte, fn func(i int, value []byte)) error {
	g := takeGetScratch()
	defer g.release()
	g.buildKeys(s, keys, nil)
	for lo := 0; lo < len(keys); lo += maxBatch {
		hi := min(lo+maxBatch, len(keys))
		g.mgetArgs(lo, hi)
		err := sendRetrying(ctx, func() error {
			g.reply.Reset()
			return s.single.Process(ctx, goredis.NewRawWriteToCmd(ctx, &g.reply, g.args...))
		})
		if err != nil {
			return err
		}
		if err := parseMGet(g.reply.Bytes(), hi-lo, lo, fn); err != nil {
			return err
		}
	}
	return nil
}

func takeGetScratch() *getScratch { return getPool.Get().(*getScratch) }

// release returns g to the pool, unless one huge read grew its reply
// buffer past maxPooledReply.
func (g *getScratch) release() {
	if g.reply.Cap() <= maxPooledReply {
		getPool.Put(g)
	}
}

// mgetArgs sets g.args to an MGET of g.keys[lo:hi].
func (g *getScratch) mgetArgs(lo, hi int) {
	g.args = append(g.args[:0], "mget")
	for j := lo; j < hi; j++ {
		g.args = append(g.args, &g.keys[j])
	}
}

// sendRetrying calls send, and once more after a network error that is
// not a timeout (see retryable): go-redis's own retry of a command, which
// RawWriteToCmd opts out of. send must reset what it writes into.
func sendRetrying(ctx context.Context, send func() error) error {
	err := send()
	if err != nil && retryable(ctx, err) {
		err = send()
	}
	return err
}

// retryable reports whether a failed read may be sent again: a broken
// connection (a server restart closed a pooled one), not a timeout that
// already took its time, nor a context that ended.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var reply goredis.Error
	return !errors.As(err, &reply)
}

// parseMGet parses the raw RESP reply of an MGET of n keys and calls
// fn(base+j, value) for every key j present, value aliasing b. It checks
// every length against b, so that a malformed reply is an error, never a
// misread.
func parseMGet(b []byte, n, base int, fn func(i int, value []byte)) error {
	line, rest, err := respLine(b)
	if err != nil {
		return err
	}
	if line[0] == '-' {
		return replyError(line[1:])
	}
	if line[0] != '*' {
		return fmt.Errorf("%w: MGET answered %q, want an array", errBadReply, clip(line))
	}
	count, ok := respInt(line[1:])
	if !ok || count != n {
		return fmt.Errorf("%w: MGET of %d keys answered %q", errBadReply, n, clip(line))
	}
	for j := 0; j < n; j++ {
		if line, rest, err = respLine(rest); err != nil {
			return err
		}
		if line[0] == '_' { // RESP3 null
			continue
		}
		if line[0] != '$' {
			return fmt.Errorf("%w: MGET element %d is %q, want a bulk string", errBadReply, j, clip(line))
		}
		size, ok := respInt(line[1:])
		switch {
		case ok && size == -1: // RESP2 null: absent
			continue
		case !ok || size < 0 || size > len(rest)-2 || rest[size] != '\r' || rest[size+1] != '\n':
			return fmt.Errorf("%w: MGET element %d: bad bulk string %q", errBadReply, j, clip(line))
		}
		fn(base+j, rest[:size:size])
		rest = rest[size+2:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the MGET reply", errBadReply, len(rest))
	}
	return nil
}

// errBadReply is the cause of a reply that does not parse; it cannot
// happen with a working Redis.
var errBadReply = errors.New("redis: malformed reply")

// replyError is an error reply of Redis, read by parseMGet. It implements
// goredis.Error, as the error replies go-redis reads do.
type replyError string

func (e replyError) Error() string { return string(e) }

// RedisError marks e as a reply of Redis (goredis.Error).
func (replyError) RedisError() {}

// respLine splits b after its first CRLF: the line without it (never
// empty) and the rest.
func respLine(b []byte) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 2 || b[i-1] != '\r' {
		return nil, nil, fmt.Errorf("%w: truncated line %q", errBadReply, clip(b))
	}
	return b[:i-1], b[i+1:], nil
}

// respInt parses a RESP length: an optional '-' and decimal digits.
func respInt(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 10 || len(b) > 1 && b[0] == '0' {
		return 0, false // one spelling per number, as Redis writes it
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Put writes values[i] under keys[i] with one pipeline of SETs, with PX
// ttl when ttl > 0.
func (s *Store) Put(ctx context.Context, keys, values [][]byte, ttl time.Duration) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	if len(keys) != len(values) {
		return fmt.Errorf("%w: put of %d keys with %d values", ErrInvalidArgument, len(keys), len(values))
	}
	if ttl < 0 {
		return fmt.Errorf("%w: negative ttl %v", ErrInvalidArgument, ttl)
	}
	if len(keys) == 0 {
		return nil
	}
	rkeys := s.keyArgs(keys)
	ms := ttlMillis(ttl)
	cmds := make([]goredis.Cmder, len(keys))
	for i, k := range rkeys {
		var cmd *goredis.StatusCmd
		if ms > 0 {
			cmd = goredis.NewStatusCmd(ctx, "set", k, values[i], "px", ms)
		} else {
			cmd = goredis.NewStatusCmd(ctx, "set", k, values[i])
		}
		cmd.SetFirstKeyPos(1)
		cmds[i] = cmd
	}
	err := s.pipeline(ctx, cmds, nil)
	s.invalidate(keys) // also after a failure, which may have written some
	if err != nil {
		return opError(ctx, "write to", s.addr, err)
	}
	return nil
}

// Delete removes keys: DELs of up to 10,000 keys on a single node, a
// pipeline of DELs (one per key, as keys live in different slots) in a
// cluster.
func (s *Store) Delete(ctx context.Context, keys [][]byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	defer s.invalidate(keys) // also after a failure, which may have deleted some
	rkeys := s.keyArgs(keys)
	if s.single != nil {
		for lo := 0; lo < len(rkeys); lo += maxBatch {
			hi := min(lo+maxBatch, len(rkeys))
			args := make([]any, 0, 1+hi-lo)
			args = append(args, "del")
			args = append(args, rkeys[lo:hi]...)
			if err := s.single.Process(ctx, goredis.NewIntCmd(ctx, args...)); err != nil {
				return opError(ctx, "delete from", s.addr, err)
			}
		}
		return nil
	}
	cmds := make([]goredis.Cmder, len(rkeys))
	for i, k := range rkeys {
		cmd := goredis.NewIntCmd(ctx, "del", k)
		cmd.SetFirstKeyPos(1)
		cmds[i] = cmd
	}
	if err := s.pipeline(ctx, cmds, nil); err != nil {
		return opError(ctx, "delete from", s.addr, err)
	}
	return nil
}

// Scan calls fn for every key starting with prefix: SCAN MATCH on the
// node (every master of a cluster, one after the other), each page's
// values read with one request. A key may be reported twice if Redis
// resizes its hash table during the scan, as SCAN guarantees only that
// every key present throughout is reported at least once.
func (s *Store) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	nodes := []*goredis.Client{s.single}
	if s.cluster != nil {
		nodes = nodes[:0]
		var mu sync.Mutex
		err := s.cluster.ForEachMaster(ctx, func(_ context.Context, node *goredis.Client) error {
			mu.Lock()
			nodes = append(nodes, node)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return opError(ctx, "scan", s.addr, err)
		}
	}
	pattern := string(s.layout.appendPattern(nil, prefix))
	var (
		vals    []string
		present []bool
		args    []any
		keyBuf  = make([]byte, 0, 64)
		valBuf  = make([]byte, 0, 256)
	)
	for _, node := range nodes {
		var cursor uint64
		for {
			page, next, err := node.Scan(ctx, cursor, pattern, scanCount).Result()
			if err != nil {
				return opError(ctx, "scan", s.addr, err)
			}
			if len(page) > 0 {
				args = args[:0]
				for _, k := range page {
					args = append(args, k)
				}
				vals = resize(vals, len(page))
				present = resize(present, len(page))
				err := s.mget(ctx, args, func(i int, v string) {
					vals[i], present[i] = v, true
				})
				if err != nil {
					return opError(ctx, "scan", s.addr, err)
				}
				for i, rk := range page {
					if !present[i] {
						continue // deleted or expired since SCAN saw it
					}
					keyBuf = append(keyBuf[:0], rk...)
					key, ok := s.layout.storeKey(keyBuf)
					if !ok {
						continue
					}
					valBuf = append(valBuf[:0], vals[i]...)
					if err := fn(key, valBuf); err != nil {
						return err
					}
				}
			}
			if next == 0 {
				break
			}
			cursor = next
			if err := ctx.Err(); err != nil {
				return opError(ctx, "scan", s.addr, err)
			}
		}
	}
	return nil
}

// keyArgs returns the Redis keys of keys as command arguments, all sliced
// from one buffer.
func (s *Store) keyArgs(keys [][]byte) []any {
	size := 0
	for _, k := range keys {
		size += s.layout.overhead() + len(k)
	}
	buf := make([]byte, 0, size)
	args := make([]any, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = s.layout.appendKey(buf, k)
		args[i] = buf[start:len(buf):len(buf)]
	}
	return args
}

// mget reads the Redis keys rkeys and, once every reply is in, calls
// fn(i, value) for every one present. value aliases go-redis's reply.
func (s *Store) mget(ctx context.Context, rkeys []any, fn func(i int, value string)) error {
	for lo := 0; lo < len(rkeys); lo += maxBatch {
		hi := min(lo+maxBatch, len(rkeys))
		if s.single != nil {
			args := make([]any, 0, 1+hi-lo)
			args = append(args, "mget")
			args = append(args, rkeys[lo:hi]...)
			cmd := goredis.NewSliceCmd(ctx, args...)
			if err := s.single.Process(ctx, cmd); err != nil {
				return err
			}
			for j, v := range cmd.Val() {
				if str, ok := v.(string); ok {
					fn(lo+j, str)
				}
			}
			continue
		}
		cmds := make([]*goredis.StringCmd, hi-lo)
		pipe := s.cluster.Pipeline()
		for j := range cmds {
			cmd := goredis.NewStringCmd(ctx, "get", rkeys[lo+j])
			cmd.SetFirstKeyPos(1)
			cmds[j] = cmd
			_ = pipe.Process(ctx, cmd)
		}
		_, _ = pipe.Exec(ctx)
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && err != goredis.Nil {
				return err
			}
		}
		for j, cmd := range cmds {
			if cmd.Err() == nil {
				fn(lo+j, cmd.Val())
			}
		}
	}
	return nil
}

// pipeline sends cmds in pipelines of up to maxBatch commands and returns
// the first error of a command, leaving the rest unsent, unless it is
// goredis.Nil (a missing key) or one that ignore, when not nil, accepts:
// the caller then finds it in the command.
func (s *Store) pipeline(ctx context.Context, cmds []goredis.Cmder, ignore func(error) bool) error {
	for lo := 0; lo < len(cmds); lo += maxBatch {
		hi := min(lo+maxBatch, len(cmds))
		pipe := s.rdb.Pipeline()
		for _, cmd := range cmds[lo:hi] {
			_ = pipe.Process(ctx, cmd)
		}
		_, _ = pipe.Exec(ctx)
		for _, cmd := range cmds[lo:hi] {
			err := cmd.Err()
			if err != nil && err != goredis.Nil && (ignore == nil || !ignore(err)) {
				return err
			}
		}
	}
	return nil
}

// resize returns s with length n, every element zero.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// ttlMillis returns ttl in whole milliseconds, at least 1 for ttl > 0
// (PX 0 is an error), 0 for none.
func ttlMillis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return max(1, ttl.Milliseconds())
}

// sleepBackoff waits a random time that grows with attempt, up to 51.2ms,
// or until ctx ends.
func sleepBackoff(ctx context.Context, attempt int) error {
	ceiling := int64(50*time.Microsecond) << min(attempt, 10)
	t := time.NewTimer(time.Duration(rand.Int64N(ceiling)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// countHook counts the requests a go-redis client sends.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h countHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
