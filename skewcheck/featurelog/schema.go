package featurelog

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fstore/fstore/featurestore/def"
)

// Format is the format version written in every file's metadata.
const Format = "fstore.featurelog/v1"

// MetadataKey is the Parquet key-value metadata key holding Meta as JSON.
const MetadataKey = "fstore.featurelog"

// Role says what a column of a log file holds.
type Role string

// The column roles, as written in the metadata.
const (
	RoleRequestID    Role = "request_id"
	RoleRequestTS    Role = "request_ts"
	RoleKey          Role = "key"
	RoleContext      Role = "context"
	RoleValue        Role = "value"
	RoleStatus       Role = "status"
	RoleEventTS      Role = "event_ts"
	RoleEndpoint     Role = "endpoint"
	RoleModel        Role = "model"
	RoleModelVersion Role = "model_version"
	RolePrediction   Role = "prediction"
)

// Column types as written in the metadata: def.ValueType's names, plus
// INT32 for status columns.
const typeInt32 = "INT32"

// ColumnInfo describes one column of a log file, in file order.
type ColumnInfo struct {
	Name string `json:"name"`
	// Type is BOOL, INT64, DOUBLE, STRING, TIMESTAMP or INT32 (status).
	Type string `json:"type"`
	Role Role   `json:"role"`
	// Feature names the feature of a value, status or event_ts column.
	Feature string `json:"feature,omitempty"`
	// Nullable is false only for request_id, request_ts and status columns.
	Nullable bool `json:"nullable"`
}

// Schema is the shape of one feature service's logged rows at one
// registry version. Build it with NewSchema once per service version and
// share it: batches and files refer to it.
type Schema struct {
	// Service is the feature service's name; files go under Dir/Service/.
	Service string
	// RegistryVersion is the registry version the service was served at.
	RegistryVersion uint64
	// Keys are the entity join keys (INT64 or STRING), Context the request
	// context fields (any type), Features the served features named
	// <view>__<feature> (any type).
	Keys, Context, Features []def.Field
	// Model adds the endpoint, model, model_version and prediction columns.
	Model bool

	cols []ColumnInfo
	// first column index of each part.
	keyCol, ctxCol, featCol, modelCol int
	// types[j] is column j's value type (status: Int64).
	types    []def.ValueType
	required []bool
	// nullRow is a new row's nulls: every nullable column null.
	nullRow []bool
	sig     string
}

// NewSchema validates s and returns a compiled copy. Names must be unique
// across all columns, the service name must be usable as a directory name,
// keys INT64 or STRING. Errors match ErrOptions and name the field.
func NewSchema(s Schema) (*Schema, error) {
	if err := checkService(s.Service); err != nil {
		return nil, err
	}
	c := &Schema{Service: s.Service, RegistryVersion: s.RegistryVersion, Model: s.Model,
		Keys: append([]def.Field(nil), s.Keys...), Context: append([]def.Field(nil), s.Context...),
		Features: append([]def.Field(nil), s.Features...)}
	seen := map[string]string{}
	add := func(ci ColumnInfo, t def.ValueType, what string) error {
		if ci.Name == "" {
			return fmt.Errorf("%w: %s has no name", ErrOptions, what)
		}
		if prev, dup := seen[ci.Name]; dup {
			return fmt.Errorf("%w: %s: column %q is also %s", ErrOptions, what, ci.Name, prev)
		}
		seen[ci.Name] = what
		c.cols = append(c.cols, ci)
		c.types = append(c.types, t)
		c.required = append(c.required, !ci.Nullable)
		c.nullRow = append(c.nullRow, ci.Nullable)
		return nil
	}
	_ = add(ColumnInfo{Name: "request_id", Type: "STRING", Role: RoleRequestID}, def.String, "request_id")
	_ = add(ColumnInfo{Name: "request_ts", Type: "TIMESTAMP", Role: RoleRequestTS}, def.Timestamp, "request_ts")
	c.keyCol = len(c.cols)
	for i, f := range c.Keys {
		if f.Type != def.Int64 && f.Type != def.String {
			return nil, fmt.Errorf("%w: join key %d %q is %s, want INT64 or STRING", ErrOptions, i, f.Name, f.Type)
		}
		if err := add(ColumnInfo{Name: f.Name, Type: f.Type.String(), Role: RoleKey, Nullable: true}, f.Type, fmt.Sprintf("join key %d", i)); err != nil {
			return nil, err
		}
	}
	c.ctxCol = len(c.cols)
	for i, f := range c.Context {
		if !f.Type.Valid() {
			return nil, fmt.Errorf("%w: request context field %d %q has no type", ErrOptions, i, f.Name)
		}
		if err := add(ColumnInfo{Name: f.Name, Type: f.Type.String(), Role: RoleContext, Nullable: true}, f.Type, fmt.Sprintf("request context field %d", i)); err != nil {
			return nil, err
		}
	}
	c.featCol = len(c.cols)
	for i, f := range c.Features {
		if !f.Type.Valid() {
			return nil, fmt.Errorf("%w: feature %d %q has no type", ErrOptions, i, f.Name)
		}
		what := fmt.Sprintf("feature %d", i)
		if err := add(ColumnInfo{Name: f.Name, Type: f.Type.String(), Role: RoleValue, Feature: f.Name, Nullable: true}, f.Type, what); err != nil {
			return nil, err
		}
		if err := add(ColumnInfo{Name: f.Name + "__status", Type: typeInt32, Role: RoleStatus, Feature: f.Name}, def.Int64, what+" status"); err != nil {
			return nil, err
		}
		if err := add(ColumnInfo{Name: f.Name + "__event_ts", Type: "TIMESTAMP", Role: RoleEventTS, Feature: f.Name, Nullable: true}, def.Timestamp, what+" event_ts"); err != nil {
			return nil, err
		}
	}
	c.modelCol = len(c.cols)
	if c.Model {
		for _, m := range []struct {
			name string
			t    def.ValueType
		}{{"endpoint", def.String}, {"model", def.String}, {"model_version", def.Int64}, {"prediction", def.Double}} {
			if err := add(ColumnInfo{Name: m.name, Type: m.t.String(), Role: Role(m.name), Nullable: true}, m.t, m.name); err != nil {
				return nil, err
			}
		}
	}
	sig, _ := json.Marshal(struct {
		S string
		V uint64
		C []ColumnInfo
	}{c.Service, c.RegistryVersion, c.cols})
	c.sig = string(sig)
	return c, nil
}

