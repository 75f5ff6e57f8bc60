package featurelog

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Logger writes submitted batches to Parquet files from one background
// goroutine. Submit is safe for concurrent use and never blocks.
type Logger struct {
	opts Options

	queue   chan *Batch
	flushes chan chan struct{}
	quit    chan struct{}
	done    chan struct{}

	queued   atomic.Int64 // rows submitted and not yet written
	inflight atomic.Int64 // Submits between their closed check and their send
	closed   atomic.Bool
	once     sync.Once

	rowsLogged, droppedFull, droppedWrite, droppedInvalid atomic.Int64
	writeErrors, files, bytes                             atomic.Int64

	// hook, if set, runs in the writer before each batch (tests stall it).
	hook func()
}

// Stats counts what a Logger did since Open. Every submitted row ends in
// exactly one of RowsLogged and the three RowsDropped counters, once
// written or dropped; QueuedRows are the rows in between.
type Stats struct {
	// RowsLogged counts rows in published files.
	RowsLogged int64
	// RowsDroppedQueueFull counts rows dropped because the queue held
	// QueueRows rows.
	RowsDroppedQueueFull int64
	// RowsDroppedWriteError counts rows lost to write errors: those of the
	// batch that failed, of the unpublished file it was written to, and of
	// batches arriving while the writer waits to retry.
	RowsDroppedWriteError int64
	// RowsDroppedInvalid counts rows of batches misused (Batch.Err) or
	// submitted after Close.
	RowsDroppedInvalid int64
	// WriteErrors counts failed attempts to create, write or publish a file.
	WriteErrors int64
	// FilesPublished and BytesPublished count the files renamed into place
	// and their sizes.
	FilesPublished int64
	BytesPublished int64
	// QueuedRows is the rows submitted and not yet written or dropped.
	QueuedRows int64
}

// Open starts a Logger. It validates opts (a copy; defaults applied) and
// starts the writer; it does not touch the disk, so an unwritable Dir is
// not an error here but a write error later.
func Open(opts Options) (*Logger, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	l := &Logger{
		opts:    opts,
		queue:   make(chan *Batch, opts.QueueRows+1),
		flushes: make(chan chan struct{}),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	w := newWriter(l)
	go w.run()
	return l, nil
}

// Submit hands b to the writer and takes ownership of it. It never blocks
// and never fails: a batch that would make the queue exceed QueueRows, a
// misused batch (b.Err() != nil) and a batch submitted after Close are
// dropped, counted in Stats, and released.
func (l *Logger) Submit(b *Batch) {
	n := int64(b.n)
	if n == 0 {
		Release(b)
		return
	}
	if b.err != nil {
		l.droppedInvalid.Add(n)
		Release(b)
		return
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if l.closed.Load() {
		l.droppedInvalid.Add(n)
		Release(b)
		return
	}
	if q := l.queued.Add(n); q > int64(l.opts.QueueRows) {
		l.queued.Add(-n)
		l.droppedFull.Add(n)
		Release(b)
		return
	}
	// The channel holds QueueRows+1 batches of at least one row each, so
	// with the rows admitted above this send never blocks.
	l.queue <- b
}

// Flush publishes every file holding rows submitted before it, and waits
// for that (or ctx). Files are otherwise published by size, age and
// Close.
func (l *Logger) Flush(ctx context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	reply := make(chan struct{})
	select {
	case l.flushes <- reply:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting batches, writes those queued, publishes every open
// file and stops the writer goroutine. It waits for that or ctx; on ctx's
// end the writer finishes in the background. Calls after the first wait
// for the same end.
func (l *Logger) Close(ctx context.Context) error {
	l.once.Do(func() {
		l.closed.Store(true)
		// Submits that passed the closed check finish their send before
		// the writer drains the queue for the last time.
		for l.inflight.Load() != 0 {
			runtime.Gosched()
		}
		close(l.quit)
	})
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("featurelog: close: %w", ctx.Err())
	}
}

// Stats returns the counters.
func (l *Logger) Stats() Stats {
	return Stats{
		RowsLogged:            l.rowsLogged.Load(),
		RowsDroppedQueueFull:  l.droppedFull.Load(),
		RowsDroppedWriteError: l.droppedWrite.Load(),
		RowsDroppedInvalid:    l.droppedInvalid.Load(),
		WriteErrors:           l.writeErrors.Load(),
		FilesPublished:        l.files.Load(),
		BytesPublished:        l.bytes.Load(),
		QueuedRows:            l.queued.Load(),
	}
}

// drainEvery is how often the writer takes the queued batches: rows wait
// at most this long in memory, and the queue (QueueRows) must hold this
// long's worth of logged rows.
const drainEvery = 50 * time.Millisecond

// tickEvery is how often the writer checks file ages.
func tickEvery(age time.Duration) time.Duration {
	return min(max(age/4, 5*time.Millisecond), time.Second)
}
