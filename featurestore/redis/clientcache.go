package redis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fstore/fstore/featurestore/internal/rowcache"
)

// DefaultClientCache is the client-side cache of a single node when the
// URL does not set client_cache: the embedded store's row cache size.
const DefaultClientCache = 128 << 20

// invalidateChannel is where Redis publishes invalidations to RESP2
// clients.
const invalidateChannel = "__redis__:invalidate"

// ClientCacheStats describes a Store's client-side cache.
type ClientCacheStats struct {
	// Size is the cache's budget in bytes; 0: the store has no cache.
	Size int64
	// Live reports whether the cache is in use now: the tracker is
	// connected and tracking.
	Live bool
	// Off, when not empty, is why the cache was turned off for good: Redis
	// refused to track (a Redis before 6, or an ACL without CLIENT).
	Off string
	// Entries is the number of cached keys, present and absent.
	Entries int
	// Hits and Misses count keys read from the cache and from Redis while
	// it was live; Invalidations the keys Redis invalidated, Flushes the
	// times the whole cache was dropped (a FLUSHDB, a lost tracker).
	Hits, Misses, Invalidations, Flushes int64
	// Connects counts the tracker's successful connections: 1 after Open,
	// one more per reconnection.
	Connects int64
}

// clientCache is a Store's client-side cache and the tracker that keeps
// it coherent.
type clientCache struct {
	rows   *rowcache.Cache
	size   int64
	cfg    *Config
	t      Timeouts
	prefix []byte

	live atomic.Bool
	off  atomic.Pointer[string]

	hits, misses, invalidations, flushes, connects atomic.Int64

	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	conn net.Conn // the tracker's current connection, for Close
}

// newClientCache connects the tracker (within t.Dial) and starts keeping
// the cache coherent. A Redis that refuses to track gives a cache that is
// off, not an error; a Redis that cannot be reached is an error.
func newClientCache(cfg *Config, t Timeouts) (*clientCache, error) {
	c := &clientCache{
		rows:   rowcache.New(cfg.ClientCache),
		size:   cfg.ClientCache,
		cfg:    cfg,
		t:      t,
		prefix: []byte(cfg.Prefix),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	conn, r, err := c.connect()
	var refused refusedError
	switch {
	case errors.As(err, &refused):
		msg := refused.Error()
		c.off.Store(&msg)
		close(c.done)
		return c, nil
	case err != nil:
		return nil, err
	}
	c.goLive(conn)
	go c.run(conn, r)
	return c, nil
}

// refusedError is Redis's error reply to the tracker's handshake.
type refusedError struct{ msg string }

func (e refusedError) Error() string {
	return "redis refused client-side caching: " + e.msg
}

// connect dials the tracker's connection and turns tracking on.
func (c *clientCache) connect() (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: c.t.Dial}
	conn, err := d.Dial("tcp", c.cfg.Addrs[0])
	if err != nil {
		return nil, nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(c.t.Dial)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	r := bufio.NewReaderSize(conn, 16<<10)
	fail := func(err error) (net.Conn, *bufio.Reader, error) {
		conn.Close()
		return nil, nil, err
	}
	if c.cfg.Password != "" {
		args := []string{"AUTH", c.cfg.Password}
		if c.cfg.Username != "" {
			args = []string{"AUTH", c.cfg.Username, c.cfg.Password}
		}
		if _, err := command(conn, r, args...); err != nil {
			return fail(err)
		}
	}
	idLine, err := command(conn, r, "CLIENT", "ID")
	if err != nil {
		return fail(err)
	}
	if len(idLine) < 2 || idLine[0] != ':' {
		return fail(fmt.Errorf("%w: CLIENT ID answered %q", errBadReply, clip(idLine)))
	}
	tracking := []string{"CLIENT", "TRACKING", "ON", "REDIRECT", string(idLine[1:]), "BCAST"}
	if len(c.prefix) > 0 {
		tracking = append(tracking, "PREFIX", string(c.prefix))
	}
	if _, err := command(conn, r, tracking...); err != nil {
		return fail(err)
	}
	if err := writeCommand(conn, "SUBSCRIBE", invalidateChannel); err != nil {
		return fail(err)
	}
	if err := expectSubscribed(r); err != nil {
		return fail(err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return conn, r, nil
}

// command sends args and reads a one-line reply: a simple string or an
// integer. An error reply is a refusedError.
func command(conn net.Conn, r *bufio.Reader, args ...string) ([]byte, error) {
	if err := writeCommand(conn, args...); err != nil {
		return nil, err
	}
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '-':
		return nil, refusedError{msg: string(line[1:])}
	case '+', ':':
		return line, nil
	}
	return nil, fmt.Errorf("%w: %s answered %q", errBadReply, args[0], clip(line))
}

func writeCommand(conn net.Conn, args ...string) error {
	b := strconv.AppendInt(append(make([]byte, 0, 128), '*'), int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = strconv.AppendInt(append(b, '$'), int64(len(a)), 10)
		b = append(append(append(b, "\r\n"...), a...), "\r\n"...)
	}
	_, err := conn.Write(b)
	return err
}

// readLine reads one RESP line, without its CRLF; never empty.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errBadReply, r.Size())
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q", errBadReply, clip(line))
	}
	return line[:len(line)-2], nil
}

