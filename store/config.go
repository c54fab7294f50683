package store

import (
	"errors"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/store/schema"
)

// Config is the `store` section of the configuration file.
type Config struct {
	// Type is embedded (chDB in-process) or server (ClickHouse server/cluster).
	Type string `yaml:"type"`
	// Database holding every table.
	Database string `yaml:"database"`

	// Embedded engine.
	Path      string   `yaml:"path"`       // storage directory
	LibPath   string   `yaml:"lib-path"`   // libchdb.so; "" = CHDB_LIB_PATH, cache, /usr/lib/hostflow
	MaxMemory ByteSize `yaml:"max-memory"` // engine memory cap; 0 = engine default (90 % of RAM)

	// Server connection.
	Server ServerConfig `yaml:"server"`

	// Batching: a block is sent when it holds BatchRows rows or is
	// BatchTime old.
	BatchRows    int      `yaml:"batch-rows"`
	BatchTime    Duration `yaml:"batch-time"`
	QueueBlocks  int      `yaml:"queue-blocks"`  // blocks waiting for the writer before spilling to the spool
	RollupMemory ByteSize `yaml:"rollup-memory"` // rollup rows the writer aggregates before inserting them: the more, the fewer rows the engine inserts and merges

	Spool SpoolConfig `yaml:"spool"`

	// Schema.
	ManageSchema    bool                `yaml:"manage-schema"` // create and migrate tables at start
	Rollups         bool                `yaml:"rollups"`
	TTL             map[string]Duration `yaml:"ttl"` // per table; 0 keeps forever
	DisabledColumns []string            `yaml:"disabled-columns"`
	// MaxDiskBytes caps the database size: past it the oldest partitions of
	// the largest tables are dropped. 0 = no cap.
	MaxDiskBytes ByteSize `yaml:"max-disk-bytes"`
}

// ServerConfig is a ClickHouse server or cluster.
type ServerConfig struct {
	Addresses []string `yaml:"addresses"` // host:port of the native protocol (9000, 9440 with TLS)
	User      string   `yaml:"user"`
	// Password; the environment variable HOSTFLOW_STORE_PASSWORD overrides it.
	Password    string    `yaml:"password"`
	TLS         TLSConfig `yaml:"tls"`
	Cluster     string    `yaml:"cluster"` // Replicated + Distributed tables ON CLUSTER this name
	DialTimeout Duration  `yaml:"dial-timeout"`
}

// TLSConfig enables TLS to the server.
type TLSConfig struct {
	Enable             bool   `yaml:"enable"`
	CAFile             string `yaml:"ca-file"`
	CertFile           string `yaml:"cert-file"`
	KeyFile            string `yaml:"key-file"`
	ServerName         string `yaml:"server-name"`
	InsecureSkipVerify bool   `yaml:"insecure-skip-verify"`
}

// SpoolConfig is the disk spool used while the store is unreachable or
// slower than the input.
type SpoolConfig struct {
	Dir      string   `yaml:"dir"`       // "" = <path>/spool (embedded) or /var/lib/hostflow/spool
	MaxBytes ByteSize `yaml:"max-bytes"` // oldest blocks are dropped past it
}

// PasswordEnv overrides ServerConfig.Password.
const PasswordEnv = "HOSTFLOW_STORE_PASSWORD"

const day = 24 * time.Hour

// DefaultConfig is the embedded store for the service.
func DefaultConfig() Config {
	return Config{
		Type:         "embedded",
		Database:     "hostflow",
		Path:         "/var/lib/hostflow/store",
		Server:       ServerConfig{Addresses: []string{"127.0.0.1:9000"}, User: "default", DialTimeout: Duration(5 * time.Second)},
		BatchRows:    100_000,
		BatchTime:    Duration(5 * time.Second),
		QueueBlocks:  4,
		RollupMemory: 512 << 20,
		Spool:        SpoolConfig{MaxBytes: 1 << 30},
		ManageSchema: true,
		Rollups:      true,
		TTL: map[string]Duration{
			schema.Flows: Duration(15 * day), schema.Flows1m: Duration(7 * day),
			schema.Flows5m: Duration(90 * day), schema.Flows1h: Duration(365 * day),
			schema.InterfaceCounters: Duration(30 * day), schema.HostCounters: Duration(30 * day),
			schema.Exporters: Duration(7 * day), schema.Interfaces: Duration(7 * day),
		},
		DisabledColumns: slices.Clone(schema.DefaultDisabled),
	}
}

