package registry

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// Key layout in the Pebble database. Every registry key starts with
// "registry/", so the registry shares one database with other state.
//
//	registry/head                     → version (8 bytes, big-endian)
//	registry/version/<version BE8>    → VersionManifest
//	registry/object/<sha256>          → RegistryObject (spec only)
var (
	keyHead          = []byte("registry/head")
	keyVersionPrefix = []byte("registry/version/")
	keyObjectPrefix  = []byte("registry/object/")
)

func versionKey(v uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), keyVersionPrefix...), v)
}

func objectKeyBytes(h [32]byte) []byte {
	return append(append([]byte(nil), keyObjectPrefix...), h[:]...)
}

// Options configures a Registry. The zero value is valid.
type Options struct {
	// Checker type-checks expressions during validation. Default: none,
	// so expressions are stored unchecked.
	Checker def.Checker
	// Now returns the time recorded with a new version. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() *Options {
	if o == nil {
		o = &Options{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Registry is the versioned store of definitions. Every Apply writes one
// immutable version atomically; readers get immutable Snapshots. A Registry
// is safe for concurrent use; applies are serialised.
type Registry struct {
	db   *pebble.DB
	opts *Options

	applyMu sync.Mutex // serialises Apply

	notifyMu sync.Mutex
	latest   atomic.Pointer[Snapshot]
	notify   chan struct{} // closed and replaced when a version is published
	closed   bool
}

// Open opens the registry stored in db, which the caller keeps owning.
func Open(db *pebble.DB, opts *Options) (*Registry, error) {
	r := &Registry{db: db, opts: opts.EnsureDefaults(), notify: make(chan struct{})}
	head, err := r.head()
	if err != nil {
		return nil, err
	}
	s := emptySnapshot()
	if head > 0 {
		if s, err = r.load(head); err != nil {
			return nil, err
		}
	}
	r.latest.Store(s)
	return r, nil
}

// Close wakes every Wait with ErrClosed. It does not close the database.
func (r *Registry) Close() {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.notify)
	}
}

func (r *Registry) head() (uint64, error) {
	v, closer, err := r.db.Get(keyHead)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("registry: cannot read head: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: head is %d bytes, want 8", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Latest returns the newest snapshot (version 0 and empty when nothing was
// ever applied). It never blocks and never fails.
func (r *Registry) Latest() *Snapshot { return r.latest.Load() }

// At returns the snapshot of one version; 0 means the latest.
func (r *Registry) At(version uint64) (*Snapshot, error) {
	latest := r.Latest()
	if version == 0 || version == latest.Version {
		return latest, nil
	}
	if version > latest.Version {
		return nil, fmt.Errorf("%w: version %d (the latest is %d)", ErrNotFound, version, latest.Version)
	}
	return r.load(version)
}

func (r *Registry) manifest(version uint64) (*fstorev1.VersionManifest, error) {
	v, closer, err := r.db.Get(versionKey(version))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: version %d", ErrNotFound, version)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: cannot read version %d: %w", version, err)
	}
	defer closer.Close()
	m := &fstorev1.VersionManifest{}
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("%w: version %d: %v", ErrCorrupt, version, err)
	}
	return m, nil
}

func (r *Registry) load(version uint64) (*Snapshot, error) {
	m, err := r.manifest(version)
	if err != nil {
		return nil, err
	}
	d := &def.Definitions{}
	metas := make(map[objectKey]ObjectMeta, len(m.GetObjects()))
	for _, om := range m.GetObjects() {
		h, err := hex.DecodeString(om.GetContentHash())
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("%w: version %d: %s %q: bad content hash %q", ErrCorrupt, version, om.GetKind(), om.GetName(), om.GetContentHash())
		}
		b, closer, err := r.db.Get(objectKeyBytes([32]byte(h)))
		if err != nil {
			return nil, fmt.Errorf("%w: version %d: %s %q: object %s: %v", ErrCorrupt, version, om.GetKind(), om.GetName(), om.GetContentHash(), err)
		}
		ro := &fstorev1.RegistryObject{}
		err = proto.Unmarshal(b, ro)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: version %d: %s %q: %v", ErrCorrupt, version, om.GetKind(), om.GetName(), err)
		}
		o, err := addObject(d, ro)
		if err != nil {
			return nil, fmt.Errorf("version %d: %s %q: %w", version, om.GetKind(), om.GetName(), err)
		}
		if string(o.ObjectKind()) != om.GetKind() || o.ObjectName() != om.GetName() {
			return nil, fmt.Errorf("%w: version %d: manifest names %s %q but the object is %s %q", ErrCorrupt, version, om.GetKind(), om.GetName(), o.ObjectKind(), o.ObjectName())
		}
		metas[objectKey{o.ObjectKind(), o.ObjectName()}] = metaFromProto(om)
	}
	return newSnapshot(versionFromProto(m.GetVersion()), d, metas), nil
}

