package featurelog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/internal/pqschema"
)

// writer is the Logger's one background goroutine and everything it owns.
type writer struct {
	l    *Logger
	open map[string]*logFile // by schema signature
	seq  int
	// token names this writer's files apart from other processes' (and
	// Loggers') writing the same directory: replicas may share one.
	token string
	// tick counts writes; a file's used is the tick of its last write, so
	// the least recently used file is the one with the smallest.
	tick  uint64
	ready map[string]bool // service directories created and swept

	// retryAt is when to try writing again after an error; backoff grows
	// from 100 ms to 5 s while errors repeat.
	retryAt time.Time
	backoff time.Duration

	lastLog    time.Time
	suppressed int
}

func newWriter(l *Logger) *writer {
	return &writer{l: l, open: map[string]*logFile{}, ready: map[string]bool{},
		token: strconv.FormatUint(rand.Uint64()|1<<60, 36)[:8]}
}

func (w *writer) run() {
	defer close(w.l.done)
	t := time.NewTicker(tickEvery(w.l.opts.MaxFileAge))
	defer t.Stop()
	// The writer takes the queue every drainEvery instead of waiting on
	// it: a goroutine parked on the channel would be woken by every
	// Submit, which costs the request goroutine a scheduler handoff (a
	// few µs, 5% of a 100-entity request at 1% logging, measured).
	d := time.NewTicker(drainEvery)
	defer d.Stop()
	for {
		select {
		case <-d.C:
			w.drain()
		case <-t.C:
			w.publishOld()
		case reply := <-w.l.flushes:
			w.drain()
			w.publishAll()
			close(reply)
		case <-w.l.quit:
			w.drain()
			w.publishAll()
			return
		}
	}
}

// drain writes the batches already queued.
func (w *writer) drain() {
	for {
		select {
		case b := <-w.l.queue:
			w.write(b)
		default:
			return
		}
	}
}

// write writes one batch and releases it.
func (w *writer) write(b *Batch) {
	if w.l.hook != nil {
		w.l.hook()
	}
	n := int64(b.n)
	defer func() {
		w.l.queued.Add(-n)
		Release(b)
	}()
	now := w.l.opts.Now()
	w.publishOldAt(now)
	if now.Before(w.retryAt) {
		w.l.droppedWrite.Add(n)
		return
	}
	s := b.schema
	// One open file per schema: a service's own rows and a model's rows
	// on it, interleaved request by request, each go on filling their own
	// file; a new registry version starts new files, and the old
	// version's are published by age or when too many are open.
	f := w.open[s.sig]
	if f == nil {
		if len(w.open) >= w.l.opts.MaxOpenFiles {
			w.publish(w.leastRecentlyUsed())
		}
		var err error
		if f, err = w.create(s, now); err != nil {
			w.failed(err, n)
			return
		}
		w.open[s.sig] = f
	}
	w.tick++
	f.used = w.tick
	if err := f.append(b, w); err != nil {
		delete(w.open, s.sig)
		f.abort()
		w.failed(err, n+f.rows)
		return
	}
	w.backoff = 0
	if f.size() >= w.l.opts.MaxFileBytes {
		w.publish(f)
	}
}

// failed counts a write error that lost rows and schedules the retry.
func (w *writer) failed(err error, rows int64) {
	w.l.writeErrors.Add(1)
	w.l.droppedWrite.Add(rows)
	w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 5*time.Second)
	now := w.l.opts.Now()
	w.retryAt = now.Add(w.backoff)
	if now.Sub(w.lastLog) < 10*time.Second && !w.lastLog.IsZero() {
		w.suppressed++
		return
	}
	w.l.opts.Logger.Error("featurelog: cannot write feature log; rows dropped", "err", err, "dir", w.l.opts.Dir, "rows", rows, "suppressed_errors", w.suppressed, "retry_in", w.backoff)
	w.lastLog, w.suppressed = now, 0
}

func (w *writer) publishOld() { w.publishOldAt(w.l.opts.Now()) }

// publishOldAt publishes the files whose first row is MaxFileAge old.
func (w *writer) publishOldAt(now time.Time) {
	for _, f := range w.open {
		if !now.Before(f.opened.Add(w.l.opts.MaxFileAge)) {
			w.publish(f)
		}
	}
}

