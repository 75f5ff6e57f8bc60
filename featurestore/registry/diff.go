package registry

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fstore/fstore/featurestore/def"
)

// ChangeType is the kind of change of one object between two versions.
type ChangeType uint8

// The change types; their numbers match fstore.v1.ChangeType.
const (
	ChangeAdded ChangeType = iota + 1
	ChangeChanged
	ChangeRemoved
)

// String returns "added", "changed" or "removed".
func (t ChangeType) String() string {
	switch t {
	case ChangeAdded:
		return "added"
	case ChangeChanged:
		return "changed"
	case ChangeRemoved:
		return "removed"
	}
	return "unknown"
}

// Change is one object's difference between two versions.
type Change struct {
	Type     ChangeType
	Kind     def.Kind
	Name     string
	Breaking bool
	// Details lists what changed, one line each; breaking reasons first,
	// prefixed with "BREAKING: ".
	Details []string
	OldHash string
	NewHash string
}

type objectKey struct {
	kind def.Kind
	name string
}

// diff compares two versions' objects. old and cur map objects to their
// content hashes; oldIx and curIx resolve references.
func diff(oldIx, curIx *def.Index, oldHash, curHash map[objectKey]string) []Change {
	var changes []Change
	for _, o := range curIx.Defs.Objects() {
		k := objectKey{o.ObjectKind(), o.ObjectName()}
		prev := oldIx.Lookup(k.kind, k.name)
		switch {
		case prev == nil:
			changes = append(changes, Change{Type: ChangeAdded, Kind: k.kind, Name: k.name, NewHash: curHash[k]})
		case oldHash[k] != curHash[k]:
			c := Change{Type: ChangeChanged, Kind: k.kind, Name: k.name, OldHash: oldHash[k], NewHash: curHash[k]}
			breaking := breakingReasons(oldIx, curIx, prev, o)
			for _, r := range breaking {
				c.Details = append(c.Details, "BREAKING: "+r)
			}
			c.Breaking = len(breaking) > 0
			c.Details = append(c.Details, fieldDiff(objectProto(prev), objectProto(o))...)
			changes = append(changes, c)
		}
	}
	for _, o := range oldIx.Defs.Objects() {
		k := objectKey{o.ObjectKind(), o.ObjectName()}
		if curIx.Lookup(k.kind, k.name) != nil {
			continue
		}
		c := Change{Type: ChangeRemoved, Kind: k.kind, Name: k.name, OldHash: oldHash[k]}
		switch k.kind {
		case def.KindFeatureView, def.KindOnDemandView:
			c.Breaking = true
			c.Details = []string{"BREAKING: clients requesting its features will get errors"}
		case def.KindFeatureService:
			c.Breaking = true
			c.Details = []string{"BREAKING: clients requesting this service will get errors"}
		}
		changes = append(changes, c)
	}
	return changes
}

