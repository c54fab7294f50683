package schema

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

func (s *Schema) onCluster() string {
	if s.opts.Cluster != "" {
		return " ON CLUSTER " + s.opts.Cluster
	}
	return ""
}

// storedName is the name of the table holding t's rows (t itself, or its
// _local table in cluster mode).
func (s *Schema) storedName(t string) string {
	if s.opts.Cluster != "" {
		return t + "_local"
	}
	return t
}

func columnDDL(c Column) string {
	if c.Codec != "" {
		return fmt.Sprintf("%s %s CODEC(%s)", c.Name, c.Type, c.Codec)
	}
	return c.Name + " " + c.Type
}

// ttlExpr is the TTL clause body exactly as ClickHouse prints it back in
// system.tables.engine_full, so that comparing them detects changes.
func ttlExpr(t Table) string {
	if t.TTL <= 0 {
		return ""
	}
	return fmt.Sprintf("%s + toIntervalSecond(%d)", t.TTLColumn, int64(t.TTL/time.Second))
}

// engine returns the ENGINE clause, Replicated in cluster mode.
func (s *Schema) engine(t Table) string {
	if s.opts.Cluster == "" {
		return t.Engine
	}
	name, args, _ := strings.Cut(t.Engine, "(")
	args = strings.TrimSuffix(args, ")")
	zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", s.opts.Database, s.storedName(t.Name))
	if args != "" {
		zk += ", " + args
	}
	return "Replicated" + name + "(" + zk + ")"
}

// CreateTable returns the statements creating t (and its Distributed table
// in cluster mode).
func (s *Schema) CreateTable(t Table) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s%s (\n", s.opts.Database, s.storedName(t.Name), s.onCluster())
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  " + columnDDL(c))
	}
	fmt.Fprintf(&b, "\n) ENGINE = %s", s.engine(t))
	if t.PartitionBy != "" {
		fmt.Fprintf(&b, "\nPARTITION BY %s", t.PartitionBy)
	}
	if len(t.PrimaryKey) > 0 {
		fmt.Fprintf(&b, "\nPRIMARY KEY (%s)", strings.Join(t.PrimaryKey, ", "))
	}
	fmt.Fprintf(&b, "\nORDER BY (%s)", strings.Join(t.OrderBy, ", "))
	if e := ttlExpr(t); e != "" {
		fmt.Fprintf(&b, "\nTTL %s", e)
	}
	if t.Settings != "" {
		fmt.Fprintf(&b, "\nSETTINGS %s", t.Settings)
	}
	out := []string{b.String()}
	if s.opts.Cluster != "" {
		out = append(out, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s ENGINE = Distributed(%s, %s, %s, rand())",
			s.opts.Database, t.Name, s.onCluster(), s.opts.Database, s.storedName(t.Name),
			s.opts.Cluster, s.opts.Database, s.storedName(t.Name)))
	}
	return out
}

// viewName is the stored name of v: its base name plus a hash of its
// definition, so a changed definition is a different view.
func viewName(v View) string {
	h := fnv.New32a()
	h.Write([]byte(v.To + "\x00" + v.Select))
	return fmt.Sprintf("%s_%08x", v.Name, h.Sum32())
}

// CreateView returns the statement creating v.
func (s *Schema) CreateView(v View) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s AS %s",
		s.opts.Database, viewName(v), s.onCluster(), s.local(v.To), v.Select)
}

// DDL returns every statement creating the schema from scratch, in order
// (used for golden files and documentation).
func (s *Schema) DDL() []string {
	out := []string{"CREATE DATABASE IF NOT EXISTS " + s.opts.Database + s.onCluster()}
	for _, t := range s.Tables() {
		out = append(out, s.CreateTable(t)...)
	}
	for _, v := range s.Views() {
		out = append(out, s.CreateView(v))
	}
	return out
}
