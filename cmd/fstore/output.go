package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/serve"
)

// printJSON writes m as the REST gateway does, so that `-o json` output and
// REST responses are interchangeable.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := serve.JSONMarshaler.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func printPlan(w io.Writer, resp *fstorev1.PlanResponse) {
	if len(resp.GetChanges()) == 0 {
		fmt.Fprintf(w, "no changes against registry version %d\n", resp.GetBaseVersion())
		return
	}
	printChanges(w, resp.GetChanges())
	n := 0
	for _, c := range resp.GetChanges() {
		if c.GetBreaking() {
			n++
		}
	}
	fmt.Fprintf(w, "%d changes against registry version %d", len(resp.GetChanges()), resp.GetBaseVersion())
	if n > 0 {
		fmt.Fprintf(w, ", %d BREAKING: apply needs --allow-breaking", n)
	}
	fmt.Fprintln(w)
}

func printChanges(w io.Writer, changes []*fstorev1.Change) {
	for _, c := range changes {
		mark := map[fstorev1.ChangeType]string{
			fstorev1.ChangeType_CHANGE_TYPE_ADDED:   "+",
			fstorev1.ChangeType_CHANGE_TYPE_CHANGED: "~",
			fstorev1.ChangeType_CHANGE_TYPE_REMOVED: "-",
		}[c.GetType()]
		fmt.Fprintf(w, "%s %s %s", mark, c.GetKind(), c.GetName())
		if c.GetBreaking() {
			fmt.Fprint(w, "  (BREAKING)")
		}
		fmt.Fprintln(w)
		for _, d := range c.GetDetails() {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
}

func formatTime(t interface{ AsTime() time.Time }) string {
	return t.AsTime().UTC().Format("2006-01-02 15:04:05Z")
}

// summary describes an object in one line for listings.
func summary(o *fstorev1.RegistryObject) string {
	switch s := o.GetSpec().(type) {
	case *fstorev1.RegistryObject_Entity:
		var keys []string
		for _, k := range s.Entity.GetJoinKeys() {
			keys = append(keys, k.GetName()+":"+shortEnum(k.GetType().String()))
		}
		return "keys " + strings.Join(keys, ", ")
	case *fstorev1.RegistryObject_Source:
		src := s.Source
		if pq := src.GetParquet(); pq != nil {
			return "parquet " + pq.GetPath()
		}
		if ps := src.GetPush(); ps != nil && ps.GetBatchSource() != "" {
			return "push (batch source " + ps.GetBatchSource() + ")"
		}
		return "push"
	case *fstorev1.RegistryObject_FeatureView:
		v := s.FeatureView
		out := fmt.Sprintf("%s ← %s: %d features, %d aggregations", strings.Join(v.GetEntities(), "+"), v.GetSource(), len(v.GetFeatures()), len(v.GetAggregations()))
		if v.GetTtl() != nil {
			out += ", ttl " + def.FormatDuration(v.GetTtl().AsDuration())
		}
		if v.Online != nil && !*v.Online {
			out += ", offline only"
		}
		return out
	case *fstorev1.RegistryObject_OnDemandFeatureView:
		return fmt.Sprintf("%d features from %d request fields and %d inputs", len(s.OnDemandFeatureView.GetFeatures()), len(s.OnDemandFeatureView.GetRequestFields()), len(s.OnDemandFeatureView.GetInputs()))
	case *fstorev1.RegistryObject_FeatureService:
		return strings.Join(s.FeatureService.GetFeatures(), " ")
	case *fstorev1.RegistryObject_Model:
		return "feature service " + s.Model.GetFeatureService()
	case *fstorev1.RegistryObject_Endpoint:
		return "model " + s.Endpoint.GetModel()
	}
	return ""
}

func shortEnum(s string) string {
	for _, p := range []string{"VALUE_TYPE_", "AGGREGATION_FUNCTION_"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func printObjects(w io.Writer, objs []*fstorev1.RegistryObject) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tVERSION\tUPDATED\tSUMMARY")
	for _, o := range objs {
		m := o.GetMeta()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", m.GetKind(), m.GetName(), m.GetVersion(), formatTime(m.GetUpdatedAt()), summary(o))
	}
	tw.Flush()
}

// printObject prints metadata, then the definition as textproto, the form
// it is written in.
func printObject(w io.Writer, version uint64, o *fstorev1.RegistryObject) error {
	m := o.GetMeta()
	fmt.Fprintf(w, "# %s %s\n# registry version %d; this content since version %d (%s); sha256 %s\n",
		m.GetKind(), m.GetName(), version, m.GetVersion(), formatTime(m.GetUpdatedAt()), m.GetContentHash())
	spec := o.ProtoReflect()
	oneof := spec.Descriptor().Oneofs().ByName("spec")
	fd := spec.WhichOneof(oneof)
	if fd == nil {
		return fmt.Errorf("object %s %s holds no definition", m.GetKind(), m.GetName())
	}
	b, err := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(spec.Get(fd).Message().Interface())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s", tidyText(b))
	return nil
}

var (
	textField = regexp.MustCompile(`^(\s*[a-z_0-9]+):\s+(.*)$`)
	enumValue = regexp.MustCompile(`^(VALUE_TYPE|AGGREGATION_FUNCTION)_([A-Z0-9_]+)$`)
)

// tidyText normalises prototext output into the style definition files are
// written in: the protobuf module varies the spacing of its text output
// between builds on purpose, and writes enums with their long prefixes.
// Each line of multiline output starts with a field name, so the separator
// after it is found without looking into string values.
func tidyText(b []byte) string {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		m := textField.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		value := m[2]
		if e := enumValue.FindStringSubmatch(value); e != nil {
			value = e[2]
		}
		if value == "{" {
			lines[i] = m[1] + " {"
			continue
		}
		lines[i] = m[1] + ": " + value
	}
	return strings.Join(lines, "\n")
}

func printHistory(w io.Writer, versions []*fstorev1.RegistryVersion) {
	if len(versions) == 0 {
		fmt.Fprintln(w, "no versions: apply definitions with 'fstore apply -f PATH'")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tOBJECTS\tCHANGES\tHASH\tDESCRIPTION")
	for _, v := range versions {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", v.GetVersion(), formatTime(v.GetCreatedAt()), v.GetObjectCount(), changeCounts(v.GetChanges()), shortHash(v.GetContentHash()), v.GetDescription())
	}
	tw.Flush()
}

// changeCounts summarises changes as "+3 ~1 -0 (1 breaking)".
func changeCounts(cs []*fstorev1.Change) string {
	n := map[fstorev1.ChangeType]int{}
	breaking := 0
	for _, c := range cs {
		n[c.GetType()]++
		if c.GetBreaking() {
			breaking++
		}
	}
	s := fmt.Sprintf("+%d ~%d -%d", n[fstorev1.ChangeType_CHANGE_TYPE_ADDED], n[fstorev1.ChangeType_CHANGE_TYPE_CHANGED], n[fstorev1.ChangeType_CHANGE_TYPE_REMOVED])
	if breaking > 0 {
		s += fmt.Sprintf(" (%d breaking)", breaking)
	}
	return s
}