// breakingReasons explains why changing prev into cur can break readers of
// the old version: stored keys that no longer match, types that change, and
// features that a feature service served and no longer does.
func breakingReasons(oldIx, curIx *def.Index, prev, cur def.Object) []string {
	var out []string
	switch p := prev.(type) {
	case *def.Entity:
		c := cur.(*def.Entity)
		if !slices.Equal(p.JoinKeys, c.JoinKeys) {
			out = append(out, fmt.Sprintf("join keys changed from %s to %s: online keys and training spines no longer match", keyList(p.JoinKeys), keyList(c.JoinKeys)))
		}
	case *def.FeatureView:
		c := cur.(*def.FeatureView)
		if !slices.Equal(p.Entities, c.Entities) {
			out = append(out, fmt.Sprintf("entities changed from [%s] to [%s]: the view's key changes", strings.Join(p.Entities, " "), strings.Join(c.Entities, " ")))
		}
		for _, pf := range p.Features {
			for _, cf := range c.Features {
				if pf.Name == cf.Name && pf.Type != cf.Type {
					out = append(out, fmt.Sprintf("feature %q changes type from %s to %s", pf.Name, pf.Type, cf.Type))
				}
			}
		}
		for _, pa := range p.Aggregations {
			for _, ca := range c.Aggregations {
				if pa.Name != ca.Name {
					continue
				}
				if pa.Func != ca.Func {
					out = append(out, fmt.Sprintf("aggregation %q changes function from %s to %s: stored tiles hold the old intermediate", pa.Name, pa.Func, ca.Func))
				}
				if pa.Hop != ca.Hop {
					out = append(out, fmt.Sprintf("aggregation %q changes hop from %s to %s: stored tiles no longer align", pa.Name, def.FormatDuration(pa.Hop), def.FormatDuration(ca.Hop)))
				}
			}
		}
		out = append(out, droppedFromServices(oldIx, curIx, p.Name)...)
	case *def.OnDemandFeatureView:
		c := cur.(*def.OnDemandFeatureView)
		for _, pf := range p.Features {
			for _, cf := range c.Features {
				if pf.Name == cf.Name && pf.Type != cf.Type {
					out = append(out, fmt.Sprintf("feature %q changes type from %s to %s", pf.Name, pf.Type, cf.Type))
				}
			}
		}
		out = append(out, droppedFromServices(oldIx, curIx, p.Name)...)
	case *def.FeatureService:
		before, _ := oldIx.ServiceFeatures(p.Name)
		after, _ := curIx.ServiceFeatures(p.Name)
		for _, r := range before {
			if !slices.Contains(after, r) {
				out = append(out, fmt.Sprintf("no longer serves %s: models trained on this service expect it", r))
			}
		}
	case *def.Model:
		c := cur.(*def.Model)
		if p.FeatureService != c.FeatureService {
			out = append(out, fmt.Sprintf("feature service changed from %q to %q: registered versions were trained on the old one", p.FeatureService, c.FeatureService))
		}
	}
	return out
}

// droppedFromServices names the features of view that a feature service of
// the old version served and that are gone from the view now.
func droppedFromServices(oldIx, curIx *def.Index, view string) []string {
	var out []string
	for _, s := range oldIx.Defs.FeatureServices {
		if curIx.FeatureService(s.Name) == nil {
			continue // the service's own removal is reported on its own
		}
		refs, _ := oldIx.ServiceFeatures(s.Name)
		for _, r := range refs {
			if r.View != view {
				continue
			}
			if !viewHas(curIx, view, r.Feature) {
				out = append(out, fmt.Sprintf("feature %q is removed but feature service %q served it", r.Feature, s.Name))
			}
		}
	}
	return out
}

func viewHas(ix *def.Index, view, feature string) bool {
	if v := ix.FeatureView(view); v != nil {
		return slices.Contains(v.FeatureNames(), feature)
	}
	if v := ix.OnDemandView(view); v != nil {
		return slices.Contains(v.FeatureNames(), feature)
	}
	return false
}

func keyList(ks []def.Field) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.Name + " " + k.Type.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fieldDiff lists the fields that differ between two messages of one type,
// one line each ("features[conv_rate].expr: \"a\" → \"b\""). Repeated
// messages with a name field are matched by name.
func fieldDiff(a, b proto.Message) []string {
	var out []string
	diffMessage(a.ProtoReflect(), b.ProtoReflect(), "", &out)
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func diffMessage(a, b protoreflect.Message, path string, out *[]string) {
	if a.Descriptor().FullName() == durationFullName {
		if da, db := asDuration(a), asDuration(b); da != db {
			*out = append(*out, fmt.Sprintf("%s: %s → %s", path, def.FormatDuration(da), def.FormatDuration(db)))
		}
		return
	}
	fields := a.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		p := join(path, string(fd.Name()))
		if !a.Has(fd) && !b.Has(fd) {
			continue
		}
		va, vb := a.Get(fd), b.Get(fd)
		switch {
		case fd.IsMap():
			diffMap(fd, va.Map(), vb.Map(), p, out)
		case fd.IsList():
			diffList(fd, va.List(), vb.List(), p, out)
		case fd.Kind() == protoreflect.MessageKind:
			switch {
			case !a.Has(fd):
				*out = append(*out, p+": set")
			case !b.Has(fd):
				*out = append(*out, p+": unset")
			default:
				diffMessage(va.Message(), vb.Message(), p, out)
			}
		default:
			if !va.Equal(vb) || a.Has(fd) != b.Has(fd) {
				*out = append(*out, fmt.Sprintf("%s: %s → %s", p, formatScalar(fd, va, a.Has(fd)), formatScalar(fd, vb, b.Has(fd))))
			}
		}
	}
}

