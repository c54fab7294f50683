// Package schema derives the store's ClickHouse tables from the flow column
// table (flow.NewSchema) and the counter records, renders their DDL, and
// migrates an existing database to it idempotently.
//
// Tables (names as seen by inserts and queries):
//
//	flows              raw flows, MergeTree, partitioned by day
//	flows_1m/5m/1h     rollups (non-MainOnly columns + Flows), SummingMergeTree,
//	                   fed by chained materialized views flows → 1m → 5m → 1h
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
	// Rollups enables flows_1m, flows_5m and flows_1h and their views.
	Rollups bool
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
var rollupKey = []string{"TimeReceived", "ExporterAddress", "EType", "Proto", "InIfName", "SrcAS",
	"ForwardingStatus", "OutIfName", "DstAS", "SamplingRate"}

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

type rollup struct {
	table  Table
	from   string // table the view reads
	bucket string // time function
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
		col := flowColumn(c)
		if c.Name != "TimeReceived" {
			col.Codec = "" // keys compress well with the default
		}
		dims = append(dims, col)
	}
	return dims, append(sums, Column{Name: "Flows", Type: "UInt64", Codec: "T64, LZ4"})
}

func (s *Schema) rollups() []rollup {
	dims, sums := s.rollupColumns()
	order := slices.Clone(rollupKey)
	for _, d := range dims {
		if !slices.Contains(order, d.Name) {
			order = append(order, d.Name)
		}
	}
	mk := func(name, partition string) Table {
		return Table{Name: name, Columns: append(slices.Clone(dims), sums...),
			Engine: "SummingMergeTree((Bytes, Packets, Flows))", PartitionBy: partition,
			OrderBy: order, PrimaryKey: rollupKey, TTLColumn: "TimeReceived", TTL: s.ttl(name),
			Settings: "index_granularity = 8192, ttl_only_drop_parts = 1"}
	}
	return []rollup{
		{mk(Flows1m, "toYYYYMMDD(TimeReceived)"), Flows, "toStartOfMinute"},
		{mk(Flows5m, "toYYYYMMDD(TimeReceived)"), Flows1m, "toStartOfFiveMinutes"},
		{mk(Flows1h, "toYYYYMM(TimeReceived)"), Flows5m, "toStartOfHour"},
	}
}

// Views returns the wanted materialized views.
func (s *Schema) Views() []View {
	var views []View
	if s.opts.Rollups {
		dims, _ := s.rollupColumns()
		var sel, group []string
		for _, r := range s.rollups() {
			sel, group = sel[:0], group[:0]
			for _, d := range dims {
				if d.Name == "TimeReceived" {
					sel = append(sel, r.bucket+"(TimeReceived) AS TimeReceived")
				} else {
					sel = append(sel, d.Name)
				}
				group = append(group, d.Name)
			}
			count := "count()"
			if r.from != Flows {
				count = "sum(Flows)"
			}
			sel = append(sel, "sum(Bytes) AS Bytes", "sum(Packets) AS Packets", count+" AS Flows")
			views = append(views, View{Name: r.table.Name + "_mv", To: r.table.Name,
				Select: fmt.Sprintf("SELECT %s FROM %s GROUP BY %s", strings.Join(sel, ", "),
					s.local(r.from), strings.Join(group, ", "))})
		}
	}
	return views
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
