package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fstore/fstore/featurestore"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest and must arrange for the store to be closed
// (t.Cleanup) when it is not shared; it may return the same store every
// time.
func Run(t *testing.T, open func(t *testing.T) featurestore.OnlineStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s featurestore.OnlineStore, ns namespace)
	}{
		{"EmptyBatches", testEmptyBatches},
		{"GetMixed", testGetMixed},
		{"BinaryKeys", testBinaryKeys},
		{"LargeBatch", testLargeBatch},
		{"PutOverwrite", testPutOverwrite},
		{"PutTTL", testPutTTL},
		{"Update", testUpdate},
		{"UpdateAppendsToOld", testUpdateAppendsToOld},
		{"UpdateFnError", testUpdateFnError},
		{"UpdateTTL", testUpdateTTL},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"UpdateHotKey", testUpdateHotKey},
		{"Delete", testDelete},
		{"Scan", testScan},
		{"ScanGlobPrefix", testScanGlobPrefix},
		{"ScanStop", testScanStop},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t), newNamespace())
		})
	}
}

// namespace makes keys under a random view id, so subtests sharing a
// store do not see each other's keys.
type namespace struct{ view uint32 }

func newNamespace() namespace { return namespace{view: rand.Uint32()} }

// key returns tag, the view id and entity: the layout of
// featurestore/encoding's keys.
func (ns namespace) key(tag byte, entity ...byte) []byte {
	k := append([]byte{tag}, binary.BigEndian.AppendUint32(nil, ns.view)...)
	return append(k, entity...)
}

// base is the 5-byte prefix of every entity key of the namespace.
func (ns namespace) base() []byte { return ns.key('e') }

// entityKeys returns n keys of the namespace with entities "prefix" and a
// big-endian counter.
func (ns namespace) entityKeys(n int, prefix string) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = ns.key('e', binary.BigEndian.AppendUint64([]byte(prefix), uint64(i))...)
	}
	return keys
}

// values returns one value per key, distinct and never empty.
func values(keys [][]byte, tag string) [][]byte {
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = append([]byte(tag+":"), k...)
	}
	return vals
}

func put(t *testing.T, s featurestore.OnlineStore, keys, vals [][]byte, ttl time.Duration) {
	t.Helper()
	if err := s.Put(context.Background(), keys, vals, ttl); err != nil {
		t.Fatalf("Put of %d keys: %v", len(keys), err)
	}
}

// get returns the values Get reports, by index, copied, and fails on an
// index out of range or reported twice.
func get(t *testing.T, s featurestore.OnlineStore, keys [][]byte) map[int][]byte {
	t.Helper()
	got := make(map[int][]byte)
	var bad []string
	err := s.Get(context.Background(), keys, func(i int, v []byte) {
		if i < 0 || i >= len(keys) {
			bad = append(bad, fmt.Sprintf("index %d out of range [0,%d)", i, len(keys)))
			return
		}
		if _, dup := got[i]; dup {
			bad = append(bad, fmt.Sprintf("index %d reported twice", i))
		}
		got[i] = bytes.Clone(v)
	})
	if err != nil {
		t.Fatalf("Get of %d keys: %v", len(keys), err)
	}
	if len(bad) > 0 {
		t.Fatalf("Get of %d keys: %v", len(keys), bad)
	}
	return got
}