// Validate checks values YAML typing cannot.
func (c *Config) Validate() error {
	var errs []error
	switch c.Type {
	case "embedded":
		if c.Path == "" {
			errs = append(errs, config.Errorf("path", "required for the embedded store"))
		}
		if c.MaxMemory != 0 && c.MaxMemory < 128<<20 {
			errs = append(errs, config.Errorf("max-memory", "%d bytes is too little for the engine (at least 128MiB)", c.MaxMemory))
		}
	case "server":
		if len(c.Server.Addresses) == 0 {
			errs = append(errs, config.Errorf("server.addresses", "at least one address is required"))
		}
		if c.Server.Cluster != "" && !identifier(c.Server.Cluster) {
			errs = append(errs, config.Errorf("server.cluster", "%q must be [A-Za-z0-9_]+", c.Server.Cluster))
		}
		if c.Server.Cluster != "" && c.MaxDiskBytes > 0 {
			errs = append(errs, config.Errorf("max-disk-bytes", "not supported with a cluster (sizes are per node): use TTLs"))
		}
	default:
		errs = append(errs, config.Errorf("type", "must be embedded or server, not %q", c.Type))
	}
	if !identifier(c.Database) {
		errs = append(errs, config.Errorf("database", "%q must be [A-Za-z0-9_]+", c.Database))
	}
	if c.BatchRows < 1 || c.BatchRows > 1_000_000 {
		errs = append(errs, config.Errorf("batch-rows", "must be between 1 and 1000000, not %d", c.BatchRows))
	}
	if c.BatchTime < Duration(100*time.Millisecond) {
		errs = append(errs, config.Errorf("batch-time", "must be at least 100ms"))
	}
	if c.QueueBlocks < 1 {
		errs = append(errs, config.Errorf("queue-blocks", "must be at least 1"))
	}
	if c.RollupMemory < 1<<20 || c.RollupMemory > 64<<30 {
		errs = append(errs, config.Errorf("rollup-memory", "must be between 1MiB and 64GiB"))
	}
	if c.Spool.MaxBytes < 1<<20 {
		errs = append(errs, config.Errorf("spool.max-bytes", "must be at least 1MiB"))
	}
	for table, ttl := range c.TTL {
		if !knownTable(table) {
			errs = append(errs, config.Errorf("ttl."+table, "unknown table (one of %s)", strings.Join(schema.TTLTables, ", ")))
		}
		if ttl < 0 || (ttl > 0 && ttl < Duration(time.Hour)) {
			errs = append(errs, config.Errorf("ttl."+table, "must be 0 (keep) or at least 1h"))
		}
	}
	if _, err := schema.New(flow.NewSchema(), c.schemaOptions()); err != nil {
		errs = append(errs, config.Errorf("disabled-columns", "%v", err))
	}
	return errors.Join(errs...)
}

func knownTable(t string) bool {
	for _, n := range schema.TTLTables {
		if n == t {
			return true
		}
	}
	return false
}

func identifier(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

func (c *Config) schemaOptions() schema.Options {
	o := schema.Options{Database: c.Database, Rollups: c.Rollups, Disabled: c.DisabledColumns,
		TTL: map[string]time.Duration{}}
	if c.Type == "server" {
		o.Cluster = c.Server.Cluster
	}
	for k, v := range c.TTL {
		o.TTL[k] = time.Duration(v)
	}
	return o
}

func (c *Config) spoolDir() string {
	switch {
	case c.Spool.Dir != "":
		return c.Spool.Dir
	case c.Type == "embedded":
		return c.Path + "-spool"
	}
	return "/var/lib/hostflow/spool"
}

func (c *Config) password() string {
	if p := os.Getenv(PasswordEnv); p != "" {
		return p
	}
	return c.Server.Password
}

// Duration is a time.Duration read from YAML as "90s", "5m", "36h" or
// "15d" (days) and written back the same way.
type Duration = config.Duration

// ByteSize is a size in bytes read from YAML as a number or with a unit
// (KiB, MiB, GiB, TiB, or KB, MB, GB, TB).
type ByteSize = config.ByteSize

// ParseByteSize parses "512MiB", "2GB" or a plain number of bytes.
func ParseByteSize(s string) (int64, error) { return config.ParseByteSize(s) }
