package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/scanner"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// MaxFileSize bounds one definitions file. Definitions are small; a larger
// file is almost certainly the wrong file.
const MaxFileSize = 16 << 20

// DefinitionFileExts are the extensions LoadFiles reads from a directory.
var DefinitionFileExts = []string{".textproto", ".txtpb", ".pbtxt"}

// LoadFiles reads definitions files (textproto of fstore.v1.Definitions) and
// directories (every file with a DefinitionFileExts extension directly in
// them, in name order) and merges them into one set. Relative Parquet paths
// are resolved against the directory of the file that names them, and every
// object's Origin is set to "file:line". It does not validate references;
// Compile does.
func LoadFiles(paths []string) (*fstorev1.Definitions, map[string]string, error) {
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("%w: no definitions files given", ErrLoad)
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrLoad, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrLoad, err)
		}
		n := len(files)
		for _, e := range entries {
			if !e.IsDir() && hasDefExt(e.Name()) {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		if len(files) == n {
			return nil, nil, fmt.Errorf("%w: directory %s holds no definitions files (%s)", ErrLoad, p, strings.Join(DefinitionFileExts, ", "))
		}
	}
	all := &fstorev1.Definitions{}
	origins := map[string]string{}
	counts := map[string]int{}
	for _, f := range files {
		data, err := readLimited(f)
		if err != nil {
			return nil, nil, err
		}
		d, err := ParseText(f, data)
		if err != nil {
			return nil, nil, err
		}
		resolvePaths(d, filepath.Dir(f))
		for k, v := range objectOrigins(f, data, counts) {
			origins[k] = v
		}
		proto.Merge(all, d)
	}
	return all, origins, nil
}

func hasDefExt(name string) bool {
	for _, ext := range DefinitionFileExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoad, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoad, err)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: %s: file is %d bytes, more than the %d allowed for definitions", ErrLoad, path, st.Size(), MaxFileSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrLoad, path, err)
	}
	return data, nil
}

// resolvePaths makes relative Parquet paths, monitoring baselines and
// feature-log destinations absolute against dir.
func resolvePaths(d *fstorev1.Definitions, dir string) {
	for _, s := range d.GetFeatureServices() {
		if l := s.GetLogging(); l != nil && l.GetDestination() != "" && !filepath.IsAbs(l.GetDestination()) {
			if abs, err := filepath.Abs(filepath.Join(dir, l.GetDestination())); err == nil {
				l.Destination = abs
			}
		}
		m := s.GetMonitoring()
		if m == nil || m.GetBaseline() == "" || filepath.IsAbs(m.GetBaseline()) {
			continue
		}
		if abs, err := filepath.Abs(filepath.Join(dir, m.GetBaseline())); err == nil {
			m.Baseline = abs
		}
	}
	for _, s := range d.GetSources() {
		pq := s.GetParquet()
		if pq == nil || pq.GetPath() == "" || filepath.IsAbs(pq.GetPath()) {
			continue
		}
		if abs, err := filepath.Abs(filepath.Join(dir, pq.GetPath())); err == nil {
			pq.Path = abs
		}
	}
}

// ParseText parses one definitions file. name is used in error messages only.
// Enum values may be written in full (VALUE_TYPE_INT64) or short (INT64).
func ParseText(name string, data []byte) (*fstorev1.Definitions, error) {
	lenient, err := lenientDefinitions()
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(lenient)
	if err := (prototext.UnmarshalOptions{}).Unmarshal(data, msg); err != nil {
		return nil, textError(name, data, err)
	}
	// Aliases share numbers with the real values, so the binary encoding
	// of the lenient message is a valid encoding of the real one.
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLoad, name, err)
	}
	out := &fstorev1.Definitions{}
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLoad, name, err)
	}
	return out, nil
}

var (
	lenientOnce  sync.Once
	lenientFiles *protoregistry.Files
	lenientErr   error
	enumNames    []string
	fieldNames   []string
)

// lenientDefinitions returns a descriptor of fstore.v1.Definitions in which
// every enum also accepts its values without the ENUM_NAME_ prefix that buf's
// STANDARD lint requires. Definition files then read as the design wants
// (type: INT64, function: SUM) while the wire form keeps the canonical,
// lint-clean names.
func lenientDefinitions() (protoreflect.MessageDescriptor, error) {
	return lenientMessage((&fstorev1.Definitions{}).ProtoReflect().Descriptor().FullName())
}

// lenientMessage returns the lenient descriptor of any message of the
// fstore.v1 package.
func lenientMessage(name protoreflect.FullName) (protoreflect.MessageDescriptor, error) {
	lenientOnce.Do(func() {
		lenientFiles, lenientErr = buildLenient()
	})
	if lenientErr != nil {
		return nil, lenientErr
	}
	d, err := lenientFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, fmt.Errorf("registry: no lenient descriptor for %s: %w", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("registry: %s is not a message", name)
	}
	return md, nil
}

