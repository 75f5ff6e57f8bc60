package registry

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// ObjectMeta is what the registry records about one object.
type ObjectMeta struct {
	Kind def.Kind
	Name string
	// Version is the registry version in which this content first appeared.
	Version     uint64
	ContentHash string
	UpdatedAt   time.Time
}

// VersionInfo describes one registry version.
type VersionInfo struct {
	Version     uint64
	ContentHash string
	CreatedAt   time.Time
	Description string
	Changes     []Change
	ObjectCount int
}

// Snapshot is one registry version: immutable, indexed definitions. It is
// safe for concurrent use; callers must not modify what it returns.
type Snapshot struct {
	Version uint64
	Info    VersionInfo
	Defs    *def.Definitions
	Index   *def.Index
	metas   map[objectKey]ObjectMeta
}

func emptySnapshot() *Snapshot {
	return newSnapshot(VersionInfo{}, &def.Definitions{}, map[objectKey]ObjectMeta{})
}

func newSnapshot(info VersionInfo, d *def.Definitions, metas map[objectKey]ObjectMeta) *Snapshot {
	return &Snapshot{Version: info.Version, Info: info, Defs: d, Index: def.NewIndex(d), metas: metas}
}

// Meta returns the metadata of one object.
func (s *Snapshot) Meta(k def.Kind, name string) (ObjectMeta, bool) {
	m, ok := s.metas[objectKey{k, name}]
	return m, ok
}

// Object returns the object of kind k called name with its metadata as a
// protobuf message, or nil.
func (s *Snapshot) Object(k def.Kind, name string) *fstorev1.RegistryObject {
	o := s.Index.Lookup(k, name)
	if o == nil {
		return nil
	}
	ro := ObjectProto(o)
	if m, ok := s.metas[objectKey{k, name}]; ok {
		ro.Meta = metaToProto(m)
	}
	return ro
}

// Objects returns every object of kind k (every object when k is empty) in
// listing order, as protobuf messages with metadata.
func (s *Snapshot) Objects(k def.Kind) []*fstorev1.RegistryObject {
	var out []*fstorev1.RegistryObject
	for _, o := range s.Defs.Objects() {
		if k != "" && o.ObjectKind() != k {
			continue
		}
		out = append(out, s.Object(o.ObjectKind(), o.ObjectName()))
	}
	return out
}

// VersionToProto converts version information for the API.
func VersionToProto(v VersionInfo) *fstorev1.RegistryVersion { return versionToProto(v) }

func versionToProto(v VersionInfo) *fstorev1.RegistryVersion {
	p := &fstorev1.RegistryVersion{
		Version:     v.Version,
		ContentHash: v.ContentHash,
		Description: v.Description,
		ObjectCount: uint32(v.ObjectCount),
		Changes:     ChangesToProto(v.Changes),
	}
	if !v.CreatedAt.IsZero() {
		p.CreatedAt = timestamppb.New(v.CreatedAt)
	}
	return p
}

func versionFromProto(p *fstorev1.RegistryVersion) VersionInfo {
	v := VersionInfo{
		Version:     p.GetVersion(),
		ContentHash: p.GetContentHash(),
		Description: p.GetDescription(),
		ObjectCount: int(p.GetObjectCount()),
	}
	if p.GetCreatedAt() != nil {
		v.CreatedAt = p.GetCreatedAt().AsTime()
	}
	for _, c := range p.GetChanges() {
		v.Changes = append(v.Changes, Change{
			Type: ChangeType(c.GetType()), Kind: def.Kind(c.GetKind()), Name: c.GetName(),
			Breaking: c.GetBreaking(), Details: c.GetDetails(), OldHash: c.GetOldHash(), NewHash: c.GetNewHash(),
		})
	}
	return v
}

// ChangesToProto converts changes for the API.
func ChangesToProto(cs []Change) []*fstorev1.Change {
	out := make([]*fstorev1.Change, len(cs))
	for i, c := range cs {
		out[i] = &fstorev1.Change{
			Type: fstorev1.ChangeType(c.Type), Kind: string(c.Kind), Name: c.Name,
			Breaking: c.Breaking, Details: c.Details, OldHash: c.OldHash, NewHash: c.NewHash,
		}
	}
	return out
}

// SnapshotFromObjects rebuilds a snapshot from objects read through the API
// (List), for clients that cannot open the data directory.
func SnapshotFromObjects(version uint64, objs []*fstorev1.RegistryObject) (*Snapshot, error) {
	d := &def.Definitions{}
	metas := make(map[objectKey]ObjectMeta, len(objs))
	for _, ro := range objs {
		o, err := addObject(d, ro)
		if err != nil {
			return nil, err
		}
		metas[objectKey{o.ObjectKind(), o.ObjectName()}] = metaFromProto(ro.GetMeta())
	}
	return newSnapshot(VersionInfo{Version: version}, d, metas), nil
}