var durationFullName = (&durationpb.Duration{}).ProtoReflect().Descriptor().FullName()

func asDuration(m protoreflect.Message) time.Duration {
	fields := m.Descriptor().Fields()
	s := m.Get(fields.ByName("seconds")).Int()
	n := m.Get(fields.ByName("nanos")).Int()
	return time.Duration(s)*time.Second + time.Duration(n)
}

func formatScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value, set bool) string {
	if !set && fd.HasPresence() {
		return "unset"
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return fmt.Sprintf("%q", v.String())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return shortEnum(fd.Enum(), string(ev.Name()))
		}
	}
	return fmt.Sprint(v.Interface())
}

// shortEnum strips the ENUM_NAME_ prefix, as definition files write values.
func shortEnum(ed protoreflect.EnumDescriptor, name string) string {
	return strings.TrimPrefix(name, upperSnake(string(ed.Name()))+"_")
}

func diffList(fd protoreflect.FieldDescriptor, a, b protoreflect.List, path string, out *[]string) {
	if fd.Kind() == protoreflect.MessageKind {
		if nameFD := fd.Message().Fields().ByName("name"); nameFD != nil && nameFD.Kind() == protoreflect.StringKind {
			byName := func(l protoreflect.List) (map[string]protoreflect.Message, []string) {
				m := map[string]protoreflect.Message{}
				var order []string
				for i := 0; i < l.Len(); i++ {
					msg := l.Get(i).Message()
					n := msg.Get(nameFD).String()
					m[n] = msg
					order = append(order, n)
				}
				return m, order
			}
			am, aOrder := byName(a)
			bm, bOrder := byName(b)
			for _, n := range aOrder {
				if _, ok := bm[n]; !ok {
					*out = append(*out, fmt.Sprintf("%s[%s]: removed", path, n))
				}
			}
			for _, n := range bOrder {
				if prev, ok := am[n]; !ok {
					*out = append(*out, fmt.Sprintf("%s[%s]: added", path, n))
				} else {
					diffMessage(prev, bm[n], fmt.Sprintf("%s[%s]", path, n), out)
				}
			}
			common := func(order []string, other map[string]protoreflect.Message) []string {
				var c []string
				for _, n := range order {
					if _, ok := other[n]; ok {
						c = append(c, n)
					}
				}
				return c
			}
			if ca, cb := common(aOrder, bm), common(bOrder, am); !slices.Equal(ca, cb) {
				*out = append(*out, fmt.Sprintf("%s: order changed", path))
			}
			return
		}
	}
	if !listEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: %s → %s", path, formatList(fd, a), formatList(fd, b)))
	}
}

func listEqual(a, b protoreflect.List) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		va, vb := a.Get(i), b.Get(i)
		if m, ok := va.Interface().(protoreflect.Message); ok {
			if !proto.Equal(m.Interface(), vb.Message().Interface()) {
				return false
			}
			continue
		}
		if !va.Equal(vb) {
			return false
		}
	}
	return true
}

func formatList(fd protoreflect.FieldDescriptor, l protoreflect.List) string {
	parts := make([]string, l.Len())
	for i := range parts {
		if fd.Kind() == protoreflect.MessageKind {
			parts[i] = fmt.Sprint(l.Get(i).Message().Interface())
			continue
		}
		parts[i] = formatScalar(fd, l.Get(i), true)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func diffMap(fd protoreflect.FieldDescriptor, a, b protoreflect.Map, path string, out *[]string) {
	keys := map[string]protoreflect.MapKey{}
	a.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys[k.String()] = k; return true })
	b.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys[k.String()] = k; return true })
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	vfd := fd.MapValue()
	for _, n := range names {
		k := keys[n]
		p := fmt.Sprintf("%s[%s]", path, n)
		switch {
		case !a.Has(k):
			*out = append(*out, fmt.Sprintf("%s: added %s", p, formatScalar(vfd, b.Get(k), true)))
		case !b.Has(k):
			*out = append(*out, p+": removed")
		case !a.Get(k).Equal(b.Get(k)):
			*out = append(*out, fmt.Sprintf("%s: %s → %s", p, formatScalar(vfd, a.Get(k), true), formatScalar(vfd, b.Get(k), true)))
		}
	}
}
