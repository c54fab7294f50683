// Package geoip looks up AS numbers, countries and cities in MaxMind-format
// databases (GeoLite2/GeoIP2 ASN, Country and City, and IPinfo's layouts),
// and reloads them when their files change.
//
// Databases are read into memory (not memory-mapped), so a file rewritten in
// place by a downloader cannot crash the collector, and verified before use;
// a file that fails to load keeps the previous version in service. A
// database record is decoded once per distinct record (records are cached by
// their offset in the database), so repeated lookups do not allocate.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unique"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
)

// Config of the GeoIP databases.
type Config struct {
	// ASNDatabases and GeoDatabases are paths of MaxMind-format files,
	// consulted in this order (ASN ones first); each of AS number, country
	// and city is taken from the first database that has it.
	ASNDatabases []string `yaml:"asn-databases"`
	GeoDatabases []string `yaml:"geo-databases"`
	// CheckInterval is how often files are checked for changes (size,
	// modification time, inode) to be reloaded.
	CheckInterval time.Duration `yaml:"check-interval"`
	// Optional lets the collector start while a database file is missing or
	// invalid; it is loaded once it appears.
	Optional bool `yaml:"optional"`
	// MaxCachedRecords bounds the decoded-record cache of each database.
	MaxCachedRecords int `yaml:"max-cached-records"`
}

// DefaultConfig returns the defaults: no database.
func DefaultConfig() Config {
	return Config{CheckInterval: 30 * time.Second, MaxCachedRecords: 1 << 18}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.CheckInterval < 100*time.Millisecond {
		errs = append(errs, config.Errorf("check-interval", "must be at least 100ms"))
	}
	if c.MaxCachedRecords < 1 {
		errs = append(errs, config.Errorf("max-cached-records", "must be positive"))
	}
	for k, list := range map[string][]string{"asn-databases": c.ASNDatabases, "geo-databases": c.GeoDatabases} {
		for i, p := range list {
			if p == "" {
				errs = append(errs, config.Errorf(k+"."+strconv.Itoa(i), "empty path"))
			}
		}
	}
	return errors.Join(errs...)
}

// Info is what a lookup finds. Strings are shared; never modify.
type Info struct {
	ASN     uint32
	Country string // ISO 3166-1 alpha-2
	City    string
}

func (i *Info) complete() bool { return i.ASN != 0 && i.Country != "" && i.City != "" }

func (i *Info) merge(o *Info) {
	if i.ASN == 0 {
		i.ASN = o.ASN
	}
	if i.Country == "" {
		i.Country = o.Country
	}
	if i.City == "" {
		i.City = o.City
	}
}

// stamp identifies a version of a file.
type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s, nil
}

// database is one loaded file with its decoded-record cache.
type database struct {
	path   string
	stamp  stamp
	reader *maxminddb.Reader
	max    int

	mu      sync.RWMutex
	records map[uintptr]*Info
}

// load reads and opens a database. warn is set when the file does not pass
// the library's full verification (strict about metadata some publishers
// omit): it is still used, lookups being bounds-checked either way.
func load(path string, max int) (db *database, warn error, err error) {
	st, err := statFile(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	db, warn, err = open(data, max)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.path, db.stamp = path, st
	return db, warn, nil
}

// open parses a database held in memory.
func open(data []byte, max int) (db *database, warn error, err error) {
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, nil, err
	}
	return &database{reader: r, max: max, records: map[uintptr]*Info{}}, r.Verify(), nil
}

// lookup returns the record for a (nil when absent) and the prefix length
// around a over which the answer is the same.
func (d *database) lookup(a netip.Addr) (*Info, int) {
	res := d.reader.Lookup(a)
	p := res.Prefix()
	bits := p.Bits()
	if a.Is4() && !p.Addr().Is4() {
		bits = 0 // the record sits above the IPv4 subtree: all of IPv4 agrees
	}
	if !res.Found() {
		return nil, bits
	}
	off := res.Offset()
	d.mu.RLock()
	rec, ok := d.records[off]
	d.mu.RUnlock()
	if ok {
		return rec, bits
	}
	rec = decode(res)
	d.mu.Lock()
	if len(d.records) >= d.max {
		clear(d.records)
	}
	d.records[off] = rec
	d.mu.Unlock()
	return rec, bits
}

// decode reads the fields hostflow uses, whatever the layout: MaxMind
// (autonomous_system_number, country.iso_code, city.names.en) or IPinfo
// (asn "AS123", country_code or a two-letter country, city). Fields of the
// wrong type are ignored.
func decode(res maxminddb.Result) *Info {
	var info Info
	var n uint32
	if res.DecodePath(&n, "autonomous_system_number") == nil && n != 0 {
		info.ASN = n
	} else {
		var s string
		if res.DecodePath(&s, "asn") == nil {
			info.ASN = parseASN(s)
		}
	}
	for _, path := range [][]any{{"country", "iso_code"}, {"country_code"}, {"country"}} {
		var s string
		if res.DecodePath(&s, path...) == nil && len(s) == 2 {
			info.Country = intern(strings.ToUpper(s))
			break
		}
	}
	for _, path := range [][]any{{"city", "names", "en"}, {"city"}} {
		var s string
		if res.DecodePath(&s, path...) == nil && s != "" {
			info.City = intern(s)
			break
		}
	}
	return &info
}

