package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// decodeJSON parses a Feast get-online-features request body into r:
//
//	{"features": ["view:feature", …] | "feature_service": "name",
//	 "entities": {"key": [v, …], …}, "request_context": {"field": [v, …]},
//	 "full_feature_names": bool}
//
// Values stay in the parser until resolve types them, so a request is
// parsed once and converted once. Strings alias the parser's buffer: r
// must not be reused while they are referenced.
func (r *onlineRequest) decodeJSON(body []byte) error {
	v, err := r.parser.ParseBytes(body)
	if err != nil {
		return malformed(body, err)
	}
	obj, err := v.Object()
	if err != nil {
		return badRequest("request body: want a JSON object, got %s", v.Type())
	}
	var ferr error
	var haveFeatures, haveService bool
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(key) {
		case "features":
			haveFeatures = true
			ferr = r.decodeFeatures(v)
		case "feature_service":
			haveService = true
			b, err := v.StringBytes()
			if err != nil || len(b) == 0 {
				ferr = badRequest("feature_service: want a non-empty string, got %s", clipJSON(v))
				return
			}
			r.service = b2s(b)
		case "entities":
			ferr = r.decodeColumns(&r.ents, "entities", v)
		case "request_context":
			ferr = r.decodeColumns(&r.reqCtx, "request_context", v)
		case "full_feature_names":
			r.full, ferr = jsonBool("full_feature_names", v)
		default:
			ferr = badRequest("unknown field %q (want features or feature_service, entities, request_context, full_feature_names)", key)
		}
	})
	if ferr != nil {
		return ferr
	}
	if haveFeatures && haveService {
		return badRequest("give either \"features\" or \"feature_service\", not both")
	}
	if !haveFeatures && !haveService {
		return badRequest("no features requested: give \"features\" or \"feature_service\"")
	}
	return nil
}

// jsonBool reads an optional boolean field: true, false or null (false).
func jsonBool(field string, v *fastjson.Value) (bool, error) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse, fastjson.TypeNull:
		return false, nil
	}
	return false, badRequest("%s: want true or false, got %s", field, clipJSON(v))
}

func (r *onlineRequest) decodeFeatures(v *fastjson.Value) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := v.Array()
	if err != nil {
		return badRequest("features: want an array of \"view:feature\" strings, got %s", clipJSON(v))
	}
	for i, f := range arr {
		b, err := f.StringBytes()
		if err != nil {
			return badRequest("features[%d]: want a \"view:feature\" string, got %s", i, clipJSON(f))
		}
		if err := r.addRef(b2s(b)); err != nil {
			return fmt.Errorf("features[%d]: %w", i, err)
		}
	}
	return nil
}

func (r *onlineRequest) decodeColumns(list *[]inputCol, field string, v *fastjson.Value) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	obj, err := v.Object()
	if err != nil {
		return badRequest("%s: want an object of arrays, got %s", field, clipJSON(v))
	}
	var ferr error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		arr, err := v.Array()
		if err != nil {
			ferr = badRequest("%s.%s: want an array of values, got %s", field, key, clipJSON(v))
			return
		}
		if r.findInput(*list, b2s(key)) != nil {
			ferr = badRequest("%s: %q given twice", field, key)
			return
		}
		c := r.addInput(list, b2s(key), field)
		c.json = arr
	})
	return ferr
}

