// Package schema derives the store's ClickHouse tables from the flow column
// table (flow.NewSchema) and the counter records, renders their DDL, and
// migrates an existing database to it idempotently.
//
// Tables (names as seen by inserts and queries):
//
//	flows              raw flows, MergeTree, partitioned by day
//	flows_1m/5m/1h     rollups (non-MainOnly columns + Flows), SummingMergeTree
//	                   sorted on the columns that are not attributes of others,
//	                   filled by the store's writer (RollupsByWriter), else by
//	                   chained materialized views flows → 1m → 5m → 1h
//	interface_counters interface counter samples
//	host_counters      host counter samples
//	exporters          exporter attributes seen in flows (ReplacingMergeTree),
//	interfaces         interface attributes seen in flows; both refreshed by
//	                   the store from recently inserted flows (CompletionRefresh)
//
// In cluster mode each of them is a Distributed table over a Replicated*
// table named <name>_local, created ON CLUSTER; the rollup views read and
// write the local tables so every shard aggregates its own rows.
package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/rollup"
)

// Table names.
const (
	Flows             = "flows"
	Flows1m           = "flows_1m"
	Flows5m           = "flows_5m"
	Flows1h           = "flows_1h"
	InterfaceCounters = "interface_counters"
	HostCounters      = "host_counters"
	Exporters         = "exporters"
	Interfaces        = "interfaces"
)

// TTLTables lists the tables whose retention can be configured.
var TTLTables = []string{Flows, Flows1m, Flows5m, Flows1h, InterfaceCounters, HostCounters, Exporters, Interfaces}

// Options select what the schema contains.
type Options struct {
	Database string
	// Cluster, when set, creates Replicated tables plus Distributed tables
	// ON CLUSTER Cluster.
	Cluster string
	// Rollups enables flows_1m, flows_5m and flows_1h, filled by
	// materialized views from the raw table, or by the writer.
	Rollups bool
	// RollupsByWriter: the writer fills the rollup tables itself (the store
	// aggregates flows with store/rollup) instead of materialized views.
	// Whoever inserts raw flows without the store's writer must then fill
	// them too; without it (tests and benchmarks inserting directly) the
	// views do.
	RollupsByWriter bool
	// TTL is the retention per table name; 0 or absent keeps data forever.
	TTL map[string]time.Duration
	// Disabled lists flow columns that are not written (nor created).
	Disabled []string
}

// Required columns cannot be disabled: the table keys, the rollup keys and
// the exporters/interfaces views use them.
var required = []string{
	"TimeReceived", "SamplingRate", "ExporterAddress", "ExporterName", "ExporterGroup", "ExporterRole",
	"ExporterSite", "ExporterRegion", "ExporterTenant", "InIf", "OutIf", "InIfName", "OutIfName",
	"InIfDescription", "OutIfDescription", "InIfSpeed", "OutIfSpeed", "InIfConnectivity", "OutIfConnectivity",
	"InIfProvider", "OutIfProvider", "InIfBoundary", "OutIfBoundary", "InIfKind", "OutIfKind",
	"EType", "Proto", "SrcAS", "DstAS", "ForwardingStatus", "Bytes", "Packets",
}

// DefaultDisabled are the columns off by default (as in Akvorado: L2,
// next hop, fragments and flow label), enabled through the configuration.
var DefaultDisabled = []string{"SrcMAC", "DstMAC", "SrcVlan", "DstVlan", "NextHop", "IPFragmentID", "IPFragmentOffset", "IPv6FlowLabel"}

// rollupKey is the primary key of the rollup tables, coarse to fine.
var rollupKey = []string{"TimeReceived", "ExporterAddress", "EType", "Proto", "InIf", "SrcAS",
	"ForwardingStatus", "OutIf", "DstAS", "SamplingRate"}

// attributes are rollup columns that are functions of other rollup columns:
// the exporter's classification (of ExporterAddress and ExporterName) and
// the interfaces' attributes (of the exporter and InIf/OutIf), all set by
// enrichment from the exporter and the interface index. ExporterName and
// HostName are not: agents behind NAT at different sites can share a
// private agent address, and several hosts can report through one
// exporter; merging them would credit one host with another's traffic. They do not split
// rollup rows, so they stay out of the rollups' sorting key: the views
// take any() of them per group and the SummingMergeTree keeps an arbitrary
// (the same) value of each when it merges rows. A shorter sorting key
// makes the views' GROUP BY, the sort of every inserted block and the
// merges much cheaper. (An attribute that changes within a rollup bucket,
// e.g. an interface renamed, keeps one of its values for that bucket.)
var attributes = []string{
	"ExporterGroup", "ExporterRole", "ExporterSite", "ExporterRegion", "ExporterTenant",
	"InIfName", "OutIfName", "InIfDescription", "OutIfDescription", "InIfSpeed", "OutIfSpeed",
	"InIfConnectivity", "OutIfConnectivity", "InIfProvider", "OutIfProvider", "InIfBoundary", "OutIfBoundary",
	"InIfKind", "OutIfKind",
}