// Plan validates d and compares it with the latest version.
func (r *Registry) Plan(d *def.Definitions) (*Plan, error) {
	if err := def.Validate(d, r.opts.Checker); err != nil {
		return nil, err
	}
	return r.plan(r.Latest(), d)
}

// Plan is what applying a set of definitions would change.
type Plan struct {
	// BaseVersion is the version compared against (0 for an empty registry).
	BaseVersion uint64
	Changes     []Change
	// Breaking reports whether any change is breaking.
	Breaking bool

	defs   *def.Definitions
	hashes map[objectKey]string
	blobs  map[objectKey][]byte
}

func (r *Registry) plan(base *Snapshot, d *def.Definitions) (*Plan, error) {
	p := &Plan{BaseVersion: base.Version, defs: d, hashes: map[objectKey]string{}, blobs: map[objectKey][]byte{}}
	for _, o := range d.Objects() {
		b, h, err := encodeObject(o)
		if err != nil {
			return nil, err
		}
		k := objectKey{o.ObjectKind(), o.ObjectName()}
		p.hashes[k] = hex.EncodeToString(h[:])
		p.blobs[k] = b
	}
	oldHashes := make(map[objectKey]string, len(base.metas))
	for k, m := range base.metas {
		oldHashes[k] = m.ContentHash
	}
	p.Changes = diff(base.Index, def.NewIndex(d), oldHashes, p.hashes)
	for _, c := range p.Changes {
		p.Breaking = p.Breaking || c.Breaking
	}
	return p, nil
}

// ApplyOptions modifies one Apply.
type ApplyOptions struct {
	// AllowBreaking applies even when the plan has breaking changes.
	AllowBreaking bool
	// Description is recorded with the version.
	Description string
}

// ApplyResult is the outcome of an Apply.
type ApplyResult struct {
	// Snapshot is the latest snapshot after the apply.
	Snapshot *Snapshot
	// Applied is false when d equals the latest version: no version is
	// written for a no-op.
	Applied bool
	Changes []Change
}