// fillJSON converts JSON values into c, already reset to its type and
// length with every row valid.
func fillJSON(c *compute.Column, vals []*fastjson.Value) error {
	for i, v := range vals {
		t := v.Type()
		if t == fastjson.TypeNull {
			c.Valid.Clear(i)
			continue
		}
		ok := false
		switch c.Type {
		case def.Int64:
			if t == fastjson.TypeNumber {
				n, err := v.Int64()
				c.I64[i], ok = n, err == nil
			}
		case def.Double:
			if t == fastjson.TypeNumber {
				f, err := v.Float64()
				c.F64[i], ok = f, err == nil
			}
		case def.Bool:
			c.B[i], ok = t == fastjson.TypeTrue, t == fastjson.TypeTrue || t == fastjson.TypeFalse
		case def.String:
			if t == fastjson.TypeString {
				b, _ := v.StringBytes()
				c.S[i], ok = b2s(b), true
			}
		case def.Timestamp:
			var err error
			c.I64[i], err = jsonTime(v)
			ok = err == nil
		}
		if !ok {
			return &valueError{i: i, msg: fmt.Sprintf("want %s, got %s", c.Type, clipJSON(v))}
		}
	}
	return nil
}

// jsonTime reads a TIMESTAMP: an RFC 3339 string or integer microseconds.
func jsonTime(v *fastjson.Value) (int64, error) {
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		return featurestore.ParseTime(b2s(b))
	}
	return v.Int64()
}

// malformed reports a JSON syntax error with its byte offset. fastjson's
// errors do not carry one, so the (cold) error path asks encoding/json.
func malformed(body []byte, perr error) error {
	var x any
	err := json.Unmarshal(body, &x)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("malformed JSON at byte %d: %v", se.Offset, se)
	}
	if len(body) == 0 {
		return badRequest("malformed JSON: empty request body")
	}
	return badRequest("malformed JSON: %v", perr)
}

func clipJSON(v *fastjson.Value) string {
	b := v.MarshalTo(nil)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// b2s returns b as a string without copying; b must not change while the
// string is used.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// statusJSON holds each status's quoted name (featurestore.Status.String,
// Feast's names), built once so that encoding a status is one append.
var statusJSON = func() (q [featurestore.OutsideMaxAge + 1]string) {
	for s := range q {
		q[s] = strconv.Quote(featurestore.Status(s).String())
	}
	return q
}()

const epochJSON = `"1970-01-01T00:00:00Z"`

// appendJSON appends r's response in Feast's shape:
//
//	{"metadata":{"feature_names":[…]},"results":[{"values":[…],
//	 "statuses":[…],"event_timestamps":[…]},…]}
//
// column-major, the request's entity columns first (each value PRESENT at
// the epoch, as Feast answers), then the features in request order.
func (r *onlineRequest) appendJSON(b []byte) []byte {
	b = append(b, `{"metadata":{"feature_names":[`...)
	for i := range r.ents {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r.ents[i].name)
	}
	for i := range r.use.features {
		if i > 0 || len(r.ents) > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r.featureName(&r.use.features[i]))
	}
	b = append(b, `]},"results":[`...)
	r.present, r.epochs = r.present[:0], r.epochs[:0]
	for i := range r.ents {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.appendColumn(b, &r.ents[i].col, nil, nil)
	}
	lastSlot := -1
	for i := range r.use.features {
		if i > 0 || len(r.ents) > 0 {
			b = append(b, ',')
		}
		f := &r.use.features[i]
		col, st, ts := r.value(f)
		if f.view != nil && f.view.slot != lastSlot {
			// Features of one view share event times: format them once.
			r.formatTimes(ts)
			lastSlot = f.view.slot
		}
		b = r.appendColumn(b, col, st, ts)
	}
	return append(b, "]}"...)
}

