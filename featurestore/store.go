package featurestore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	pebblestore "github.com/fstore/fstore/featurestore/pebble"
	redisstore "github.com/fstore/fstore/featurestore/redis"
	"github.com/fstore/fstore/featurestore/registry"
)

// DefaultDataDir is the data directory the CLI uses when none is given.
const DefaultDataDir = "./fstore-data"

// Options configures Open. A nil *Options means all defaults.
type Options struct {
	// Checker type-checks expressions when definitions are validated.
	// Default: a compute.Checker, which compiles every expression against
	// its source's columns (declared, or read from the Parquet footer).
	Checker def.Checker
	// Now is the clock recorded with registry versions. Default time.Now.
	Now func() time.Time
	// ReadOnly opens the directory without writing to it; it must exist.
	// Default false.
	ReadOnly bool
	// CacheSize is Pebble's block cache in bytes. Default 64 MiB.
	CacheSize int64
	// RowCacheSize is the memory of the embedded online store's cache of
	// recently read values, in bytes: a read that hits skips Pebble's seek
	// (see featurestore/pebble). Default 128 MiB; negative: no cache.
	RowCacheSize int64
	// Logger receives Pebble's informational logs. Default: discarded, so
	// that CLI output stays clean; errors still surface as returned errors.
	Logger pebble.Logger
}

// EnsureDefaults returns o with unset fields set to their defaults.
func (o *Options) EnsureDefaults() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Checker == nil {
		c.Checker = compute.NewChecker()
	}
	if c.CacheSize == 0 {
		c.CacheSize = 64 << 20
	}
	if c.RowCacheSize == 0 {
		c.RowCacheSize = 128 << 20
	}
	if c.Logger == nil {
		c.Logger = quietLogger{}
	}
	return &c
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.CacheSize < 0 {
		return fmt.Errorf("%w: CacheSize %d is negative", ErrInvalidOptions, o.CacheSize)
	}
	return nil
}

// Store is an open data directory.
type Store struct {
	dir      string
	db       *pebble.DB
	registry *registry.Registry
	online   *pebblestore.Store
	unlock   func() error
}

// Open opens (creating unless ReadOnly) the data directory dir.
func Open(dir string, opts *Options) (*Store, error) {
	opts = opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty data directory", ErrInvalidOptions)
	}
	if opts.ReadOnly {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("featurestore: %s is not an fstore data directory (run `fstore apply` first)", dir)
		}
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	cache := pebble.NewCache(opts.CacheSize)
	db, err := pebble.Open(dir, &pebble.Options{
		Cache:            cache,
		Logger:           opts.Logger,
		ReadOnly:         opts.ReadOnly,
		ErrorIfNotExists: opts.ReadOnly,
	})
	cache.Unref()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("featurestore: cannot open %s: %w", dir, err), unlock())
	}
	reg, err := registry.Open(db, &registry.Options{Checker: opts.Checker, Now: opts.Now})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("featurestore: cannot open registry in %s: %w", dir, err), db.Close(), unlock())
	}
	return &Store{dir: dir, db: db, registry: reg, online: pebblestore.New(db, &pebblestore.Options{RowCacheSize: opts.RowCacheSize}), unlock: unlock}, nil
}

// Online returns the embedded online store: the online state in the data
// directory's Pebble database.
func (s *Store) Online() *pebblestore.Store { return s.online }

// OpenOnline opens the online store at url: "" or "pebble" for the
// embedded one (closing it is a no-op), "redis://host:port/db" for a Redis
// node, "redis-cluster://h1:p1,h2:p2" for a Redis Cluster. A networked
// store is checked (PING) before OpenOnline returns, within t's dial
// timeout.
func (s *Store) OpenOnline(url string, t StoreTimeouts) (OnlineStore, error) {
	return OpenOnlineStore(url, s, t)
}

// OpenOnlineStore is Store.OpenOnline where the embedded store comes from
// st, which may be nil when url names a networked store.
func OpenOnlineStore(url string, st *Store, t StoreTimeouts) (OnlineStore, error) {
	switch {
	case url == "" || url == "pebble":
		if st == nil {
			return nil, fmt.Errorf("%w: the embedded online store needs a data directory", ErrInvalidOptions)
		}
		return st.online, nil
	case strings.HasPrefix(url, "redis://") || strings.HasPrefix(url, "redis-cluster://"):
		r, err := redisstore.Open(url, t)
		if errors.Is(err, redisstore.ErrInvalidURL) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: online store %q: want pebble, redis://host:port/db or redis-cluster://h1:p1,h2:p2", ErrInvalidOptions, url)
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Registry returns the versioned definitions registry.
func (s *Store) Registry() *registry.Registry { return s.registry }

// Close closes the data directory. Waiters on the registry return.
func (s *Store) Close() error {
	s.registry.Close()
	err := s.db.Close()
	if uerr := s.unlock(); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("featurestore: cannot close %s: %w", s.dir, err)
	}
	return nil
}

// quietLogger drops Pebble's informational output. Fatalf still stops the
// process, as Pebble requires of a Logger.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: fatal: "+format+"\n", args...)
	os.Exit(1)
}