// Schema is the wanted state of the database.
type Schema struct {
	opts    Options
	flow    *flow.Schema
	columns []*flow.Column // enabled flow columns, schema order
}

// New checks opts against the flow schema.
func New(fs *flow.Schema, opts Options) (*Schema, error) {
	if opts.Database == "" {
		return nil, errors.New("schema: empty database name")
	}
	if !validIdent(opts.Database) || (opts.Cluster != "" && !validIdent(opts.Cluster)) {
		return nil, fmt.Errorf("schema: database %q / cluster %q must be [A-Za-z0-9_]+", opts.Database, opts.Cluster)
	}
	disabled := map[string]bool{}
	for _, name := range opts.Disabled {
		c, ok := fs.Column(name)
		if !ok {
			return nil, fmt.Errorf("schema: unknown column %q", name)
		}
		if slices.Contains(required, c.Name) {
			return nil, fmt.Errorf("schema: column %s is required and cannot be disabled", c.Name)
		}
		disabled[c.Name] = true
	}
	s := &Schema{opts: opts, flow: fs}
	for i := range fs.Columns {
		if !disabled[fs.Columns[i].Name] {
			s.columns = append(s.columns, &fs.Columns[i])
		}
	}
	return s, nil
}

func validIdent(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// Options returns the options the schema was built with.
func (s *Schema) Options() Options { return s.opts }

// FlowColumns returns the enabled flow columns.
func (s *Schema) FlowColumns() []*flow.Column { return s.columns }

// FlowFields returns the Native encoder fields of the enabled flow columns.
// Strings are sent as String (the server casts them to LowCardinality).
func (s *Schema) FlowFields() []native.Field[flow.Record] {
	out := make([]native.Field[flow.Record], 0, len(s.columns))
	for _, c := range s.columns {
		f := native.Field[flow.Record]{Name: c.Name, Type: c.Kind.ClickHouseType(), Uint: c.Uint, Str: c.Str, Addr: c.Addr}
		switch c.Kind {
		case flow.KindUInt8, flow.KindBoundary, flow.KindDirection:
			f.Kind = native.KindUInt8
		case flow.KindUInt16:
			f.Kind = native.KindUInt16
		case flow.KindUInt32, flow.KindDateTime:
			f.Kind = native.KindUInt32
		case flow.KindUInt64:
			f.Kind = native.KindUInt64
		case flow.KindIPv6:
			f.Kind = native.KindIPv6
		case flow.KindString:
			f.Kind, f.Type = native.KindString, "String"
		case flow.KindFixedString2:
			f.Kind = native.KindFixedString2
		default:
			panic("schema: column " + c.Name + " has no native kind") // caught by tests over the whole schema
		}
		out = append(out, f)
	}
	return out
}

// Column is a column of a table definition.
type Column struct {
	Name  string
	Type  string
	Codec string // without CODEC(...), "" for the default
}

// Table is the wanted definition of one table.
type Table struct {
	Name        string
	Columns     []Column
	Engine      string // without the Replicated prefix / arguments added in cluster mode
	PartitionBy string
	OrderBy     []string
	PrimaryKey  []string // empty: same as OrderBy
	TTLColumn   string
	TTL         time.Duration
	Settings    string
}

// View is a materialized view writing into a table.
type View struct {
	Name   string // base name; the stored name carries a hash of the definition
	To     string
	Select string
}

func (s *Schema) ttl(table string) time.Duration { return s.opts.TTL[table] }

func flowColumn(c *flow.Column) Column {
	return Column{Name: c.Name, Type: c.Kind.ClickHouseType(), Codec: c.Codec}
}

// Tables returns every wanted table (local names in cluster mode are
// derived at render time).
func (s *Schema) Tables() []Table {
	var cols []Column
	for _, c := range s.columns {
		cols = append(cols, flowColumn(c))
	}
	tables := []Table{{
		Name: Flows, Columns: cols, Engine: "MergeTree",
		PartitionBy: "toYYYYMMDD(TimeReceived)",
		OrderBy:     []string{"toStartOfFiveMinutes(TimeReceived)", "ExporterAddress", "InIfName", "OutIfName"},
		TTLColumn:   "TimeReceived", TTL: s.ttl(Flows),
		Settings: "index_granularity = 8192, ttl_only_drop_parts = 1",
	}}
	if s.opts.Rollups {
		for _, r := range s.rollups() {
			tables = append(tables, r.table)
		}
	}
	tables = append(tables, s.counterTables()...)
	tables = append(tables, s.completionTables()...)
	return tables
}

type rollupTable struct {
	table   Table
	from    string // table the view reads
	bucket  string // time function
	seconds uint32 // its width
}

func (s *Schema) rollupColumns() (dims []Column, sums []Column) {
	for _, c := range s.columns {
		if c.MainOnly {
			continue
		}
		if c.Name == "Bytes" || c.Name == "Packets" {
			sums = append(sums, flowColumn(c))
			continue
		}
		// The rollups are sorted by time first: every column, TimeReceived
		// included, compresses well with the default codec (LZ4), which
		// decodes fastest.
		col := flowColumn(c)
		col.Codec = ""
		dims = append(dims, col)
	}
	return dims, append(sums, Column{Name: "Flows", Type: "UInt64", Codec: "T64, LZ4"})
}

// rollupOrder is the rollups' sorting key: rollupKey, then every other
// dimension that is not an attribute.
func rollupOrder(dims []Column) []string {
	order := slices.Clone(rollupKey)
	for _, d := range dims {
		if !slices.Contains(order, d.Name) && !slices.Contains(attributes, d.Name) {
			order = append(order, d.Name)
		}
	}
	return order
}

func (s *Schema) rollups() []rollupTable {
	dims, sums := s.rollupColumns()
	order := rollupOrder(dims)
	mk := func(name, partition string) Table {
		return Table{Name: name, Columns: append(slices.Clone(dims), sums...),
			Engine: "SummingMergeTree((Bytes, Packets, Flows))", PartitionBy: partition,
			OrderBy: order, PrimaryKey: rollupKey, TTLColumn: "TimeReceived", TTL: s.ttl(name),
			Settings: "index_granularity = 8192, ttl_only_drop_parts = 1"}
	}
	return []rollupTable{
		{mk(Flows1m, "toYYYYMMDD(TimeReceived)"), Flows, "toStartOfMinute", 60},
		{mk(Flows5m, "toYYYYMMDD(TimeReceived)"), Flows1m, "toStartOfFiveMinutes", 300},
		{mk(Flows1h, "toYYYYMM(TimeReceived)"), Flows5m, "toStartOfHour", 3600},
	}
}

// Views returns the wanted materialized views.
func (s *Schema) Views() []View {
	var views []View
	if s.opts.Rollups && !s.opts.RollupsByWriter {
		for _, r := range s.rollups() {
			views = append(views, View{Name: r.table.Name + "_mv", To: r.table.Name,
				Select: s.rollupSelect(r, s.local(r.from))})
		}
	}
	return views
}

// rollupSelect is the view's SELECT aggregating from into r's rows: it
// groups on the sorting key's columns and takes any() of the attributes
// (functions of the key: one value per group).
func (s *Schema) rollupSelect(r rollupTable, from string) string {
	dims, _ := s.rollupColumns()
	var sel, group []string
	for _, d := range dims {
		switch {
		case d.Name == "TimeReceived":
			sel = append(sel, r.bucket+"(TimeReceived) AS TimeReceived")
			group = append(group, "TimeReceived")
		case slices.Contains(attributes, d.Name):
			sel = append(sel, "any("+d.Name+") AS "+d.Name)
		default:
			sel = append(sel, d.Name)
			group = append(group, d.Name)
		}
	}
	count := "count()"
	if r.from != Flows {
		count = "sum(Flows)"
	}
	sel = append(sel, "sum(Bytes) AS Bytes", "sum(Packets) AS Packets", count+" AS Flows")
	return fmt.Sprintf("SELECT %s FROM %s GROUP BY %s", strings.Join(sel, ", "), from, strings.Join(group, ", "))
}

// RollupLag is how far behind the clock the rollup tables may be: the
// store's writer adds a minute's flows to them after the minute ends (plus
// its batch time; docs/store.md). Readers wanting the latest minutes read
// the raw table.
const RollupLag = 3 * time.Minute

// RollupWriter describes what the writer needs to fill the rollup tables:
// the dimension columns with their Native types (key columns marked), and
// the tables, finest first, with their time bucket in seconds.
func (s *Schema) RollupWriter() (cols []rollup.Column, tables []string, buckets []uint32) {
	dims, _ := s.rollupColumns()
	key := rollupOrder(dims)
	fields := map[string]native.Field[flow.Record]{}
	for _, f := range s.FlowFields() {
		fields[f.Name] = f
	}
	for _, d := range dims {
		if d.Name == "TimeReceived" {
			continue
		}
		f := fields[d.Name]
		cols = append(cols, rollup.Column{Name: d.Name, Type: f.Type, Width: f.Kind.Width(), Key: slices.Contains(key, d.Name)})
	}
	for _, r := range s.rollups() {
		tables = append(tables, s.InsertTable(r.table.Name))
		buckets = append(buckets, r.seconds)
	}
	return cols, tables, buckets
}

// local is the name of the table holding the data on each node.
func (s *Schema) local(name string) string {
	if s.opts.Cluster != "" {
		return s.opts.Database + "." + name + "_local"
	}
	return s.opts.Database + "." + name
}

// InsertTable is the name inserts go to.
func (s *Schema) InsertTable(name string) string { return s.opts.Database + "." + name }
