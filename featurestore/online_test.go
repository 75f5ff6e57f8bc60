package featurestore_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/ddtest"
	"github.com/fstore/fstore/internal/redistest"
)

// storeKind is one kind of online store. setup starts what the kind
// needs (real redis-server processes) for the life of test t and returns
// a function that opens a fresh, empty store of that kind, namespaced so
// that stores opened on one server never see each other's keys.
type storeKind struct {
	name  string
	setup func(t *testing.T) func(t *testing.T) featurestore.OnlineStore
}

// onlineStores returns the stores every online-state test runs against:
// the embedded Pebble store, a Redis node and a 3-node Redis Cluster.
func onlineStores() []storeKind {
	pebbleKind := storeKind{"pebble", func(*testing.T) func(t *testing.T) featurestore.OnlineStore {
		return func(t *testing.T) featurestore.OnlineStore {
			st, err := featurestore.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st.Online()
		}
	}}
	redisKind := func(name string, start func(testing.TB) string) storeKind {
		return storeKind{name, func(t *testing.T) func(t *testing.T) featurestore.OnlineStore {
			url := start(t)
			n := 0
			return func(t *testing.T) featurestore.OnlineStore {
				n++
				sep := "?"
				if strings.Contains(url, "?") {
					sep = "&"
				}
				s, err := featurestore.OpenOnlineStore(fmt.Sprintf("%s%sprefix=t%d:", url, sep, n), nil, featurestore.StoreTimeouts{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}}
	}
	return []storeKind{
		pebbleKind,
		redisKind("redis", redistest.StartServer),
		redisKind("redis-cluster", func(t testing.TB) string { return redistest.StartCluster(t, 3) }),
	}
}

type srcRow struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,timestamp(microsecond),optional"`
	Created *int64   `parquet:"created,timestamp(microsecond),optional"`
	X       *float64 `parquet:"x,optional"`
}

// onlineCase is the state of one datadriven file run against one store.
type onlineCase struct {
	t      *testing.T
	open   func(t *testing.T) featurestore.OnlineStore
	dir    string
	files  int
	view   string // textproto of the view's extra fields
	push   bool
	store  featurestore.OnlineStore
	ov     *featurestore.OnlineView
	noHist bool
}

// TestOnlineDataDriven runs testdata/online against every store; the
// expected output is the same for all of them. Commands:
//
//	view [ttl=D] [window=D hop=D] [push] [no-history]
//	    a fresh store and view v of entity k (INT64): feature x (DOUBLE),
//	    and with window SUM(x) "sum_x" and COUNT "n". push: the view reads
//	    push source ps whose history is source s (none with no-history).
//	source
//	    rows "k ts created x" of one more history file ("-" for null)
//	materialize [end=T] [start=T] [full] [key-ttl=D]
//	read t=T
//	    keys, one per line ("-" for null); prints each output's value,
//	    status and the entity's event time
//	push
//	    events "k ts created x", or JSON lines when the first is "{"
//	watermark
//	wait-expired k=K
//	    polls until entity K reads NOT_FOUND (its key expired)
//
// Times are h:mm[:ss] after the epoch ("-" prefix: before it).
func TestOnlineDataDriven(t *testing.T) {
	for _, kind := range onlineStores() {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			datadriven.Walk(t, "testdata/online", func(t *testing.T, path string) {
				c := &onlineCase{t: t, open: open}
				datadriven.RunTest(t, path, c.run)
			})
		})
	}
}