// readBulk reads a bulk string of a push into buf; nil for a null one.
func readBulk(r *bufio.Reader, buf []byte) ([]byte, bool, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, false, err
	}
	if line[0] != '$' {
		return nil, false, fmt.Errorf("%w: %q where a bulk string was due", errBadReply, clip(line))
	}
	n, ok := respInt(line[1:])
	switch {
	case ok && n == -1:
		return buf, false, nil
	case !ok || n < 0 || n > 512<<20:
		return nil, false, fmt.Errorf("%w: bulk length %q", errBadReply, clip(line))
	}
	// Grown as the bytes arrive, not to the declared length: a bad length
	// costs an error, not its size in memory.
	buf = buf[:0]
	for len(buf) < n+2 {
		chunk := min(n+2-len(buf), 64<<10)
		buf = slices.Grow(buf, chunk)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, false, err
		}
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return nil, false, fmt.Errorf("%w: bulk string not ended by CRLF", errBadReply)
	}
	return buf[:n], true, nil
}

// expectSubscribed reads SUBSCRIBE's confirmation: *3 subscribe CHANNEL
// :COUNT.
func expectSubscribed(r *bufio.Reader) error {
	line, err := readLine(r)
	if err != nil {
		return err
	}
	if line[0] == '-' {
		return refusedError{msg: string(line[1:])}
	}
	if string(line) != "*3" {
		return fmt.Errorf("%w: SUBSCRIBE answered %q", errBadReply, clip(line))
	}
	kind, _, err := readBulk(r, nil)
	if err != nil {
		return err
	}
	if string(kind) != "subscribe" {
		return fmt.Errorf("%w: SUBSCRIBE answered a %q push", errBadReply, clip(kind))
	}
	if _, _, err := readBulk(r, nil); err != nil {
		return err
	}
	_, err = readLine(r)
	return err
}

// run keeps the tracker connected until Close: it listens on conn until it
// breaks, then reconnects.
func (c *clientCache) run(conn net.Conn, r *bufio.Reader) {
	defer close(c.done)
	backoff := 50 * time.Millisecond
	for {
		err := c.listen(conn, r)
		c.goDark()
		conn.Close()
		_ = err // the next connection's outcome is what matters
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(backoff):
			}
			var cerr error
			conn, r, cerr = c.connect()
			if cerr == nil {
				backoff = 50 * time.Millisecond
				break
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		select {
		case <-c.stop:
			conn.Close()
			return
		default:
		}
		c.goLive(conn)
	}
}

// goLive makes conn the tracker's connection and the cache usable. The
// flush comes after tracking is on: anything cached while it was off is
// gone, and reads that started while it was off cannot cache.
func (c *clientCache) goLive(conn net.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	c.flush()
	c.connects.Add(1)
	c.live.Store(true)
}

// goDark stops using the cache: first bypassed, then flushed, so that no
// read serves what no invalidation covers any more.
func (c *clientCache) goDark() {
	c.live.Store(false)
	c.flush()
}

func (c *clientCache) flush() {
	c.rows.Flush()
	c.flushes.Add(1)
}

