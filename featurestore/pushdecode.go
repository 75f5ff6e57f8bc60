package featurestore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// MaxEventLine bounds one JSON line of pushed events.
const MaxEventLine = 1 << 20

// DecodeJSONLines reads events for view ov's push source from JSON lines:
// one object per line, keys naming schema columns. INT64 takes integral
// numbers; DOUBLE any number; BOOL true/false; STRING strings; TIMESTAMP
// an RFC 3339 string or integer microseconds since the epoch. null and
// absent fields are null. Unknown fields, wrong types and malformed lines
// are errors naming the line and the field.
func DecodeJSONLines(r io.Reader, ov *OnlineView) (*compute.Batch, error) {
	if ov.Push == nil {
		return nil, fmt.Errorf("%w: view %q does not read a push source", ErrBadEvents, ov.Name)
	}
	b := NewEventBuilder(ov.Push.Source)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxEventLine)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := decodeEventLine(b, text); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadEvents, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrBadEvents, line+1, err)
	}
	return b.Batch(), nil
}

func decodeEventLine(b *EventBuilder, text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	b.AddRow()
	for name, raw := range obj {
		i, err := b.Field(name)
		if err != nil {
			return err
		}
		if err := SetJSONValue(b, i, raw); err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
	}
	return nil
}

// SetJSONValue sets field i of b's last row from a JSON value.
func SetJSONValue(b *EventBuilder, i int, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil
	}
	t := b.Type(i)
	switch t {
	case def.Int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("want INT64, got %s", clip(raw))
		}
		b.SetInt64(i, n)
	case def.Double:
		f, err := strconv.ParseFloat(string(raw), 64)
		if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
			// 1e400: past DOUBLE's range, an infinity (CheckValues
			// refuses it unless the column allows non-finite values).
			err = nil
		}
		if err != nil || raw[0] == '"' {
			return fmt.Errorf("want DOUBLE, got %s", clip(raw))
		}
		b.SetDouble(i, f)
	case def.Bool:
		switch string(raw) {
		case "true":
			b.SetBool(i, true)
		case "false":
			b.SetBool(i, false)
		default:
			return fmt.Errorf("want BOOL, got %s", clip(raw))
		}
	case def.String:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return fmt.Errorf("want STRING, got %s", clip(raw))
		}
		b.SetString(i, s)
	case def.Timestamp:
		us, err := parseJSONTime(raw)
		if err != nil {
			return err
		}
		b.SetInt64(i, us)
	default:
		return fmt.Errorf("cannot take %s values", t)
	}
	return nil
}

func parseJSONTime(raw []byte) (int64, error) {
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("want TIMESTAMP, got %s", clip(raw))
		}
		return ParseTime(s)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n == math.MinInt64 {
		return 0, fmt.Errorf("want TIMESTAMP (RFC 3339 or integer microseconds), got %s", clip(raw))
	}
	return n, nil
}

// timeLayouts are the layouts ParseTime accepts after RFC 3339: the
// space-separated form pandas writes (what Feast clients push), with or
// without a zone; without one the time is UTC.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// ParseTime parses a TIMESTAMP string into microseconds since the epoch:
// RFC 3339 ("2026-01-08T10:00:00Z"), or "2026-01-08 10:00:00[.ffffff]"
// with an optional zone (UTC without one), as pandas and Feast write them.
func ParseTime(s string) (int64, error) {
	if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tm.UnixMicro(), nil
	}
	for _, layout := range timeLayouts {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("want an RFC 3339 TIMESTAMP, got %q", s)
}

func clip(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// ReadParquetEvents reads events for view ov's push source from a Parquet
// file: the columns the view reads must be there with their declared
// types; other schema columns are read when present.
func ReadParquetEvents(path string, ov *OnlineView) (*compute.Batch, error) {
	if ov.Push == nil {
		return nil, fmt.Errorf("%w: view %q does not read a push source", ErrBadEvents, ov.Name)
	}
	p := ov.Push
	schema := p.Source.Schema
	present, err := compute.ParquetSchema(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEvents, err)
	}
	have := map[string]bool{}
	for _, c := range present {
		have[c.Name] = true
	}
	var fields []def.Field
	var at []int
	for i, f := range schema {
		if _, used := p.Input.Lookup(f.Name); used || have[f.Name] {
			fields = append(fields, f)
			at = append(at, i)
		}
	}
	timeCols := map[string]bool{p.Input.Fields[p.Timestamp].Name: true}
	if p.Created >= 0 {
		timeCols[p.Input.Fields[p.Created].Name] = true
	}
	for _, f := range schema {
		if f.Type == def.Timestamp {
			timeCols[f.Name] = true
		}
	}
	pf, err := compute.OpenParquet(path, fields, timeCols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEvents, err)
	}
	defer pf.Close()
	b := NewEventBuilder(p.Source)
	var rg compute.Batch
	for g := range pf.File.RowGroups() {
		if _, err := pf.ReadRowGroup(g, &rg, nil); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadEvents, err)
		}
		for row := 0; row < rg.Len; row++ {
			b.AddRow()
			for k, c := range rg.Cols {
				if c.Null(row) {
					continue
				}
				b.SetFrom(at[k], c, row)
			}
		}
	}
	return b.Batch(), nil
}