// wantGet checks Get of keys reports exactly want (index → value).
func wantGet(t *testing.T, s featurestore.OnlineStore, keys [][]byte, want map[int][]byte) {
	t.Helper()
	got := get(t, s, keys)
	for i, w := range want {
		g, ok := got[i]
		switch {
		case !ok:
			t.Errorf("Get: keys[%d] %x: absent, want %q", i, keys[i], w)
		case !bytes.Equal(g, w):
			t.Errorf("Get: keys[%d] %x = %q, want %q", i, keys[i], g, w)
		}
	}
	for i, g := range got {
		if _, ok := want[i]; !ok {
			t.Errorf("Get: keys[%d] %x = %q, want absent", i, keys[i], g)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// scan returns what Scan reports, copied. A key reported twice with the
// same value is logged, not failed: Redis SCAN may repeat a key while its
// hash table is resized.
func scan(t *testing.T, s featurestore.OnlineStore, prefix []byte) map[string][]byte {
	t.Helper()
	got := make(map[string][]byte)
	err := s.Scan(context.Background(), prefix, func(k, v []byte) error {
		if !bytes.HasPrefix(k, prefix) {
			t.Errorf("Scan(%x) reported key %x without the prefix", prefix, k)
		}
		if old, dup := got[string(k)]; dup {
			if !bytes.Equal(old, v) {
				t.Errorf("Scan(%x) reported key %x twice, with %q and %q", prefix, k, old, v)
			}
			t.Logf("Scan(%x) reported key %x twice", prefix, k)
		}
		got[string(k)] = bytes.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%x): %v", prefix, err)
	}
	return got
}

// wantScan checks Scan(prefix) reports exactly want.
func wantScan(t *testing.T, s featurestore.OnlineStore, prefix []byte, want map[string][]byte) {
	t.Helper()
	got := scan(t, s, prefix)
	var missing, extra []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			missing = append(missing, fmt.Sprintf("%x", k))
		} else if !bytes.Equal(g, w) {
			t.Errorf("Scan(%x): key %x = %q, want %q", prefix, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%x", k))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("Scan(%x): missing %v, unexpected %v", prefix, missing, extra)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// withPrefix returns the keys starting with prefix and their values.
func withPrefix(keys, vals [][]byte, prefix []byte) map[string][]byte {
	m := map[string][]byte{}
	for i, k := range keys {
		if bytes.HasPrefix(k, prefix) {
			m[string(k)] = vals[i]
		}
	}
	return m
}

func asMap(keys, vals [][]byte) map[string][]byte {
	m := make(map[string][]byte, len(keys))
	for i, k := range keys {
		m[string(k)] = vals[i]
	}
	return m
}

func testEmptyBatches(t *testing.T, s featurestore.OnlineStore, _ namespace) {
	ctx := context.Background()
	if err := s.Get(ctx, nil, func(i int, _ []byte) { t.Errorf("Get(nil) called fn(%d)", i) }); err != nil {
		t.Errorf("Get(nil): %v", err)
	}
	if err := s.Put(ctx, nil, nil, 0); err != nil {
		t.Errorf("Put(nil): %v", err)
	}
	if err := s.Delete(ctx, nil); err != nil {
		t.Errorf("Delete(nil): %v", err)
	}
	err := s.Update(ctx, nil, 0, func(i int, _ []byte) ([]byte, error) {
		t.Errorf("Update(nil) called fn(%d)", i)
		return nil, nil
	})
	if err != nil {
		t.Errorf("Update(nil): %v", err)
	}
}

func testGetMixed(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	present := ns.entityKeys(10, "p")
	vals := values(present, "v")
	put(t, s, present, vals, 0)
	absent := ns.entityKeys(10, "a")

	// Interleave present and absent keys, and ask for one key twice.
	var keys [][]byte
	want := map[int][]byte{}
	for i := range present {
		want[len(keys)] = vals[i]
		keys = append(keys, present[i], absent[i])
	}
	want[len(keys)] = vals[3]
	keys = append(keys, present[3])
	wantGet(t, s, keys, want)

	wantGet(t, s, absent, map[int][]byte{})
	wantGet(t, s, present[4:5], map[int][]byte{0: vals[4]})
}

func testBinaryKeys(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	entities := [][]byte{
		{}, {0x00}, {0xff}, {0x00, 0x00}, []byte("{"), []byte("}"), []byte("{x}"), []byte("}{"),
		[]byte("*"), []byte("?"), []byte("["), []byte("]"), []byte("[a-z]"), []byte(`\`), []byte(`\*`),
		{0x00, 0xff, '{', '}', '*', '?', '[', ']', '\\', 0x01, 0xfe},
	}
	var keys [][]byte
	for _, e := range entities {
		keys = append(keys, ns.key('e', e...))
	}
	keys = append(keys, ns.key('m')) // per-view metadata: the 5-byte prefix alone
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = append([]byte{0x00, 0xff, '{', '}', byte(i)}, k...)
	}
	// Keys shorter than a view prefix: random, so no other subtest has them.
	var short [][]byte
	for n := 1; n <= 4; n++ {
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(rand.Uint32())
		}
		short = append(short, k)
	}
	all := append(slices.Clone(keys), short...)
	allVals := append(slices.Clone(vals), values(short, "short")...)
	put(t, s, all, allVals, 0)

	want := map[int][]byte{}
	for i, v := range allVals {
		want[i] = v
	}
	wantGet(t, s, all, want)

	entityKeys, entityVals := keys[:len(entities)], vals[:len(entities)]
	wantScan(t, s, ns.base(), asMap(entityKeys, entityVals))
	wantScan(t, s, ns.key('m'), map[string][]byte{string(ns.key('m')): vals[len(vals)-1]})
	for _, k := range entityKeys {
		wantScan(t, s, k, withPrefix(entityKeys, entityVals, k))
	}

	if err := s.Delete(context.Background(), all); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantGet(t, s, all, map[int][]byte{})
}

func testLargeBatch(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	const n = 20_000
	keys := ns.entityKeys(n, "")
	vals := values(keys, "large")
	put(t, s, keys, vals, 0)

	want := make(map[int][]byte, n)
	for i, v := range vals {
		want[i] = v
	}
	wantGet(t, s, keys, want)

	// Every other key absent, in reverse order.
	mixed := make([][]byte, 0, n)
	wantMixed := make(map[int][]byte, n/2)
	absent := ns.entityKeys(n, "x")
	for i := n - 1; i >= 0; i-- {
		if i%2 == 0 {
			wantMixed[len(mixed)] = vals[i]
			mixed = append(mixed, keys[i])
		} else {
			mixed = append(mixed, absent[i])
		}
	}
	wantGet(t, s, mixed, wantMixed)

	if err := s.Delete(context.Background(), keys); err != nil {
		t.Fatalf("Delete of %d keys: %v", n, err)
	}
	wantGet(t, s, keys, map[int][]byte{})
}

func testPutOverwrite(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(5, "o")
	put(t, s, keys, values(keys, "v1"), 0)
	v2 := values(keys[:3], "v2")
	put(t, s, keys[:3], v2, 0)
	v1 := values(keys, "v1")
	wantGet(t, s, keys, map[int][]byte{0: v2[0], 1: v2[1], 2: v2[2], 3: v1[3], 4: v1[4]})
}

// ttl is short enough for a test and long enough that a read right after
// the write is almost always within it.
const ttl = 300 * time.Millisecond

// expireDeadline bounds the wait for a key to expire: generous, as a
// loaded machine may run the store's expiry late.
const expireDeadline = 10 * time.Second

// checkFresh checks keys[i] was present right after a write with ttl at
// start: a failure only if the read was within the ttl.
func checkFresh(t *testing.T, got map[int][]byte, i int, start time.Time) {
	t.Helper()
	if _, ok := got[i]; ok {
		return
	}
	if elapsed := time.Since(start); elapsed < ttl {
		t.Fatalf("key written with ttl %v absent %v after the write", ttl, elapsed)
	} else {
		t.Logf("key written with ttl %v absent %v after the write: the check is inconclusive on a machine this slow", ttl, elapsed)
	}
}

// waitAbsent polls until key is absent, failing after expireDeadline.
func waitAbsent(t *testing.T, s featurestore.OnlineStore, key []byte) {
	t.Helper()
	deadline := time.Now().Add(expireDeadline)
	for {
		if len(get(t, s, [][]byte{key})) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key written with ttl %v still present after %v", ttl, expireDeadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testPutTTL(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(2, "t")
	vals := values(keys, "v")
	start := time.Now()
	put(t, s, keys[:1], vals[:1], ttl)
	put(t, s, keys[1:], vals[1:], 0)
	checkFresh(t, get(t, s, keys), 0, start)
	waitAbsent(t, s, keys[0])
	wantGet(t, s, keys, map[int][]byte{1: vals[1]})
}

func testUpdate(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	ctx := context.Background()
	keys := ns.entityKeys(3, "u") // 0: absent → new; 1: modified; 2: kept
	old := values(keys[1:], "old")
	put(t, s, keys[1:], old, 0)

	called := make([]int, len(keys))
	err := s.Update(ctx, keys, 0, func(i int, v []byte) ([]byte, error) {
		called[i]++
		switch i {
		case 0:
			if v != nil {
				t.Errorf("Update: absent keys[0] got old %q, want nil", v)
			}
			return []byte("new"), nil
		case 1:
			if !bytes.Equal(v, old[0]) {
				t.Errorf("Update: keys[1] got old %q, want %q", v, old[0])
			}
			return append(bytes.Clone(v), "+1"...), nil
		case 2:
			if !bytes.Equal(v, old[1]) {
				t.Errorf("Update: keys[2] got old %q, want %q", v, old[1])
			}
			return nil, nil
		}
		t.Errorf("Update: fn called with index %d", i)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	for i, n := range called {
		if n != 1 {
			t.Errorf("Update: fn called %d times for keys[%d], want once (no other writer)", n, i)
		}
	}
	wantGet(t, s, keys, map[int][]byte{
		0: []byte("new"),
		1: append(bytes.Clone(old[0]), "+1"...),
		2: old[1],
	})
}

// testUpdateAppendsToOld checks a fn may build its new value from old's
// memory: appending to it or changing it in place must not disturb another
// key's value.
func testUpdateAppendsToOld(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(8, "ao")
	vals := values(keys, "v")
	put(t, s, keys, vals, 0)
	err := s.Update(context.Background(), keys, 0, func(i int, old []byte) ([]byte, error) {
		if i%2 == 0 {
			return append(old, '+'), nil
		}
		old[0] = 'V'
		return old, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := map[int][]byte{}
	for i, v := range vals {
		if i%2 == 0 {
			want[i] = append(bytes.Clone(v), '+')
		} else {
			want[i] = append([]byte{'V'}, v[1:]...)
		}
	}
	wantGet(t, s, keys, want)
}

func testUpdateFnError(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(5, "e")
	put(t, s, keys[:2], values(keys[:2], "v"), 0)
	errStop := errors.New("storetest: stop")
	calls, afterErr := 0, false
	err := s.Update(context.Background(), keys, 0, func(i int, _ []byte) ([]byte, error) {
		if afterErr {
			t.Errorf("Update called fn(%d) after fn returned an error", i)
		}
		calls++
		if calls == 2 {
			afterErr = true
			return nil, errStop
		}
		return []byte("x"), nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Update with fn failing = %v, want fn's error", err)
	}
}

func testUpdateTTL(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(1, "ut")
	start := time.Now()
	err := s.Update(context.Background(), keys, ttl, func(int, []byte) ([]byte, error) {
		return []byte("v"), nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkFresh(t, get(t, s, keys), 0, start)
	waitAbsent(t, s, keys[0])
}

func testUpdateConcurrent(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	concurrentIncrements(t, s, ns.entityKeys(16, "c"), 8, 200)
}

// testUpdateHotKey has more writers, all on one key (a view's push
// watermark is one).
func testUpdateHotKey(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	concurrentIncrements(t, s, ns.entityKeys(1, "hot"), 32, 25)
}

// concurrentIncrements runs writers goroutines, each incrementing a counter
// in every key rounds times with Update, and checks no increment is lost.
func concurrentIncrements(t *testing.T, s featurestore.OnlineStore, keys [][]byte, writers, rounds int) {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range rounds {
				err := s.Update(context.Background(), keys, 0, func(_ int, old []byte) ([]byte, error) {
					var n uint64
					if old != nil {
						if len(old) != 8 {
							return nil, fmt.Errorf("counter of %d bytes", len(old))
						}
						n = binary.BigEndian.Uint64(old)
					}
					return binary.BigEndian.AppendUint64(nil, n+1), nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	got := get(t, s, keys)
	for i := range keys {
		if n := binary.BigEndian.Uint64(got[i]); n != uint64(writers*rounds) {
			t.Errorf("counter keys[%d] = %d, want %d", i, n, writers*rounds)
		}
	}
}

func testDelete(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(10, "d")
	vals := values(keys, "v")
	put(t, s, keys, vals, 0)
	del := append(slices.Clone(keys[:5]), ns.entityKeys(3, "never")...)
	if err := s.Delete(context.Background(), del); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := map[int][]byte{}
	for i := 5; i < 10; i++ {
		want[i] = vals[i]
	}
	wantGet(t, s, keys, want)
}

func testScan(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	base := ns.base()
	prefix := ns.key('e', 'a', 'b')
	in := [][]byte{
		prefix, // a key equal to the prefix starts with it
		ns.key('e', 'a', 'b', 'c'),
		ns.key('e', 'a', 'b', 0x00),
		ns.key('e', 'a', 'b', 0xff, 0xff),
	}
	out := [][]byte{
		ns.key('e', 'a'), // a shorter prefix of prefix
		ns.key('e', 'a', 'c'),
		ns.key('e', 'b'),
		ns.key('e'),
		ns.key('m'),
		namespace{view: ns.view + 1}.key('e', 'a', 'b'),
	}
	all := append(slices.Clone(in), out...)
	vals := values(all, "s")
	put(t, s, all, vals, 0)
	t.Cleanup(func() { _ = s.Delete(context.Background(), all) })

	wantScan(t, s, prefix, asMap(in, vals[:len(in)]))
	wantScan(t, s, base, withPrefix(all, vals, base))
	wantScan(t, s, ns.key('e', 'a'), withPrefix(all, vals, ns.key('e', 'a')))
	wantScan(t, s, ns.key('e', 'z'), map[string][]byte{})
}

func testScanGlobPrefix(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	glob := []byte(`*?[]\{}`)
	prefix := ns.key('e', glob...)
	in := [][]byte{
		prefix,
		append(slices.Clone(prefix), '1'),
		append(slices.Clone(prefix), '*'),
	}
	out := [][]byte{
		ns.key('e', []byte(`x?[]\{}1`)...), // matches if '*' were a wildcard
		ns.key('e', []byte(`*x[]\{}1`)...), // matches if '?' were a wildcard
		ns.key('e', []byte(`*?`)...),
		ns.key('e', []byte(`*?[]`)...),
		ns.key('e', []byte(`*?[]\`)...),
		ns.key('e', []byte(`*?[]\{`)...),
		ns.key('e', 'a'),
	}
	all := append(slices.Clone(in), out...)
	vals := values(all, "g")
	put(t, s, all, vals, 0)
	t.Cleanup(func() { _ = s.Delete(context.Background(), all) })

	wantScan(t, s, prefix, asMap(in, vals[:len(in)]))
	for _, p := range out {
		wantScan(t, s, p, withPrefix(all, vals, p))
	}
}

func testScanStop(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(10, "st")
	put(t, s, keys, values(keys, "v"), 0)
	errStop := errors.New("storetest: stop")
	calls := 0
	err := s.Scan(context.Background(), ns.base(), func([]byte, []byte) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Scan with fn failing = %v, want fn's error", err)
	}
	if calls != 1 {
		t.Fatalf("Scan called fn %d times, want 1: an error stops it", calls)
	}
}

func testCancelledContext(t *testing.T, s featurestore.OnlineStore, ns namespace) {
	keys := ns.entityKeys(3, "cc")
	put(t, s, keys, values(keys, "v"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	check("Get", s.Get(ctx, keys, func(i int, _ []byte) { t.Errorf("Get called fn(%d)", i) }))
	check("Put", s.Put(ctx, keys, values(keys, "w"), 0))
	check("Update", s.Update(ctx, keys, 0, func(i int, _ []byte) ([]byte, error) {
		t.Errorf("Update called fn(%d)", i)
		return nil, nil
	}))
	check("Delete", s.Delete(ctx, keys))
	check("Scan", s.Scan(ctx, ns.base(), func(k, _ []byte) error {
		t.Errorf("Scan called fn(%x)", k)
		return nil
	}))
	// Nothing was changed.
	wantGet(t, s, keys, asIndex(values(keys, "v")))
}

func asIndex(vals [][]byte) map[int][]byte {
	m := make(map[int][]byte, len(vals))
	for i, v := range vals {
		m[i] = v
	}
	return m
}
