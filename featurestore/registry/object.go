package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// objectProto converts one definition to its protobuf message.
func objectProto(o def.Object) proto.Message {
	switch v := o.(type) {
	case *def.Entity:
		return entityFromDef(v)
	case *def.Source:
		return sourceFromDef(v)
	case *def.FeatureView:
		return viewFromDef(v)
	case *def.OnDemandFeatureView:
		return odViewFromDef(v)
	case *def.FeatureService:
		return serviceFromDef(v)
	case *def.Model:
		return modelFromDef(v)
	case *def.Endpoint:
		return endpointFromDef(v)
	}
	panic(fmt.Sprintf("registry: unknown object type %T", o))
}

// ObjectProto wraps one definition in a RegistryObject without metadata.
func ObjectProto(o def.Object) *fstorev1.RegistryObject {
	ro := &fstorev1.RegistryObject{}
	switch v := objectProto(o).(type) {
	case *fstorev1.Entity:
		ro.Spec = &fstorev1.RegistryObject_Entity{Entity: v}
	case *fstorev1.Source:
		ro.Spec = &fstorev1.RegistryObject_Source{Source: v}
	case *fstorev1.FeatureView:
		ro.Spec = &fstorev1.RegistryObject_FeatureView{FeatureView: v}
	case *fstorev1.OnDemandFeatureView:
		ro.Spec = &fstorev1.RegistryObject_OnDemandFeatureView{OnDemandFeatureView: v}
	case *fstorev1.FeatureService:
		ro.Spec = &fstorev1.RegistryObject_FeatureService{FeatureService: v}
	case *fstorev1.Model:
		ro.Spec = &fstorev1.RegistryObject_Model{Model: v}
	case *fstorev1.Endpoint:
		ro.Spec = &fstorev1.RegistryObject_Endpoint{Endpoint: v}
	}
	return ro
}

// addObject appends the definition held by ro to d and returns it, or an
// error if ro holds none.
func addObject(d *def.Definitions, ro *fstorev1.RegistryObject) (def.Object, error) {
	switch s := ro.GetSpec().(type) {
	case *fstorev1.RegistryObject_Entity:
		o := entityToDef(s.Entity)
		d.Entities = append(d.Entities, o)
		return o, nil
	case *fstorev1.RegistryObject_Source:
		o := sourceToDef(s.Source)
		d.Sources = append(d.Sources, o)
		return o, nil
	case *fstorev1.RegistryObject_FeatureView:
		o := viewToDef(s.FeatureView)
		d.FeatureViews = append(d.FeatureViews, o)
		return o, nil
	case *fstorev1.RegistryObject_OnDemandFeatureView:
		o := odViewToDef(s.OnDemandFeatureView)
		d.OnDemandViews = append(d.OnDemandViews, o)
		return o, nil
	case *fstorev1.RegistryObject_FeatureService:
		o := serviceToDef(s.FeatureService)
		d.FeatureServices = append(d.FeatureServices, o)
		return o, nil
	case *fstorev1.RegistryObject_Model:
		o := modelToDef(s.Model)
		d.Models = append(d.Models, o)
		return o, nil
	case *fstorev1.RegistryObject_Endpoint:
		o := endpointToDef(s.Endpoint)
		d.Endpoints = append(d.Endpoints, o)
		return o, nil
	}
	return nil, fmt.Errorf("%w: object holds no definition", ErrCorrupt)
}

// encodeObject returns the stored bytes of one object and their content
// hash: SHA-256 of the deterministic encoding of a RegistryObject holding
// only the definition (the oneof field number makes kinds distinct).
// It fails only for strings that are not valid UTF-8.
func encodeObject(o def.Object) ([]byte, [32]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ObjectProto(o))
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("%w: %s %q: %v", def.ErrInvalid, o.ObjectKind(), o.ObjectName(), err)
	}
	return b, sha256.Sum256(b), nil
}

// versionHash hashes the sorted (kind, name, content hash) of every object.
func versionHash(hashes map[objectKey]string) string {
	lines := make([]string, 0, len(hashes))
	for k, h := range hashes {
		lines = append(lines, string(k.kind)+"\x00"+k.name+"\x00"+h)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}