func (c *onlineCase) run(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	switch d.Cmd {
	case "view":
		c.dir = t.TempDir()
		c.files = 0
		os.MkdirAll(filepath.Join(c.dir, "src"), 0o755)
		c.store = c.open(t)
		c.push = d.HasArg("push")
		c.noHist = d.HasArg("no-history")
		c.view = ` features { name: "x" type: DOUBLE }`
		if d.HasArg("ttl") {
			var ttl string
			d.ScanArgs(t, "ttl", &ttl)
			c.view += fmt.Sprintf(" ttl { seconds: %d }", clock(t, ttl)/1_000_000)
		}
		if d.HasArg("window") {
			var window, hop string
			d.ScanArgs(t, "window", &window)
			d.ScanArgs(t, "hop", &hop)
			w, h := clock(t, window)/1_000_000, clock(t, hop)/1_000_000
			c.view += fmt.Sprintf(` aggregations { name: "sum_x" function: SUM expr: "x" window { seconds: %d } hop { seconds: %d } }`, w, h)
			c.view += fmt.Sprintf(` aggregations { name: "n" function: COUNT window { seconds: %d } hop { seconds: %d } }`, w, h)
		}
		c.ov = nil
		return "ok\n"
	case "source":
		var rows []srcRow
		for _, line := range lines(d.Input) {
			f := strings.Fields(line)
			rows = append(rows, srcRow{K: optInt(t, f[0]), TS: optClock(t, f[1]), Created: optClock(t, f[2]), X: optFloat(t, f[3])})
		}
		path := filepath.Join(c.dir, "src", fmt.Sprintf("part-%d.parquet", c.files))
		if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(int64(1+len(rows)/2))); err != nil {
			t.Fatal(err)
		}
		c.files++
		return fmt.Sprintf("%d rows\n", len(rows))
	case "materialize":
		opts := featurestore.MaterializeOptions{Views: []string{"v"}, End: time.UnixMicro(0).Add(100 * time.Hour), Workers: 2, BatchSize: 2}
		for _, a := range d.CmdArgs {
			switch a.Key {
			case "end":
				opts.End = time.UnixMicro(clock(t, a.Vals[0]))
			case "start":
				opts.Start = time.UnixMicro(clock(t, a.Vals[0]))
			case "full":
				opts.Full = true
			case "key-ttl":
				dur, err := time.ParseDuration(a.Vals[0])
				if err != nil {
					t.Fatal(err)
				}
				opts.KeyTTL = dur
			default:
				t.Fatalf("unknown argument %s", a.Key)
			}
		}
		st, err := featurestore.Materialize(ctx, c.index(t), c.store, opts)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		s := st[0]
		return fmt.Sprintf("%s: events=%d entities=%d written=%d skipped=%d deleted=%d\n", s.Mode, s.Events, s.Entities, s.Written, s.Skipped, s.Deleted)
	case "read":
		var at string
		d.ScanArgs(t, "t", &at)
		return c.read(t, lines(d.Input), clock(t, at))
	case "push":
		ov := c.online(t)
		var batch *compute.Batch
		var err error
		in := strings.TrimSpace(d.Input)
		if strings.HasPrefix(in, "{") {
			batch, err = featurestore.DecodeJSONLines(strings.NewReader(in), ov)
		} else {
			b := featurestore.NewEventBuilder(ov.Push.Source)
			for _, line := range lines(in) {
				f := strings.Fields(line)
				b.AddRow()
				for i, v := range f {
					if v == "-" {
						continue
					}
					if i == 3 {
						b.SetDouble(i, *optFloat(t, v))
					} else if i == 0 {
						b.SetInt64(i, atoi(t, v))
					} else {
						b.SetInt64(i, clock(t, v))
					}
				}
			}
			batch = b.Batch()
		}
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		st, err := featurestore.Push(ctx, c.store, ov, batch, featurestore.PushOptions{BatchSize: 2})
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return fmt.Sprintf("events=%d applied=%d entities=%d\n", st.Events, st.Applied, st.Entities)
	case "watermark":
		w, err := featurestore.ReadWatermark(ctx, c.store, c.online(t))
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		through := "never"
		if w.Materialized() {
			through = timeCell(w.Through)
		}
		pushed := "nothing"
		if w.Pushed > 0 {
			pushed = fmt.Sprintf("%d events, latest %s", w.Pushed, timeCell(w.LastPushEvent))
		}
		return fmt.Sprintf("materialized through %s; pushed %s\n", through, pushed)
	case "wait-expired":
		var k string
		d.ScanArgs(t, "k", &k)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			out := c.read(t, []string{k}, 0)
			if strings.Contains(out, "NOT_FOUND") {
				return "expired\n"
			}
			time.Sleep(20 * time.Millisecond)
		}
		return "still there after 20s\n"
	}
	t.Fatalf("unknown command %s", d.Cmd)
	return ""
}

