package backfill

import (
	"cmp"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
)

// newestFirst orders tasks by their row groups' greatest timestamp in
// column ts (from the files' statistics), newest first, stably. The order
// changes no result: an event's rank (time, created time, file order) does
// not depend on when it is probed. It changes the work: probed newest
// first, an event usually meets a position whose best already beats it,
// which costs a read instead of a write of its values. Without statistics
// for every row group the order stays as it is.
func newestFirst(tasks []task, files []*pqFile, ts string) {
	type keyed struct {
		t     task
		maxTS int64
	}
	ks := make([]keyed, len(tasks))
	for i, t := range tasks {
		x, ok := maxTime(files[t.file].File, t.rowGroup, ts)
		if !ok {
			return
		}
		ks[i] = keyed{t, x}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return cmp.Compare(b.maxTS, a.maxTS) })
	for i, k := range ks {
		tasks[i] = k.t
	}
}

// maxTime returns the greatest value of timestamp column ts in row group
// rg of f, in microseconds, from the column chunk's statistics.
func maxTime(f *parquet.File, rg int, ts string) (int64, bool) {
	leaf, ok := f.Schema().Lookup(ts)
	if !ok {
		return 0, false
	}
	cc, ok := f.RowGroups()[rg].ColumnChunks()[leaf.ColumnIndex].(*parquet.FileColumnChunk)
	if !ok {
		return 0, false
	}
	_, hi, ok := cc.Bounds()
	if !ok || hi.IsNull() {
		return 0, false
	}
	var x int64
	switch hi.Kind() {
	case parquet.Int64:
		x = hi.Int64()
	case parquet.Int32:
		x = int64(hi.Int32())
	default:
		return 0, false
	}
	unit := 1
	for _, fd := range f.Schema().Fields() {
		if fd.Name() == ts {
			unit = compute.ParquetColumnOf(fd).Unit
		}
	}
	// Converted as the values themselves are read, so that the order is
	// that of the times the probe compares.
	return compute.TimestampMicros(x, unit), true
}
