package replay

import (
	"fmt"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// stream reads a sequence of Parquet files, projected, row group by row
// group; the comparison consumes rows from it in windows that need not
// match its row groups. One goroutine reads (decompresses and decodes)
// ahead while the comparison works on the previous row group, so at most
// prefetch+1 row groups per stream are in memory.
type stream struct {
	what string // "log" or "recomputed rows", for errors

	// The consumer's side: the current row group, pos its first row not
	// consumed, file its file's index and base the row number of its row
	// 0 in that file.
	cur  *rowGroup
	pos  int
	file int
	base int64
	// loaded is called on each row group as the consumer takes it.
	loaded func(s *stream) error

	next chan *rowGroup // read ahead; closed after the last or an error
	free chan *rowGroup // consumed, for reuse
	stop chan struct{}
	wg   sync.WaitGroup
}

// rowGroup is one row group read.
type rowGroup struct {
	b    compute.Batch
	vals []parquet.Value
	file int
	base int64
	err  error
}

// prefetch is the row groups a stream reads ahead of the comparison.
const prefetch = 1

func newStream(what string, paths []string, fields []def.Field) *stream {
	tc := map[string]bool{}
	for _, f := range fields {
		if f.Type == def.Timestamp {
			tc[f.Name] = true
		}
	}
	s := &stream{what: what, next: make(chan *rowGroup, prefetch), free: make(chan *rowGroup, prefetch+1), stop: make(chan struct{})}
	for range prefetch + 1 {
		s.free <- &rowGroup{}
	}
	s.wg.Add(1)
	go s.read(paths, fields, tc)
	return s
}

// read is the stream's goroutine.
func (s *stream) read(paths []string, fields []def.Field, timeCols map[string]bool) {
	defer s.wg.Done()
	defer close(s.next)
	for fi, path := range paths {
		p, err := compute.OpenParquet(path, fields, timeCols)
		if err != nil {
			s.send(&rowGroup{err: fmt.Errorf("replay: cannot read the %s: %w", s.what, err)})
			return
		}
		var base int64
		for g := range p.File.RowGroups() {
			var rg *rowGroup
			select {
			case rg = <-s.free:
			case <-s.stop:
				p.Close()
				return
			}
			rg.vals, err = p.ReadRowGroup(g, &rg.b, rg.vals)
			if err != nil {
				p.Close()
				s.send(&rowGroup{err: fmt.Errorf("replay: cannot read the %s: %s: row group %d: %w", s.what, path, g, err)})
				return
			}
			rg.file, rg.base = fi, base
			base += int64(rg.b.Len)
			if !s.send(rg) {
				p.Close()
				return
			}
		}
		p.Close()
	}
}

func (s *stream) send(rg *rowGroup) bool {
	select {
	case s.next <- rg:
		return true
	case <-s.stop:
		return false
	}
}

// left returns the rows of the current row group not consumed, taking the
// next row group when none is left; 0 at the end.
func (s *stream) left() (int, error) {
	for s.cur == nil || s.pos >= s.cur.b.Len {
		if s.cur != nil {
			s.free <- s.cur
			s.cur = nil
		}
		rg, ok := <-s.next
		if !ok {
			return 0, nil
		}
		if rg.err != nil {
			return 0, rg.err
		}
		s.cur, s.pos, s.file, s.base = rg, 0, rg.file, rg.base
		if s.loaded != nil {
			if err := s.loaded(s); err != nil {
				return 0, err
			}
		}
	}
	return s.cur.b.Len - s.pos, nil
}

// close stops the reader and waits for it.
func (s *stream) close() {
	close(s.stop)
	s.wg.Wait()
}