func (c *onlineCase) index(t *testing.T) *def.Index {
	t.Helper()
	var src string
	if c.push {
		src = `sources { name: "ps" push { ` + map[bool]string{false: `batch_source: "s"`, true: ""}[c.noHist] + ` }
  timestamp_column: "ts" created_timestamp_column: "created"
  schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "created" type: TIMESTAMP } schema { name: "x" type: DOUBLE } }
`
	}
	text := `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "s" parquet { path: "` + filepath.Join(c.dir, "src") + `" } timestamp_column: "ts" created_timestamp_column: "created" }
` + src + `feature_views { name: "v" entities: "e" source: "` + map[bool]string{false: "s", true: "ps"}[c.push] + `"` + c.view + " }\n"
	if c.noHist {
		text = strings.Replace(text, `sources { name: "s" parquet`, `sources { name: "s_unused" parquet`, 1)
	}
	p, err := registry.ParseText("defs", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return def.NewIndex(d)
}

func (c *onlineCase) online(t *testing.T) *featurestore.OnlineView {
	t.Helper()
	ix := c.index(t)
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("v"))
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

func (c *onlineCase) read(t *testing.T, keys []string, at int64) string {
	ov := c.online(t)
	var kc compute.Column
	kc.ResetBitmap(def.Int64, len(keys), false)
	for i, k := range keys {
		if k != "-" {
			kc.I64[i] = atoi(t, k)
			kc.Valid.Set(i)
		}
	}
	var r featurestore.ReadResult
	if err := featurestore.Read(context.Background(), c.store, ov, []*compute.Column{&kc}, len(keys), at, &r); err != nil {
		return "error: " + err.Error() + "\n"
	}
	// A read of one output finds what the full read found for it. Keys
	// that expire (key-ttl) can change between the two reads, once each:
	// a mismatch is read again, both ways, before it fails.
	var one, full featurestore.ReadResult
	for o, f := range ov.Outputs {
		want := make([]bool, len(ov.Outputs))
		want[o] = true
		var mismatch string
		for attempt := 0; attempt < 3; attempt++ {
			ref := &r
			if attempt > 0 {
				if err := featurestore.Read(context.Background(), c.store, ov, []*compute.Column{&kc}, len(keys), at, &full); err != nil {
					t.Fatal(err)
				}
				ref = &full
			}
			if err := featurestore.ReadOutputs(context.Background(), c.store, ov, want, []*compute.Column{&kc}, len(keys), at, &one); err != nil {
				t.Fatalf("read of %s alone: %v", f.Name, err)
			}
			mismatch = ""
			for i := range keys {
				got := fmt.Sprint(cell(one.Values[o].Value(i)), one.Status[o][i], one.EventTS[i])
				if want := fmt.Sprint(cell(ref.Values[o].Value(i)), ref.Status[o][i], ref.EventTS[i]); got != want {
					mismatch = fmt.Sprintf("entity %d: read of %s alone: %s, full read: %s", i, f.Name, got, want)
					break
				}
			}
			if mismatch == "" {
				break
			}
		}
		if mismatch != "" {
			t.Fatal(mismatch)
		}
		for p := range ov.Outputs {
			if p != o && one.Values[p].Len != 0 {
				t.Fatalf("read of %s alone filled %s", f.Name, ov.Outputs[p].Name)
			}
		}
	}
	var b strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&b, "%s:", k)
		for o, f := range ov.Outputs {
			if o > 0 {
				b.WriteString(" |")
			}
			fmt.Fprintf(&b, " %s=%s %s", f.Name, cell(r.Values[o].Value(i)), r.Status[o][i])
		}
		if r.EventTS[i] != 0 {
			fmt.Fprintf(&b, " @%s", timeCell(r.EventTS[i]))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func optInt(t testing.TB, s string) *int64 {
	if s == "-" {
		return nil
	}
	n := atoi(t, s)
	return &n
}

func optClock(t testing.TB, s string) *int64 {
	if s == "-" {
		return nil
	}
	n := clock(t, s)
	return &n
}

func optFloat(t testing.TB, s string) *float64 {
	if s == "-" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return &f
}

var (
	lines = ddtest.Lines
	atoi  = ddtest.Atoi
	clock = ddtest.Clock
)

func cell(v any) string {
	if ts, ok := v.(compute.Timestamp); ok {
		return timeCell(int64(ts))
	}
	return ddtest.Cell(v)
}

func timeCell(us int64) string {
	if us == math.MinInt64 {
		return "never"
	}
	return ddtest.TimeCell(us)
}
