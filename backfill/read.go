package backfill

import (
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// pqFile is compute's Parquet reader, shared with materialisation.
type pqFile = compute.ParquetFile

// openProjected opens path for the named columns; errors match ErrInput.
func openProjected(path string, fields []def.Field, timeCols map[string]bool) (*pqFile, error) {
	p, err := compute.OpenParquet(path, fields, timeCols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return p, nil
}

// readRowGroup reads row group i of p into b; errors match ErrInput.
func readRowGroup(p *pqFile, i int, b *compute.Batch, vals []parquet.Value) ([]parquet.Value, error) {
	vals, err := p.ReadRowGroup(i, b, vals)
	if err != nil {
		return vals, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return vals, nil
}