// appendColumn appends one result column. st nil: statuses by validity
// (entity columns and on-demand features); ts nil: epoch times, else the
// times formatted by formatTimes.
func (r *onlineRequest) appendColumn(b []byte, c *compute.Column, st []featurestore.Status, ts []int64) []byte {
	n := r.n
	b = append(b, `{"values":[`...)
	if c.Type == def.Double {
		b = appendDoubles(b, c, n)
	} else {
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, c, i)
		}
	}
	b = append(b, `],"statuses":[`...)
	if allPresent(c, st, n) && allFinite(c, n) {
		// The usual column: every value present, the list formatted once
		// per request.
		if len(r.present) == 0 {
			r.present = joinN(r.present, statusJSON[featurestore.Present], n)
		}
		b = append(b, r.present...)
	} else {
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			s := statusAt(c, st, i)
			if s == featurestore.Present && c.Type == def.Double && !finite(c.F64[i]) {
				// Written null (JSON has no NaN or infinities): a null
				// value is NULL_VALUE, never PRESENT.
				s = featurestore.NullValue
			}
			b = append(b, statusJSON[s]...)
		}
	}
	b = append(b, `],"event_timestamps":[`...)
	if ts == nil {
		if len(r.epochs) == 0 {
			r.epochs = joinN(r.epochs, epochJSON, n)
		}
		b = append(b, r.epochs...)
	} else {
		b = append(b, r.times...)
	}
	return append(b, "]}"...)
}

// appendDoubles appends the n values of a DOUBLE column, comma-separated,
// with putFloats in room reserved for the column at once.
func appendDoubles(b []byte, c *compute.Column, n int) []byte {
	b = slices.Grow(b, n*(floatMax+1)+floatRoom)
	return b[:putFloats(b[:cap(b)], len(b), c.F64[:n], c.Valid)]
}

// allPresent reports whether every one of the n rows is PRESENT.
func allPresent(c *compute.Column, st []featurestore.Status, n int) bool {
	if st == nil {
		for i := 0; i < n; i++ {
			if c.Null(i) {
				return false
			}
		}
		return true
	}
	for _, s := range st[:n] {
		if s != featurestore.Present {
			return false
		}
	}
	return true
}

// allFinite reports whether none of the first n values of c is a NaN
// or an infinity, which appendValue and putFloats write as null.
func allFinite(c *compute.Column, n int) bool {
	if c.Type != def.Double {
		return true
	}
	for _, f := range c.F64[:n] {
		if !finite(f) {
			return false
		}
	}
	return true
}

// finite reports whether f is neither NaN nor an infinity.
func finite(f float64) bool {
	return math.Float64bits(f)&(0x7ff<<52) != 0x7ff<<52
}

// joinN appends n copies of s, comma-separated.
func joinN(b []byte, s string, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return b
}

// statusAt is row i's status: st[i], or for a column without statuses
// (entity columns, on-demand features) PRESENT or NULL_VALUE by validity.
func statusAt(c *compute.Column, st []featurestore.Status, i int) featurestore.Status {
	switch {
	case st != nil:
		return st[i]
	case c.Null(i):
		return featurestore.NullValue
	}
	return featurestore.Present
}

// formatTimes formats event times (microseconds) as quoted RFC 3339 into
// r.times, one per entity, comma-separated: the event_timestamps of every
// feature of one view. A time equal to the one before is copied, not
// formatted again: the entities of a view materialised from one batch
// share their event time.
func (r *onlineRequest) formatTimes(ts []int64) {
	b := r.times[:0]
	prev, pe := 0, 0 // where the time before starts and ends in b
	for i, t := range ts[:r.n] {
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		switch {
		case t == 0:
			b = append(b, epochJSON...)
		case i > 0 && t == ts[i-1]:
			b = append(b, b[prev:pe]...)
		default:
			b = appendTime(b, t)
		}
		prev, pe = start, len(b)
	}
	r.times = b
}

// appendValue appends row i of c as a JSON value: null when null or not a
// finite number (JSON has no NaN or infinities), TIMESTAMP as RFC 3339.
func appendValue(b []byte, c *compute.Column, i int) []byte {
	if c.Null(i) {
		return append(b, "null"...)
	}
	switch c.Type {
	case def.Int64:
		return strconv.AppendInt(b, c.I64[i], 10)
	case def.Double:
		f := c.F64[i]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return appendFloat(b, f)
	case def.Bool:
		return strconv.AppendBool(b, c.B[i])
	case def.String:
		return appendJSONString(b, c.S[i])
	case def.Timestamp:
		return appendTime(b, c.I64[i])
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping what JSON requires
// and replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