// UnmarshalJSON is protojson.Unmarshal that also accepts the short enum
// names definition files use ("DOUBLE" for "VALUE_TYPE_DOUBLE"), so that
// REST clients can send definitions as they write them. Messages outside
// the fstore.v1 package are unmarshalled as protojson does.
func UnmarshalJSON(data []byte, m proto.Message) error {
	md, err := lenientMessage(m.ProtoReflect().Descriptor().FullName())
	if err != nil {
		return protojson.Unmarshal(data, m)
	}
	dyn := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(data, dyn); err != nil {
		return err
	}
	b, err := proto.Marshal(dyn)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

func buildLenient() (*protoregistry.Files, error) {
	root := (&fstorev1.Definitions{}).ProtoReflect().Descriptor()
	pkg := root.ParentFile().Package()
	// Collect the package's files and their dependencies in dependency order.
	var fds []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(f protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := 0; i < imports.Len(); i++ {
			visit(imports.Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(f)
		if f.Package() == pkg {
			for _, e := range fdp.EnumType {
				addShortAliases(e)
			}
			for _, m := range fdp.MessageType {
				collectFieldNames(m)
			}
		}
		fds = append(fds, fdp)
	}
	visit(root.ParentFile())
	// Every message of the package, not only those Definitions reaches.
	for _, f := range []protoreflect.FileDescriptor{
		fstorev1.File_fstore_v1_registry_proto, fstorev1.File_fstore_v1_model_proto,
	} {
		visit(f)
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: fds})
	if err != nil {
		return nil, fmt.Errorf("registry: cannot build lenient descriptors: %w", err)
	}
	sort.Strings(enumNames)
	sort.Strings(fieldNames)
	return files, nil
}

// addShortAliases adds, for every value but the zero one, an alias without
// the prefix derived from the enum's name.
func addShortAliases(e *descriptorpb.EnumDescriptorProto) {
	prefix := upperSnake(e.GetName()) + "_"
	var aliases []*descriptorpb.EnumValueDescriptorProto
	for _, v := range e.Value {
		enumNames = append(enumNames, v.GetName())
		short, ok := strings.CutPrefix(v.GetName(), prefix)
		if !ok || v.GetNumber() == 0 || short == "" || (short[0] >= '0' && short[0] <= '9') {
			continue
		}
		enumNames = append(enumNames, short)
		aliases = append(aliases, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(short), Number: v.Number})
	}
	if len(aliases) == 0 {
		return
	}
	e.Value = append(e.Value, aliases...)
	if e.Options == nil {
		e.Options = &descriptorpb.EnumOptions{}
	}
	e.Options.AllowAlias = proto.Bool(true)
}

func collectFieldNames(m *descriptorpb.DescriptorProto) {
	for _, f := range m.Field {
		fieldNames = append(fieldNames, f.GetName())
	}
	for _, n := range m.NestedType {
		collectFieldNames(n)
	}
}

// upperSnake turns "ValueType" into "VALUE_TYPE".
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			continue
		}
		b.WriteRune(r - 'a' + 'A')
	}
	return b.String()
}

var textPos = regexp.MustCompile(`\(line (\d+):(\d+)\): (.*)$`)

// SyntaxError is a textproto error in a definitions file. It matches ErrLoad.
type SyntaxError struct {
	File      string
	Line, Col int // 1-based; 0 when unknown
	Msg       string
}

// Error formats the error as "file:line:col: msg", the form editors jump to.
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Is makes errors.Is(err, ErrLoad) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrLoad }

// textError turns a prototext error into a SyntaxError, adding a "did you
// mean" hint for unknown fields and enum values.
func textError(name string, data []byte, err error) error {
	msg := strings.TrimSpace(err.Error())
	m := textPos.FindStringSubmatch(msg)
	if m == nil {
		msg = strings.TrimPrefix(msg, "proto: ")
		if strings.Contains(msg, "unexpected EOF") {
			line, col := endPosition(data)
			return &SyntaxError{File: name, Line: line, Col: col, Msg: "unexpected end of file (an unclosed '{' or '['?)"}
		}
		return &SyntaxError{File: name, Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	detail := m[3]
	if v, ok := strings.CutPrefix(detail, "unknown field: "); ok {
		detail = "unknown field " + strconv.Quote(v) + def.HintFor(v, fieldNames)
	} else if v, ok := strings.CutPrefix(detail, "invalid value for enum type: "); ok {
		detail = "invalid enum value " + strconv.Quote(v) + def.HintFor(v, enumNames)
	}
	return &SyntaxError{File: name, Line: line, Col: col, Msg: detail}
}

func endPosition(data []byte) (line, col int) {
	line, col = 1, 1
	for _, c := range data {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// objectOrigins maps "kind/index" of every top-level object in a file that
// parsed to "file:line". It walks tokens, not messages: at depth 0 every
// `field {` (or each element of `field: [ {…}, … ]`) opens one object.
// counts carries the number of objects of each field seen in earlier files,
// so that indexes match the merged definitions.
func objectOrigins(name string, data []byte, counts map[string]int) map[string]string {
	var s scanner.Scanner
	s.Init(strings.NewReader(string(data)))
	s.Mode = scanner.ScanIdents | scanner.ScanStrings | scanner.ScanRawStrings | scanner.ScanInts | scanner.ScanFloats
	s.Error = func(*scanner.Scanner, string) {}
	s.IsIdentRune = func(ch rune, i int) bool {
		return ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' && i > 0
	}
	out := map[string]string{}
	depth := 0
	field := ""
	skipComment := func() {
		for ch := s.Peek(); ch != '\n' && ch != scanner.EOF; ch = s.Peek() {
			s.Next()
		}
	}
	for tok := s.Scan(); tok != scanner.EOF; tok = s.Scan() {
		switch {
		case tok == '#':
			skipComment()
		case tok == scanner.Ident && depth == 0:
			field = s.TokenText()
		case tok == '{' || tok == '<':
			if depth == 0 && field != "" {
				out[field+"/"+strconv.Itoa(counts[field])] = fmt.Sprintf("%s:%d", name, s.Position.Line)
				counts[field]++
			}
			depth++
		case tok == '}' || tok == '>':
			if depth > 0 {
				depth--
			}
		}
	}
	return out
}