// listen reads the tracker's connection until it fails or goes silent for
// Read, pinging every Read/4.
func (c *clientCache) listen(conn net.Conn, r *bufio.Reader) error {
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		tick := time.NewTicker(c.t.Read / 4)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			_ = conn.SetWriteDeadline(time.Now().Add(c.t.Write))
			if writeCommand(conn, "PING") != nil {
				conn.Close() // the reader fails now
				return
			}
		}
	}()
	var buf []byte
	for {
		if err := conn.SetReadDeadline(time.Now().Add(c.t.Read)); err != nil {
			return err
		}
		var err error
		if buf, err = c.readPush(r, buf); err != nil {
			return err
		}
	}
}

// readPush reads one push from the tracker's connection and acts on it:
// an invalidation, a pong (the connection lives), a subscription.
func (c *clientCache) readPush(r *bufio.Reader, buf []byte) ([]byte, error) {
	line, err := readLine(r)
	if err != nil {
		return buf, err
	}
	n, ok := respInt(line[1:])
	if line[0] != '*' || !ok || n < 2 || n > 3 {
		return buf, fmt.Errorf("%w: tracker got %q", errBadReply, clip(line))
	}
	kind, _, err := readBulk(r, buf)
	if err != nil {
		return buf, err
	}
	switch {
	case n == 2 && string(kind) == "pong":
		buf, _, err = readBulk(r, kind)
		return buf, err
	case n == 3 && string(kind) == "message":
		if buf, _, err = readBulk(r, kind); err != nil { // the channel
			return buf, err
		}
		return c.readInvalidation(r, buf)
	case n == 3 && (string(kind) == "subscribe" || string(kind) == "unsubscribe"):
		if buf, _, err = readBulk(r, kind); err != nil {
			return buf, err
		}
		_, err = readLine(r)
		return buf, err
	}
	return buf, fmt.Errorf("%w: tracker got a %q push", errBadReply, clip(kind))
}

// readInvalidation reads an invalidation's payload: the keys to drop, or
// null for all of them.
func (c *clientCache) readInvalidation(r *bufio.Reader, buf []byte) ([]byte, error) {
	line, err := readLine(r)
	if err != nil {
		return buf, err
	}
	n, ok := respInt(line[1:])
	switch {
	case line[0] != '*' || !ok || n < -1:
		return buf, fmt.Errorf("%w: invalidation payload %q", errBadReply, clip(line))
	case n == -1: // FLUSHDB, FLUSHALL
		c.flush()
		return buf, nil
	}
	for range n {
		var key []byte
		if key, _, err = readBulk(r, buf); err != nil {
			return buf, err
		}
		buf = key
		if k, ok := bytes.CutPrefix(key, c.prefix); ok {
			c.rows.Invalidate(k)
			c.invalidations.Add(1)
		}
	}
	return buf, nil
}

// invalidate drops keys this process wrote.
func (c *clientCache) invalidate(keys [][]byte) {
	for _, k := range keys {
		c.rows.Invalidate(k)
	}
}

// close stops the tracker.
func (c *clientCache) close() {
	select {
	case <-c.done: // off from the start
		return
	default:
	}
	close(c.stop)
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
	c.goDark()
}

func (c *clientCache) stats() ClientCacheStats {
	st := ClientCacheStats{
		Size:          c.size,
		Live:          c.live.Load(),
		Entries:       c.rows.Len(),
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Invalidations: c.invalidations.Load(),
		Flushes:       c.flushes.Load(),
		Connects:      c.connects.Load(),
	}
	if off := c.off.Load(); off != nil {
		st.Off = *off
	}
	return st
}

// ClientCache describes the store's client-side cache (Size 0: none).
func (s *Store) ClientCache() ClientCacheStats {
	if s.cc == nil {
		return ClientCacheStats{}
	}
	return s.cc.stats()
}

// Cached values are framed with their expiry: 8 bytes, little-endian Unix
// nanoseconds (0: none), then the value. An absent key is cached empty.
const expiryBytes = 8

