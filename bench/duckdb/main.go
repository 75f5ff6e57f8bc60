//go:build duckdb

// Command duckdb runs the backfill scenario's point-in-time join in DuckDB
// (ASOF LEFT JOIN), times it, and compares its result with fstore's output
// value by value. It is its own module, and needs the duckdb build tag, so
// that fstore's default build stays pure Go:
//
//	cd bench/duckdb && go run -tags duckdb . -dir /tmp/bf1 -threads 2
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/parquet-go/parquet-go"
)

type row struct {
	RequestID int64 `parquet:"request_id"`
	F         [8]*float64
}

func main() {
	dir := flag.String("dir", "", "dataset directory (fstore bench backfill-data)")
	threads := flag.Int("threads", 2, "DuckDB threads")
	memory := flag.String("memory-limit", "", "DuckDB memory_limit, e.g. 512MB (default: DuckDB's)")
	flag.Parse()
	if err := run(*dir, *threads, *memory); err != nil {
		fmt.Fprintln(os.Stderr, "duckdb:", err)
		os.Exit(1)
	}
}

func run(dir string, threads int, memory string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
		return err
	}
	if memory != "" {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET memory_limit = '%s'", memory)); err != nil {
			return err
		}
	}
	out := filepath.Join(dir, "duckdb.parquet")
	q := fmt.Sprintf(`COPY (
  SELECT s.*, f.f1 AS fv__f1, f.f2 AS fv__f2, f.f3 AS fv__f3, f.f4 AS fv__f4,
         f.f5 AS fv__f5, f.f6 AS fv__f6, f.f7 AS fv__f7, f.f8 AS fv__f8
  FROM read_parquet('%s') s
  ASOF LEFT JOIN read_parquet('%s') f
    ON s.entity_id = f.entity_id AND s.event_timestamp >= f.event_ts
  ORDER BY s.request_id
) TO '%s' (FORMAT parquet, COMPRESSION zstd)`,
		filepath.Join(dir, "spine.parquet"), filepath.Join(dir, "features", "*.parquet"), out)
	start := time.Now()
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return err
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("duckdb: %d threads, %s, peak RSS %d MiB\n", threads, elapsed.Round(time.Millisecond), ru.Maxrss>>10)
	return compare(out, filepath.Join(dir, "fstore.parquet"))
}

// compare checks that fstore's output equals DuckDB's, feature by feature,
// row by row (both are in request_id order).
func compare(duck, fstore string) error {
	a, err := read(duck)
	if err != nil {
		return err
	}
	b, err := read(fstore)
	if err != nil {
		return fmt.Errorf("%w (run `fstore bench backfill` first)", err)
	}
	if len(a) != len(b) {
		return fmt.Errorf("row counts differ: duckdb %d, fstore %d", len(a), len(b))
	}
	for i := range a {
		if a[i].RequestID != b[i].RequestID {
			return fmt.Errorf("row %d: request_id %d vs %d", i, a[i].RequestID, b[i].RequestID)
		}
		for k := range a[i].F {
			x, y := a[i].F[k], b[i].F[k]
			if (x == nil) != (y == nil) || (x != nil && math.Float64bits(*x) != math.Float64bits(*y)) {
				return fmt.Errorf("request %d: fv__f%d: duckdb %v, fstore %v", a[i].RequestID, k+1, deref(x), deref(y))
			}
		}
	}
	fmt.Printf("identical: %d rows × 8 features\n", len(a))
	return nil
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func read(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, fd := range pf.Schema().Fields() {
		idx[fd.Name()] = i
	}
	cols := []int{idx["request_id"]}
	for k := 1; k <= 8; k++ {
		c, ok := idx[fmt.Sprintf("fv__f%d", k)]
		if !ok {
			return nil, fmt.Errorf("%s has no column fv__f%d", path, k)
		}
		cols = append(cols, c)
	}
	var out []row
	buf := make([]parquet.Row, 1024)
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				var x row
				for _, v := range r {
					switch c := v.Column(); {
					case c == cols[0]:
						x.RequestID = v.Int64()
					default:
						for k := 1; k <= 8; k++ {
							if c == cols[k] && !v.IsNull() {
								d := v.Double()
								x.F[k-1] = &d
							}
						}
					}
				}
				out = append(out, x)
			}
			if err != nil {
				break
			}
		}
		rr.Close()
	}
	return out, nil
}