// leastRecentlyUsed returns the open file written longest ago.
func (w *writer) leastRecentlyUsed() *logFile {
	var lru *logFile
	for _, f := range w.open {
		if lru == nil || f.used < lru.used {
			lru = f
		}
	}
	return lru
}

func (w *writer) publishAll() {
	for _, f := range w.open {
		w.publish(f)
	}
}

// publish finishes f and renames it into place, counting the outcome.
func (w *writer) publish(f *logFile) {
	delete(w.open, f.schema.sig)
	size, err := f.finish()
	if err != nil {
		w.failed(err, f.rows)
		return
	}
	w.l.rowsLogged.Add(f.rows)
	w.l.files.Add(1)
	w.l.bytes.Add(size)
}

// timeLayout names files so that lexical order is time order.
const timeLayout = "20060102T150405.000000Z"

// create starts a file for s under Dir/<service>/, named for now.
func (w *writer) create(s *Schema, now time.Time) (*logFile, error) {
	dir := filepath.Join(w.l.opts.Dir, s.Service)
	if !w.ready[s.Service] {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create %s: %w", dir, err)
		}
		sweepTemps(dir, now, staleTemp(w.l.opts.MaxFileAge))
		w.ready[s.Service] = true
	}
	w.seq++
	name := fmt.Sprintf("%s-%s-%06d.parquet", now.UTC().Format(timeLayout), w.token, w.seq%1000000)
	final := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+".tmp")
	fd, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		// The directory may have gone since it was made: make it again
		// next time.
		delete(w.ready, s.Service)
		return nil, fmt.Errorf("cannot create %s: %w", tmp, err)
	}
	f := &logFile{schema: s, dir: dir, tmp: tmp, final: final, fd: fd, opened: now}
	f.layout(s)
	f.cw = &countWriter{w: fd}
	f.bw = bufio.NewWriterSize(f.cw, 64<<10)
	f.pw = parquet.NewGenericWriter[any](f.bw, parquet.NewSchema("featurelog", schemaNode(s)),
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.MaxRowsPerRowGroup(int64(w.l.opts.RowGroupRows)),
		parquet.CreatedBy("fstore", "", ""))
	return f, nil
}

// staleTemp is how old a temporary file must be for sweepTemps to take it
// for a crashed writer's: a live writer publishes or rewrites its files
// within MaxFileAge, so ten times that (at least ten minutes) is safe
// while other processes write the same directory.
func staleTemp(maxAge time.Duration) time.Duration { return max(10*maxAge, 10*time.Minute) }

