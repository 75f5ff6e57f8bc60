package registry

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// Model versions live beside the definitions, outside the versioned
// manifests: a definitions version says which models exist and which
// feature service each consumes, while trained versions of a model are
// appended one at a time and never change.
//
//	registry/modelversion/<model>/<version BE4> → ModelVersion
//
// Model names are identifiers (def.CheckName), so they contain no '/'.
var keyModelVersionPrefix = []byte("registry/modelversion/")

func modelVersionPrefix(model string) []byte {
	k := append([]byte(nil), keyModelVersionPrefix...)
	k = append(k, model...)
	return append(k, '/')
}

func modelVersionKey(model string, v uint32) []byte {
	return binary.BigEndian.AppendUint32(modelVersionPrefix(model), v)
}

// AddModelVersion appends the next version of model. It calls build with
// the number the version will get; build returns the record to store (and
// may write the artifact file it names). Registrations are serialised with
// each other and with Apply, so numbers are dense and never reused. The
// record is written in one synced batch; if build fails nothing is
// written.
func (r *Registry) AddModelVersion(model string, build func(version uint32) (*fstorev1.ModelVersion, error)) (*fstorev1.ModelVersion, error) {
	if err := def.CheckName(model); err != nil {
		return nil, fmt.Errorf("registry: model name %q: %w", model, err)
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	last, err := r.lastModelVersion(model)
	if err != nil {
		return nil, err
	}
	next := last + 1
	mv, err := build(next)
	if err != nil {
		return nil, err
	}
	if mv.GetModel() != model || mv.GetVersion() != next {
		return nil, fmt.Errorf("registry: model version record names %s v%d, want %s v%d", mv.GetModel(), mv.GetVersion(), model, next)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mv)
	if err != nil {
		return nil, fmt.Errorf("registry: cannot encode %s v%d: %w", model, next, err)
	}
	if err := r.db.Set(modelVersionKey(model, next), b, pebble.Sync); err != nil {
		return nil, fmt.Errorf("registry: cannot write %s v%d: %w", model, next, err)
	}
	return mv, nil
}

func (r *Registry) lastModelVersion(model string) (uint32, error) {
	vs, err := r.ModelVersions(model)
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	return vs[len(vs)-1].GetVersion(), nil
}

// ModelVersions returns every registered version of model, oldest first.
// It returns an empty list for a model without versions.
func (r *Registry) ModelVersions(model string) ([]*fstorev1.ModelVersion, error) {
	prefix := modelVersionPrefix(model)
	var out []*fstorev1.ModelVersion
	err := r.scan(prefix, func(k, v []byte) error {
		if len(k) != len(prefix)+4 {
			return fmt.Errorf("%w: model version key %q", ErrCorrupt, k)
		}
		mv := &fstorev1.ModelVersion{}
		if err := proto.Unmarshal(v, mv); err != nil {
			return fmt.Errorf("%w: model %s version key %x: %v", ErrCorrupt, model, k[len(prefix):], err)
		}
		out = append(out, mv)
		return nil
	})
	return out, err
}

// ModelVersion returns version v of model; v == 0 means the latest. It
// returns an error matching ErrNotFound when there is no such version.
func (r *Registry) ModelVersion(model string, v uint32) (*fstorev1.ModelVersion, error) {
	vs, err := r.ModelVersions(model)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: model %q has no registered versions", ErrNotFound, model)
	}
	if v == 0 {
		return vs[len(vs)-1], nil
	}
	i := sort.Search(len(vs), func(i int) bool { return vs[i].GetVersion() >= v })
	if i == len(vs) || vs[i].GetVersion() != v {
		return nil, fmt.Errorf("%w: model %q has no version %d (latest is %d)", ErrNotFound, model, v, vs[len(vs)-1].GetVersion())
	}
	return vs[i], nil
}

// ModelsWithVersions returns the names of models with at least one
// registered version, sorted.
func (r *Registry) ModelsWithVersions() ([]string, error) {
	var names []string
	err := r.scan(keyModelVersionPrefix, func(k, _ []byte) error {
		rest := k[len(keyModelVersionPrefix):]
		i := bytes.IndexByte(rest, '/')
		if i <= 0 {
			return fmt.Errorf("%w: model version key %q", ErrCorrupt, k)
		}
		if n := string(rest[:i]); len(names) == 0 || names[len(names)-1] != n {
			names = append(names, n)
		}
		return nil
	})
	return names, err
}

// scan calls fn for every key with prefix, in key order.
func (r *Registry) scan(prefix []byte, fn func(k, v []byte) error) error {
	// Every prefix ends in '/' or '/'-free ASCII, so incrementing the last
	// byte gives the first key after every key with the prefix.
	upper := append([]byte(nil), prefix...)
	upper[len(upper)-1]++
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("registry: cannot read %s: %w", prefix, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("registry: cannot read %s: %w", prefix, err)
	}
	return nil
}