// Apply validates d and, when it differs from the latest version, writes it
// as a new version in one atomic, synced batch. With breaking changes and
// no AllowBreaking it writes nothing and returns an error matching
// ErrBreaking, along with the result describing the changes.
func (r *Registry) Apply(d *def.Definitions, opts ApplyOptions) (*ApplyResult, error) {
	if err := def.Validate(d, r.opts.Checker); err != nil {
		return nil, err
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	base := r.Latest()
	p, err := r.plan(base, d)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Snapshot: base, Changes: p.Changes}
	if len(p.Changes) == 0 {
		return res, nil
	}
	if p.Breaking && !opts.AllowBreaking {
		return res, breakingError(p.Changes)
	}

	version := base.Version + 1
	now := r.opts.Now().UTC().Truncate(time.Microsecond)
	info := VersionInfo{
		Version:     version,
		ContentHash: versionHash(p.hashes),
		CreatedAt:   now,
		Description: opts.Description,
		Changes:     p.Changes,
		ObjectCount: len(p.hashes),
	}
	manifest := &fstorev1.VersionManifest{Version: versionToProto(info)}
	metas := make(map[objectKey]ObjectMeta, len(p.hashes))
	batch := r.db.NewBatch()
	defer batch.Close()
	for _, o := range d.Objects() {
		k := objectKey{o.ObjectKind(), o.ObjectName()}
		m := ObjectMeta{Kind: k.kind, Name: k.name, Version: version, ContentHash: p.hashes[k], UpdatedAt: now}
		if prev, ok := base.metas[k]; ok && prev.ContentHash == m.ContentHash {
			m.Version, m.UpdatedAt = prev.Version, prev.UpdatedAt
		}
		metas[k] = m
		manifest.Objects = append(manifest.Objects, metaToProto(m))
		h, _ := hex.DecodeString(m.ContentHash)
		if err := batch.Set(objectKeyBytes([32]byte(h)), p.blobs[k], nil); err != nil {
			return nil, fmt.Errorf("registry: cannot write version %d: %w", version, err)
		}
	}
	mb, err := proto.MarshalOptions{Deterministic: true}.Marshal(manifest)
	if err != nil {
		return nil, fmt.Errorf("registry: cannot encode version %d: %w", version, err)
	}
	if err := batch.Set(versionKey(version), mb, nil); err != nil {
		return nil, fmt.Errorf("registry: cannot write version %d: %w", version, err)
	}
	if err := batch.Set(keyHead, binary.BigEndian.AppendUint64(nil, version), nil); err != nil {
		return nil, fmt.Errorf("registry: cannot write version %d: %w", version, err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("registry: cannot commit version %d: %w", version, err)
	}
	// The definitions came from the caller, who may still hold them; the
	// snapshot is rebuilt from the stored bytes so that it shares nothing
	// mutable with the caller and looks exactly like a later load.
	s, err := r.load(version)
	if err != nil {
		return nil, err
	}
	r.publish(s)
	res.Snapshot, res.Applied = s, true
	return res, nil
}

func (r *Registry) publish(s *Snapshot) {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.latest.Store(s)
	if !r.closed {
		close(r.notify)
		r.notify = make(chan struct{})
	}
}

// Wait blocks until a version newer than after is published and returns the
// latest snapshot, or returns ctx's error, or ErrClosed once the registry is
// closed.
func (r *Registry) Wait(ctx context.Context, after uint64) (*Snapshot, error) {
	for {
		r.notifyMu.Lock()
		ch, closed, s := r.notify, r.closed, r.latest.Load()
		r.notifyMu.Unlock()
		if s.Version > after {
			return s, nil
		}
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// History returns up to limit versions, newest first; limit <= 0 means all.
func (r *Registry) History(limit int) ([]VersionInfo, error) {
	iter, err := r.db.NewIter(&pebble.IterOptions{
		LowerBound: keyVersionPrefix,
		UpperBound: append(append([]byte(nil), keyVersionPrefix[:len(keyVersionPrefix)-1]...), '/'+1),
	})
	if err != nil {
		return nil, fmt.Errorf("registry: cannot read history: %w", err)
	}
	defer iter.Close()
	var out []VersionInfo
	for ok := iter.Last(); ok && (limit <= 0 || len(out) < limit); ok = iter.Prev() {
		m := &fstorev1.VersionManifest{}
		if err := proto.Unmarshal(iter.Value(), m); err != nil {
			return nil, fmt.Errorf("%w: %x: %v", ErrCorrupt, iter.Key(), err)
		}
		out = append(out, versionFromProto(m.GetVersion()))
	}
	if err := iter.Error(); err != nil {
		return nil, fmt.Errorf("registry: cannot read history: %w", err)
	}
	return out, nil
}

// BreakingError is returned (wrapped) by Apply when breaking changes are
// refused. It matches ErrBreaking.
type BreakingError struct {
	Changes []Change
}

func breakingError(changes []Change) error {
	var b []Change
	for _, c := range changes {
		if c.Breaking {
			b = append(b, c)
		}
	}
	return &BreakingError{Changes: b}
}

// Error lists the breaking changes and how to apply them anyway.
func (e *BreakingError) Error() string {
	s := "refusing breaking changes (apply with --allow-breaking to accept them):"
	for _, c := range e.Changes {
		for _, d := range c.Details {
			if len(d) > 10 && d[:10] == "BREAKING: " {
				s += fmt.Sprintf("\n  %s %q: %s", c.Kind, c.Name, d[10:])
			}
		}
	}
	return s
}

// Is makes errors.Is(err, ErrBreaking) true.
func (e *BreakingError) Is(target error) bool { return target == ErrBreaking }

func metaToProto(m ObjectMeta) *fstorev1.ObjectMeta {
	return &fstorev1.ObjectMeta{Kind: string(m.Kind), Name: m.Name, Version: m.Version, ContentHash: m.ContentHash, UpdatedAt: timestamppb.New(m.UpdatedAt)}
}

func metaFromProto(p *fstorev1.ObjectMeta) ObjectMeta {
	return ObjectMeta{Kind: def.Kind(p.GetKind()), Name: p.GetName(), Version: p.GetVersion(), ContentHash: p.GetContentHash(), UpdatedAt: p.GetUpdatedAt().AsTime()}
}
