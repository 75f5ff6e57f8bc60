package serve

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// servedModel is one loaded model version: its engine behind a batcher,
// and the feature references its inputs are fetched by.
type servedModel struct {
	mv  *fstorev1.ModelVersion
	m   *model.Model
	b   *batcher
	ver string // the version as OIP writes it: "3"
	// refs are the inputs as "view:feature" references, in tensor order;
	// refErr says why an input cannot be fetched (the model still serves
	// OIP requests, which bring their own tensors).
	refs   []string
	refErr error
	// sel is the inputs compiled against the catalog that was current when
	// a request last needed them; replaced when the registry moves on.
	sel atomic.Pointer[modelSelection]
	// err is why the version cannot be served at all (its artifact did
	// not load); requests for it get 503.
	err error
	// skew is what the version's requests log and monitor on the catalog
	// it was built for (skewer.modelPlan).
	skew atomic.Pointer[modelSkew]
}

// modelSelection is a model's inputs compiled against one catalog.
type modelSelection struct {
	cat *catalog
	sel *selection
	err error
}

// selection returns sm's inputs as a selection of cat, compiling it once
// per catalog version rather than per request.
func (sm *servedModel) selection(cat *catalog) (*selection, error) {
	if ms := sm.sel.Load(); ms != nil && ms.cat == cat {
		return ms.sel, ms.err
	}
	ms := &modelSelection{cat: cat, sel: &selection{}, err: sm.refErr}
	for _, ref := range sm.refs {
		if ms.err != nil {
			break
		}
		view, feature, _ := strings.Cut(ref, ":")
		if err := cat.add(ms.sel, view, feature); err != nil {
			ms.err = fmt.Errorf("input %s: %w", ref, err)
		}
	}
	sm.sel.Store(ms)
	return ms.sel, ms.err
}

// modelEntry is one model's loaded versions, oldest first.
type modelEntry struct {
	name     string
	versions []*servedModel
}

// version returns version v (0: the latest servable one).
func (e *modelEntry) version(v uint32) (*servedModel, error) {
	if v == 0 {
		for i := len(e.versions) - 1; i >= 0; i-- {
			if e.versions[i].err == nil {
				return e.versions[i], nil
			}
		}
		return nil, fmt.Errorf("%w: model %q: no version can be served (%v)", ErrModelUnavailable, e.name, e.versions[len(e.versions)-1].err)
	}
	i := sort.Search(len(e.versions), func(i int) bool { return e.versions[i].mv.GetVersion() >= v })
	if i == len(e.versions) || e.versions[i].mv.GetVersion() != v {
		return nil, &versionNotFoundError{model: e.name, version: v, have: e.versionNames()}
	}
	if sm := e.versions[i]; sm.err != nil {
		return nil, fmt.Errorf("%w: model %q version %d: %v", ErrModelUnavailable, e.name, v, sm.err)
	}
	return e.versions[i], nil
}

// versionNotFoundError is a request for a version a model does not have.
type versionNotFoundError struct {
	model   string
	version uint32
	have    []string
}

func (e *versionNotFoundError) Error() string {
	return fmt.Sprintf("model %q has no version %d (versions: %s)", e.model, e.version, strings.Join(e.have, ", "))
}

func (e *versionNotFoundError) Is(target error) bool { return target == registry.ErrNotFound }

func (e *modelEntry) versionNames() []string {
	out := make([]string, len(e.versions))
	for i, sm := range e.versions {
		out[i] = sm.ver
	}
	return out
}

// modelCatalog is the set of loaded models, replaced whole (copy on write)
// when a version is registered.
type modelCatalog struct {
	models map[string]*modelEntry
	names  []string
}

// modelServer loads registered model versions and runs them.
type modelServer struct {
	st  *featurestore.Store
	pol BatchPolicy
	log *slog.Logger

	mu  sync.Mutex // serialises loads
	cat atomic.Pointer[modelCatalog]
}