// sweepTemps removes the temporary files in dir that were last written
// more than stale before now: those a crashed process left behind.
func sweepTemps(dir string, now time.Time, stale time.Duration) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".tmp") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > stale {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// logFile is a file being written.
type logFile struct {
	schema      *Schema
	dir         string
	tmp, final  string
	fd          *os.File
	cw          *countWriter
	bw          *bufio.Writer
	pw          *parquet.GenericWriter[any]
	opened      time.Time
	used        uint64 // writer.tick of its last write
	rows        int64
	first, last int64
	hasTS       bool  // first and last are set
	groupRows   int   // rows in the row group being written
	pending     int64 // estimated bytes of the rows buffered since the last flush
	// buf holds the rows not yet handed to pw, row-major as in the
	// batches they came from (a copy of their cells and strings, the
	// string cells rebased onto buf's arena), so that appending a batch
	// is a few bulk copies; handOff turns them into Parquet values a
	// column at a time, in vs.
	buf Batch
	vs  []parquet.Value
	// strCols are the STRING columns; rowBytes estimates a row's encoded
	// size without its strings (8 bytes a number, 1 a BOOL, 4 a string's
	// length prefix).
	strCols  []int
	rowBytes int64
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// size is the file's size so far plus an estimate of what is buffered.
func (f *logFile) size() int64 { return f.cw.n + int64(f.bw.Buffered()) + f.pending }

// handOffRows is how many rows a file buffers before handing them to the
// Parquet writer: one WriteRowValues per column for many rows, not a
// parquet.Row per row (about 1 row a batch at 1% logging, where
// parquet-go's per-call cost dominated the writer).
const handOffRows = 256

// layout computes strCols and rowBytes for s.
func (f *logFile) layout(s *Schema) {
	for j, t := range s.types {
		switch t {
		case def.String:
			f.strCols = append(f.strCols, j)
			f.rowBytes += 4
		case def.Bool:
			f.rowBytes++
		default:
			f.rowBytes += 8
		}
	}
}

// append buffers the rows of b, handing them to the Parquet writer every
// handOffRows rows and ending a row group every RowGroupRows rows.
func (f *logFile) append(b *Batch, w *writer) error {
	if f.buf.schema == nil {
		f.buf.reset(b.schema)
	}
	for i := 0; i < b.n; {
		if len(f.buf.arena)+len(b.arena) > maxArena {
			// A cell holds a string's offset in 32 bits.
			if err := f.handOff(); err != nil {
				return err
			}
		}
		m := min(b.n-i, w.l.opts.RowGroupRows-f.groupRows)
		f.take(b, i, m)
		i += m
		f.groupRows += m
		if f.groupRows >= w.l.opts.RowGroupRows {
			if err := f.handOff(); err != nil {
				return err
			}
			if err := f.pw.Flush(); err != nil {
				return fmt.Errorf("cannot write %s: %w", f.tmp, err)
			}
			f.groupRows, f.pending = 0, 0
		}
	}
	// Counted once the whole batch is in: on an error the writer drops
	// the file's rows and the batch's.
	f.rows += int64(b.n)
	if f.buf.n >= handOffRows {
		return f.handOff()
	}
	return nil
}

// take copies rows [i, i+m) of b into buf. Copied, not kept: b goes back
// to the free list after this write.
func (f *logFile) take(b *Batch, i, m int) {
	nc := len(b.schema.cols)
	lo, hi := i*nc, (i+m)*nc
	at := len(f.buf.vals)
	base := uint64(len(f.buf.arena)) << 32
	f.buf.vals = append(f.buf.vals, b.vals[lo:hi]...)
	f.buf.null = append(f.buf.null, b.null[lo:hi]...)
	// The whole arena, though a batch split by a row group end is taken
	// in two parts: the cells' offsets stay valid with one addition.
	f.buf.arena = append(f.buf.arena, b.arena...)
	f.buf.n += m
	vals := f.buf.vals[at:]
	for r := 0; r < m; r++ {
		row := vals[r*nc : (r+1)*nc]
		for _, j := range f.strCols {
			row[j] += base
		}
		ts := int64(row[1])
		if !f.hasTS {
			f.first, f.last, f.hasTS = ts, ts, true
		}
		f.first, f.last = min(f.first, ts), max(f.last, ts)
	}
	f.pending += int64(m)*f.rowBytes + int64(len(b.arena))
}

// handOff writes the buffered rows to the Parquet writer's columns, a
// column at a time.
func (f *logFile) handOff() error {
	n := f.buf.n
	if n == 0 {
		return nil
	}
	s := f.buf.schema
	nc := len(s.cols)
	vals, null := f.buf.vals, f.buf.null
	cws := f.pw.ColumnWriters()
	if cap(f.vs) < n {
		f.vs = make([]parquet.Value, n)
	}
	vs := f.vs[:n]
	for j := range nc {
		// Each value set in place, its levels with the single-field
		// setters (inlined; Value.Level is not, and was a quarter of the
		// writer's time): a null is the zero Value, definition level 0.
		d := 1
		if s.required[j] {
			d = 0
		}
		switch t := s.types[j]; {
		case s.cols[j].Role == RoleStatus:
			// Required: derived from the value cell before it.
			for r, k := 0, j; r < n; r, k = r+1, k+nc {
				vs[r] = parquet.Int32Value(f.buf.status(k - 1))
			}
		case t == def.Int64 || t == def.Timestamp:
			for r, k := 0, j; r < n; r, k = r+1, k+nc {
				if null[k] {
					vs[r] = parquet.Value{}
					continue
				}
				vs[r] = parquet.Int64Value(int64(vals[k]))
				vs[r].SetDefinitionLevel(d)
			}
		case t == def.Double:
			for r, k := 0, j; r < n; r, k = r+1, k+nc {
				if null[k] {
					vs[r] = parquet.Value{}
					continue
				}
				vs[r] = parquet.DoubleValue(math.Float64frombits(vals[k]))
				vs[r].SetDefinitionLevel(d)
			}
		case t == def.Bool:
			for r, k := 0, j; r < n; r, k = r+1, k+nc {
				if null[k] {
					vs[r] = parquet.Value{}
					continue
				}
				vs[r] = parquet.BooleanValue(vals[k] != 0)
				vs[r].SetDefinitionLevel(d)
			}
		case t == def.String:
			for r, k := 0, j; r < n; r, k = r+1, k+nc {
				if null[k] {
					vs[r] = parquet.Value{}
					continue
				}
				vs[r] = parquet.ByteArrayValue(f.buf.cellString(vals[k]))
				vs[r].SetDefinitionLevel(d)
			}
		}
		for r := range vs {
			vs[r].SetColumnIndex(j)
		}
		if _, err := cws[j].WriteRowValues(vs); err != nil {
			return fmt.Errorf("cannot write %s: column %q: %w", f.tmp, s.cols[j].Name, err)
		}
	}
	clear(vs) // drop the references to the arena
	f.buf.reset(s)
	return nil
}

// finish writes the footer with the metadata, syncs, renames the file into
// place and syncs the directory. On error the temporary file is removed.
func (f *logFile) finish() (int64, error) {
	m := Meta{Format: Format, Service: f.schema.Service, RegistryVersion: f.schema.RegistryVersion,
		Columns: f.schema.cols, FirstRequestTS: time.UnixMicro(f.first).UTC(), LastRequestTS: time.UnixMicro(f.last).UTC(), Rows: f.rows}
	js, err := json.Marshal(m)
	if err != nil {
		f.abort()
		return 0, err
	}
	if err := f.handOff(); err != nil {
		f.abort()
		return 0, err
	}
	f.pw.SetKeyValueMetadata(MetadataKey, string(js))
	if err := f.pw.Close(); err != nil {
		f.abort()
		return 0, fmt.Errorf("cannot write %s: %w", f.tmp, err)
	}
	if err := f.bw.Flush(); err != nil {
		f.abort()
		return 0, fmt.Errorf("cannot write %s: %w", f.tmp, err)
	}
	if err := f.fd.Sync(); err != nil {
		f.abort()
		return 0, fmt.Errorf("cannot sync %s: %w", f.tmp, err)
	}
	if err := f.fd.Close(); err != nil {
		os.Remove(f.tmp)
		return 0, fmt.Errorf("cannot write %s: %w", f.tmp, err)
	}
	if err := os.Rename(f.tmp, f.final); err != nil {
		os.Remove(f.tmp)
		return 0, fmt.Errorf("cannot publish %s: %w", f.final, err)
	}
	if d, err := os.Open(f.dir); err == nil {
		// The file is complete whether or not this sync succeeds; it only
		// makes the rename durable sooner.
		d.Sync()
		d.Close()
	}
	return f.cw.n, nil
}

// abort closes and removes the temporary file.
func (f *logFile) abort() {
	f.fd.Close()
	os.Remove(f.tmp)
}

// schemaNode is the Parquet schema of s, columns in s's order.
func schemaNode(s *Schema) parquet.Node {
	fields := make([]parquet.Field, len(s.cols))
	for j, c := range s.cols {
		var n parquet.Node
		switch {
		case c.Role == RoleStatus:
			n = parquet.Int(32)
		case s.types[j] == def.Int64:
			n = parquet.Int(64)
		case s.types[j] == def.Double:
			n = parquet.Leaf(parquet.DoubleType)
		case s.types[j] == def.Bool:
			n = parquet.Leaf(parquet.BooleanType)
		case s.types[j] == def.String:
			n = parquet.String()
		case s.types[j] == def.Timestamp:
			n = parquet.Timestamp(parquet.Microsecond)
		}
		if c.Nullable {
			n = parquet.Optional(n)
		}
		fields[j] = pqschema.Named(c.Name, n)
	}
	return pqschema.Ordered(fields)
}