// getCached is a single node's Get through the client-side cache: hits
// are served from it; the misses are read with one pipeline, an MGET and
// a PTTL per key, and cached.
func (s *Store) getCached(ctx context.Context, keys [][]byte, fn func(i int, value []byte)) error {
	g := takeGetScratch()
	defer g.release()
	c := s.cc
	now := time.Now().UnixNano()
	g.miss, g.gens = g.miss[:0], g.gens[:0]
	for i, k := range keys {
		v, ok, gen := c.rows.Get(k)
		if ok {
			if len(v) == 0 {
				continue // known absent
			}
			if exp := int64(binary.LittleEndian.Uint64(v)); exp == 0 || now < exp {
				fn(i, v[expiryBytes:])
				continue
			}
		}
		g.miss = append(g.miss, int32(i))
		g.gens = append(g.gens, gen)
	}
	c.hits.Add(int64(len(keys) - len(g.miss)))
	if len(g.miss) == 0 {
		return nil
	}
	c.misses.Add(int64(len(g.miss)))
	g.buildKeys(s, keys, g.miss)
	for lo := 0; lo < len(g.miss); lo += maxBatch / 2 {
		hi := min(lo+maxBatch/2, len(g.miss))
		if err := s.readMisses(ctx, g, keys, lo, hi, fn); err != nil {
			return err
		}
	}
	return nil
}

// buildKeys sets g.keys to the Redis keys of keys[idx[j]] (every key when
// idx is nil), as strings aliasing g.keyBuf.
func (g *getScratch) buildKeys(s *Store, keys [][]byte, idx []int32) {
	n := len(keys)
	if idx != nil {
		n = len(idx)
	}
	size := n * s.layout.overhead()
	for j := range n {
		size += len(keys[at(idx, j)])
	}
	if cap(g.keyBuf) < size {
		g.keyBuf = make([]byte, 0, size)
	}
	buf := g.keyBuf[:0]
	g.keys = g.keys[:0]
	for j := range n {
		start := len(buf)
		buf = s.layout.appendKey(buf, keys[at(idx, j)]) // never grows: sized above
		g.keys = append(g.keys, unsafe.String(unsafe.SliceData(buf[start:]), len(buf)-start))
	}
	g.keyBuf = buf
}

// at returns idx[j], or j when idx is nil.
func at(idx []int32, j int) int {
	if idx == nil {
		return j
	}
	return int(idx[j])
}

// readMisses reads g.miss[lo:hi] with one pipeline (MGET, then PTTL of
// each), serves what it found and caches it. The pipeline is sent again
// once after a network error that is not a timeout, as getSingle's MGET.
func (s *Store) readMisses(ctx context.Context, g *getScratch, keys [][]byte, lo, hi int, fn func(i int, value []byte)) error {
	g.mgetArgs(lo, hi)
	var sent time.Time
	err := sendRetrying(ctx, func() error {
		g.reply.Reset()
		g.ttls.Reset()
		sent = time.Now()
		_, err := s.single.Pipelined(ctx, func(p goredis.Pipeliner) error {
			_ = p.Process(ctx, goredis.NewRawWriteToCmd(ctx, &g.reply, g.args...))
			for j := lo; j < hi; j++ {
				_ = p.Process(ctx, goredis.NewRawWriteToCmd(ctx, &g.ttls, "pttl", &g.keys[j]))
			}
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	g.ttlVals = resize(g.ttlVals, hi-lo)
	if err := parseInts(g.ttls.Bytes(), g.ttlVals); err != nil {
		return err
	}
	g.found = resize(g.found, hi-lo)
	err = parseMGet(g.reply.Bytes(), hi-lo, 0, func(j int, v []byte) {
		i := int(g.miss[lo+j])
		g.found[j] = true
		fn(i, v)
		var exp int64
		switch ttl := g.ttlVals[j]; {
		case ttl == -2:
			return // gone since the MGET: not cached
		case ttl >= 0:
			exp = sent.Add(time.Duration(ttl) * time.Millisecond).UnixNano()
		}
		g.frame = binary.LittleEndian.AppendUint64(g.frame[:0], uint64(exp))
		g.frame = append(g.frame, v...)
		s.cc.rows.Put(keys[i], g.frame, g.gens[lo+j])
	})
	if err != nil {
		return err
	}
	for j, found := range g.found {
		if !found {
			s.cc.rows.Put(keys[g.miss[lo+j]], nil, g.gens[lo+j])
		}
	}
	return nil
}

// parseInts parses len(out) integer replies in a row (PTTLs) into out.
func parseInts(b []byte, out []int64) error {
	for j := range out {
		line, rest, err := respLine(b)
		if err != nil {
			return err
		}
		if line[0] == '-' {
			return replyError(line[1:])
		}
		v, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if line[0] != ':' || err != nil {
			return fmt.Errorf("%w: PTTL answered %q", errBadReply, clip(line))
		}
		out[j], b = v, rest
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the PTTL replies", errBadReply, len(b))
	}
	return nil
}