func parseASN(s string) uint32 {
	s = strings.TrimPrefix(strings.ToUpper(s), "AS")
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// intern shares equal strings across records and reloads.
func intern(s string) string { return unique.Make(s).Value() }

// Set is an immutable snapshot of the loaded databases; a reload publishes
// a new Set, so callers caching lookups key their cache on the Set.
type Set struct {
	dbs []*database // ASN databases first
}

// Empty reports whether no database is loaded.
func (s *Set) Empty() bool { return s == nil || len(s.dbs) == 0 }

// Lookup returns what the databases know about a, and the prefix length
// around a (in a's family, a unmapped) over which the answer is the same.
func (s *Set) Lookup(a netip.Addr) (Info, int) {
	var info Info
	uniform := 0
	if s == nil {
		return info, 0
	}
	a = a.Unmap()
	for _, d := range s.dbs {
		if d == nil {
			continue
		}
		rec, bits := d.lookup(a)
		uniform = max(uniform, bits)
		if rec != nil {
			info.merge(rec)
			if info.complete() {
				break
			}
		}
	}
	return info, uniform
}

// DB is the component that loads and reloads the databases.
type DB struct {
	cfg     Config
	r       *daemon.Reporter
	paths   []string
	cur     atomic.Pointer[Set]
	reloads *prometheus.CounterVec
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns an inert DB.
func New(cfg Config, r *daemon.Reporter) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &DB{
		cfg:   cfg,
		r:     r,
		paths: append(append([]string(nil), cfg.ASNDatabases...), cfg.GeoDatabases...),
		reloads: r.CounterVec("geoip_loads_total",
			"Database (re)loads, by file and result (ok, error).", "database", "result"),
	}
	d.cur.Store(&Set{})
	if len(d.paths) > 0 {
		r.RegisterHealth("geoip", d.health)
	}
	return d, nil
}

// health fails while a configured database is not loaded (optional ones
// that have not appeared yet, or files that never loaded).
func (d *DB) health() error {
	set := d.cur.Load()
	var missing []string
	for i, path := range d.paths {
		if i >= len(set.dbs) || set.dbs[i] == nil {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("GeoIP databases not loaded: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Start loads the databases (failing when one cannot be loaded, unless
// optional) and watches the files.
func (d *DB) Start(ctx context.Context) error {
	if len(d.paths) == 0 {
		return nil
	}
	if err := d.check(true); err != nil && !d.cfg.Optional {
		return err
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		t := time.NewTicker(d.cfg.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = d.check(false) // errors are logged and counted
			}
		}
	}()
	return nil
}

// Stop ends the watch.
func (d *DB) Stop() error {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
	return nil
}

// Current returns the loaded databases (an empty Set when none).
func (d *DB) Current() *Set { return d.cur.Load() }

// check reloads files whose stamp changed and publishes a new Set when any
// did. On error the previous version of that file stays in service.
func (d *DB) check(initial bool) error {
	old := d.cur.Load()
	next := make([]*database, len(d.paths))
	changed := false
	var errs []error
	for i, path := range d.paths {
		var prev *database
		if i < len(old.dbs) {
			prev = old.dbs[i]
		}
		next[i] = prev
		st, err := statFile(path)
		if err == nil && prev != nil && st == prev.stamp {
			continue
		}
		var db *database
		var warn error
		if err == nil {
			db, warn, err = load(path, d.cfg.MaxCachedRecords)
		}
		if err != nil {
			d.reloads.WithLabelValues(path, "error").Inc()
			errs = append(errs, fmt.Errorf("geoip: %w", err))
			if initial || prev != nil {
				d.r.Limited("load_"+path, "cannot load GeoIP database; keeping the previous version",
					"database", path, "error", err, "loaded", prev != nil)
			}
			continue
		}
		if warn != nil {
			d.r.Logger().Warn("GeoIP database does not pass full verification; using it anyway",
				"database", path, "error", warn)
		}
		d.reloads.WithLabelValues(path, "ok").Inc()
		d.r.Logger().Info("GeoIP database loaded", "database", path,
			"type", db.reader.Metadata.DatabaseType, "built", db.reader.Metadata.BuildTime())
		next[i], changed = db, true
	}
	if changed {
		d.cur.Store(&Set{dbs: next})
	}
	return errors.Join(errs...)
}