func newModelServer(st *featurestore.Store, pol BatchPolicy, log *slog.Logger) *modelServer {
	ms := &modelServer{st: st, pol: pol, log: log}
	ms.cat.Store(&modelCatalog{models: map[string]*modelEntry{}})
	return ms
}

// loadAll loads every registered version of every model.
func (ms *modelServer) loadAll() error {
	names, err := ms.st.Registry().ModelsWithVersions()
	if err != nil {
		return err
	}
	for _, n := range names {
		vs, err := ms.st.ModelVersions(n)
		if err != nil {
			return err
		}
		for _, mv := range vs {
			ms.add(mv)
		}
	}
	return nil
}

// add loads one version and publishes a catalog that includes it. A
// version that fails to load is kept, marked, so that requests for it get
// the reason with a 503.
func (ms *modelServer) add(mv *fstorev1.ModelVersion) {
	sm := &servedModel{mv: mv, ver: strconv.FormatUint(uint64(mv.GetVersion()), 10)}
	sm.m, sm.err = ms.st.LoadModel(mv)
	if sm.err == nil {
		var eng *model.Engine
		eng, sm.err = model.NewEngine(sm.m, &model.EngineOptions{MaxBatch: ms.pol.MaxBatchSize})
		if sm.err == nil {
			sm.b = newBatcher(eng, ms.pol)
		}
	}
	if sm.err != nil {
		ms.log.Warn("model version cannot be served", "model", mv.GetModel(), "version", mv.GetVersion(), "err", sm.err)
	} else {
		sm.refs, sm.refErr = inputRefs(ms.st.Registry().Latest().Index, sm.m.Inputs)
		ms.log.Info("model version loaded", "model", mv.GetModel(), "version", mv.GetVersion(), "arch", mv.GetArch(), "inputs", len(sm.m.Inputs))
	}

	ms.mu.Lock()
	defer ms.mu.Unlock()
	old := ms.cat.Load()
	next := &modelCatalog{models: make(map[string]*modelEntry, len(old.models)+1)}
	for k, v := range old.models {
		next.models[k] = v
	}
	e := &modelEntry{name: mv.GetModel()}
	if prev := old.models[e.name]; prev != nil {
		e.versions = append(e.versions, prev.versions...)
	}
	i := sort.Search(len(e.versions), func(i int) bool { return e.versions[i].mv.GetVersion() >= mv.GetVersion() })
	if i < len(e.versions) && e.versions[i].mv.GetVersion() == mv.GetVersion() {
		if sm.b != nil {
			sm.b.close()
		}
		return // already loaded
	}
	e.versions = append(e.versions, nil)
	copy(e.versions[i+1:], e.versions[i:])
	e.versions[i] = sm
	next.models[e.name] = e
	for k := range next.models {
		next.names = append(next.names, k)
	}
	sort.Strings(next.names)
	ms.cat.Store(next)
}

// lookup returns a servable model version; version "" means the latest.
func (ms *modelServer) lookup(name, version string) (*servedModel, error) {
	cat := ms.cat.Load()
	e := cat.models[name]
	if e == nil {
		return nil, &notFoundError{what: "model", name: name, known: cat.names}
	}
	var v uint64
	if version != "" {
		var err error
		v, err = strconv.ParseUint(version, 10, 32)
		if err != nil || v == 0 {
			return nil, badRequest("model %q: version %q: want a positive integer", name, version)
		}
	}
	return e.version(uint32(v))
}

// close stops every batcher.
func (ms *modelServer) close() {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, e := range ms.cat.Load().models {
		for _, sm := range e.versions {
			if sm.b != nil {
				sm.b.close()
			}
		}
	}
}

// inputRefs maps the model's inputs, training-set columns, to the
// "view:feature" references they are fetched by.
func inputRefs(ix *def.Index, inputs []string) ([]string, error) {
	refs := make([]string, len(inputs))
	for i, in := range inputs {
		r, ok := ix.ColumnRef(in)
		if !ok {
			return nil, fmt.Errorf("input %q is not a feature of any registered view (want <view>__<feature>)", in)
		}
		refs[i] = r.String()
	}
	return refs, nil
}