// checkService rejects service names that are not one plain path element.
func checkService(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: schema has no service name", ErrOptions)
	case s == "." || s == ".." || strings.HasPrefix(s, "."):
		return fmt.Errorf("%w: service name %q starts with a dot", ErrOptions, s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%w: service name %q contains a path separator or NUL", ErrOptions, s)
	}
	return nil
}

// Columns returns the file's columns in order. The slice is shared; do
// not modify it.
func (s *Schema) Columns() []ColumnInfo { return s.cols }

// Meta is the metadata of one log file, stored as JSON under MetadataKey.
type Meta struct {
	// Format is always Format.
	Format          string       `json:"format"`
	Service         string       `json:"service"`
	RegistryVersion uint64       `json:"registry_version"`
	Columns         []ColumnInfo `json:"columns"`
	// FirstRequestTS and LastRequestTS are the least and greatest
	// request_ts in the file (RFC 3339, microseconds, UTC).
	FirstRequestTS time.Time `json:"first_request_ts"`
	LastRequestTS  time.Time `json:"last_request_ts"`
	// Rows is the number of rows in the file.
	Rows int64 `json:"rows"`
}

// maxMetaBytes bounds the metadata JSON DecodeMeta accepts.
const maxMetaBytes = 1 << 20

// DecodeMeta parses and checks a file's metadata JSON: the format
// version, a service name, well-formed columns (known roles and types,
// unique names, request_id and request_ts first, three columns per
// feature) and a row count. Errors match ErrFormat and say what is wrong;
// path names the file in them.
func DecodeMeta(path string, data []byte) (*Meta, error) {
	bad := func(format string, args ...any) error {
		return &formatError{path: path, msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > maxMetaBytes {
		return nil, bad("metadata %q is %d bytes, more than the %d allowed", MetadataKey, len(data), maxMetaBytes)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, bad("metadata %q is not valid JSON: %v", MetadataKey, err)
	}
	if m.Format != Format {
		return nil, bad("metadata %q has format %q, want %q", MetadataKey, m.Format, Format)
	}
	if err := checkService(m.Service); err != nil {
		return nil, bad("metadata %q: %v", MetadataKey, err)
	}
	if m.Rows < 0 {
		return nil, bad("metadata %q: rows %d is negative", MetadataKey, m.Rows)
	}
	if _, err := schemaOf(&m); err != nil {
		return nil, bad("metadata %q: %v", MetadataKey, err)
	}
	return &m, nil
}

// schemaOf rebuilds the Schema a file's metadata describes and checks that
// it writes exactly the columns listed.
func schemaOf(m *Meta) (*Schema, error) {
	s := Schema{Service: m.Service, RegistryVersion: m.RegistryVersion}
	typeOf := func(c ColumnInfo) (def.ValueType, error) {
		for t := def.Int64; t <= def.Timestamp; t++ {
			if t.String() == c.Type {
				return t, nil
			}
		}
		return 0, fmt.Errorf("column %q has unknown type %q", c.Name, c.Type)
	}
	for i, c := range m.Columns {
		switch c.Role {
		case RoleKey, RoleContext, RoleValue:
			t, err := typeOf(c)
			if err != nil {
				return nil, err
			}
			f := def.Field{Name: c.Name, Type: t}
			switch c.Role {
			case RoleKey:
				s.Keys = append(s.Keys, f)
			case RoleContext:
				s.Context = append(s.Context, f)
			default:
				s.Features = append(s.Features, f)
			}
		case RoleModel:
			s.Model = true
		case RoleRequestID, RoleRequestTS, RoleStatus, RoleEventTS, RoleEndpoint, RoleModelVersion, RolePrediction:
		default:
			return nil, fmt.Errorf("column %d %q has unknown role %q", i, c.Name, c.Role)
		}
	}
	cs, err := NewSchema(s)
	if err != nil {
		return nil, err
	}
	if len(cs.cols) != len(m.Columns) {
		return nil, fmt.Errorf("%d columns listed, the roles make %d", len(m.Columns), len(cs.cols))
	}
	for i, c := range cs.cols {
		if m.Columns[i] != c {
			return nil, fmt.Errorf("column %d is %+v, want %+v", i, m.Columns[i], c)
		}
	}
	return cs, nil
}

// Schema rebuilds the schema m's file was written with (one service at one
// registry version, with or without model columns), for a reader that
// wants a file's shape without reading it. Errors match ErrFormat.
func (m *Meta) Schema() (*Schema, error) {
	s, err := schemaOf(m)
	if err != nil {
		return nil, &formatError{path: fmt.Sprintf("service %q", m.Service), msg: fmt.Sprintf("metadata %q: %v", MetadataKey, err)}
	}
	return s, nil
}
