package schema

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hostflow/hostflow/store/transport"
)

// Executor is what migrations need from a transport.
type Executor interface {
	Exec(ctx context.Context, sql string, params map[string]string) error
	Query(ctx context.Context, sql string, params map[string]string) (*transport.Result, error)
}

type existingTable struct {
	engine, engineFull, sortingKey string
	columns                        map[string]existingColumn
}

type existingColumn struct{ typ, codec string }

// Migrate brings the database to the wanted schema and returns the
// statements it ran. It compares the live definitions (system.tables,
// system.columns) with the wanted ones and only issues what differs, so a
// second run returns no statement:
//   - missing database, tables and views are created;
//   - missing columns are added (in rollups, with the sorting key extended
//     by them in the same ALTER, since a SummingMergeTree sums every column
//     outside its key);
//   - columns whose type or codec differ are modified;
//   - a changed TTL is modified or removed, after cancelling the table's
//     unfinished TTL materialization; failed ones are cancelled too;
//   - materialized views carry a hash of their definition in their name:
//     a changed definition drops the old view and creates the new one.
//
// Disabled columns are never dropped (their data stays queryable). A
// changed ORDER BY or PARTITION BY of an existing table is not migrated:
// applying it means rebuilding the table.
func (s *Schema) Migrate(ctx context.Context, ex Executor) ([]string, error) {
	var applied []string
	run := func(sql string) error {
		if err := ex.Exec(ctx, sql, nil); err != nil {
			return fmt.Errorf("migrate: %w\nstatement: %s", err, firstLine(sql))
		}
		applied = append(applied, sql)
		return nil
	}
	db := s.opts.Database
	res, err := ex.Query(ctx, "SELECT count() FROM system.databases WHERE name = {db:String}", map[string]string{"db": db})
	if err != nil {
		return nil, fmt.Errorf("migrate: list databases: %w", err)
	}
	if len(res.Rows) == 1 && res.Rows[0][0] == uint64(0) {
		if err := run("CREATE DATABASE IF NOT EXISTS " + db + s.onCluster()); err != nil {
			return applied, err
		}
	}
	tables, err := s.existing(ctx, ex)
	if err != nil {
		return applied, err
	}
	for _, t := range s.Tables() {
		old, ok := tables[s.storedName(t.Name)]
		if !ok {
			for _, sql := range s.CreateTable(t) {
				if err := run(sql); err != nil {
					return applied, err
				}
			}
			continue
		}
		var dist *existingTable
		if s.opts.Cluster != "" {
			dist = tables[t.Name]
		}
		for _, sql := range s.alterTable(t, old, dist) {
			if err := run(sql); err != nil {
				return applied, err
			}
		}
	}
	if err := s.healTTLMutations(ctx, ex, run); err != nil {
		return applied, err
	}
	// Views: keep the ones whose hashed name is wanted, drop stale ones
	// (changed definition, or rollups turned off).
	wanted := map[string]View{}
	for _, v := range s.Views() {
		wanted[viewName(v)] = v
	}
	for name, t := range tables {
		if t.engine != "MaterializedView" || !isOurView(name) {
			continue
		}
		if _, ok := wanted[name]; !ok {
			if err := run(fmt.Sprintf("DROP VIEW IF EXISTS %s.%s%s SYNC", db, name, s.onCluster())); err != nil {
				return applied, err
			}
		}
	}
	for _, v := range s.Views() {
		if _, ok := tables[viewName(v)]; !ok {
			if err := run(s.CreateView(v)); err != nil {
				return applied, err
			}
		}
	}
	return applied, nil
}

var viewRe = regexp.MustCompile(`^(flows_1m|flows_5m|flows_1h|exporters|interfaces_in|interfaces_out|interfaces)_mv_[0-9a-f]{8}$`)

func isOurView(name string) bool { return viewRe.MatchString(name) }

func (s *Schema) existing(ctx context.Context, ex Executor) (map[string]*existingTable, error) {
	params := map[string]string{"db": s.opts.Database}
	res, err := ex.Query(ctx, "SELECT name, engine, engine_full, sorting_key FROM system.tables WHERE database = {db:String}", params)
	if err != nil {
		return nil, fmt.Errorf("migrate: list tables: %w", err)
	}
	tables := map[string]*existingTable{}
	for _, r := range res.Rows {
		tables[r[0].(string)] = &existingTable{engine: r[1].(string), engineFull: r[2].(string),
			sortingKey: r[3].(string), columns: map[string]existingColumn{}}
	}
	res, err = ex.Query(ctx, "SELECT table, name, type, compression_codec FROM system.columns WHERE database = {db:String} ORDER BY table, position", params)
	if err != nil {
		return nil, fmt.Errorf("migrate: list columns: %w", err)
	}
	for _, r := range res.Rows {
		t, ok := tables[r[0].(string)]
		if !ok {
			continue
		}
		t.columns[r[1].(string)] = existingColumn{typ: r[2].(string), codec: r[3].(string)}
	}
	return tables, nil
}

var ttlRe = regexp.MustCompile(` TTL (.+?)(?: SETTINGS |$)`)

// alterTable returns the ALTERs turning old into t. dist is the
// Distributed table in cluster mode (nil otherwise).
func (s *Schema) alterTable(t Table, old, dist *existingTable) []string {
	name := s.opts.Database + "." + s.storedName(t.Name)
	var adds, modifies, removeCodecs, newKey []string
	summing := strings.Contains(t.Engine, "Summing")
	for _, c := range t.Columns {
		oc, ok := old.columns[c.Name]
		if !ok {
			adds = append(adds, "ADD COLUMN IF NOT EXISTS "+columnDDL(c))
			if summing && slices.Contains(t.OrderBy, c.Name) {
				newKey = append(newKey, c.Name)
			}
			continue
		}
		wantCodec := ""
		if c.Codec != "" {
			wantCodec = "CODEC(" + c.Codec + ")"
		}
		if oc.typ != c.Type || (wantCodec != "" && normalizeCodec(oc.codec) != normalizeCodec(wantCodec)) {
			modifies = append(modifies, "MODIFY COLUMN "+columnDDL(c))
		}
		if wantCodec == "" && oc.codec != "" {
			// MODIFY COLUMN without CODEC keeps the old codec: removing
			// it is a statement of its own, run after the others.
			removeCodecs = append(removeCodecs, "MODIFY COLUMN "+c.Name+" REMOVE CODEC")
		}
	}
	var out []string
	if len(adds) > 0 || len(modifies) > 0 {
		clauses := append(adds, modifies...)
		if len(newKey) > 0 {
			clauses = append(clauses, fmt.Sprintf("MODIFY ORDER BY (%s, %s)", old.sortingKey, strings.Join(newKey, ", ")))
		}
		out = append(out, fmt.Sprintf("ALTER TABLE %s%s %s", name, s.onCluster(), strings.Join(clauses, ", ")))
		if dist != nil && len(adds) > 0 {
			out = append(out, fmt.Sprintf("ALTER TABLE %s.%s%s %s", s.opts.Database, t.Name, s.onCluster(), strings.Join(adds, ", ")))
		}
	}
	if len(removeCodecs) > 0 {
		out = append(out, fmt.Sprintf("ALTER TABLE %s%s %s", name, s.onCluster(), strings.Join(removeCodecs, ", ")))
	}
	oldTTL := ""
	if m := ttlRe.FindStringSubmatch(old.engineFull); m != nil {
		oldTTL = m[1]
	}
	if want := ttlExpr(t); want != oldTTL {
		// A TTL change makes the engine rewrite the parts' TTL information
		// (MATERIALIZE TTL). One left unfinished (the process stopped while
		// waiting for it) fails forever once the TTL is removed, and is moot
		// once the TTL changes again: cancel it first.
		out = append(out, s.killTTLMutations(s.storedName(t.Name)))
		if want == "" {
			out = append(out, fmt.Sprintf("ALTER TABLE %s%s REMOVE TTL", name, s.onCluster()))
		} else {
			out = append(out, fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL %s", name, s.onCluster(), want))
		}
	}
	return out
}

// killTTLMutations cancels the unfinished MATERIALIZE TTL mutations of a
// table (none: the statement does nothing).
func (s *Schema) killTTLMutations(table string) string {
	return fmt.Sprintf("KILL MUTATION%s WHERE database = '%s' AND table = '%s' AND NOT is_done AND command LIKE '%%MATERIALIZE TTL%%' SYNC",
		s.onCluster(), s.opts.Database, table)
}

// healTTLMutations cancels the MATERIALIZE TTL mutations that failed:
// left by a TTL change interrupted then undone by an earlier version, they
// are retried forever and keep the table's later mutations waiting.
func (s *Schema) healTTLMutations(ctx context.Context, ex Executor, run func(string) error) error {
	res, err := ex.Query(ctx, `SELECT DISTINCT table FROM system.mutations WHERE database = {db:String}
		AND NOT is_done AND latest_fail_reason != '' AND command LIKE '%MATERIALIZE TTL%' ORDER BY table`,
		map[string]string{"db": s.opts.Database})
	if err != nil {
		return fmt.Errorf("migrate: list failed mutations: %w", err)
	}
	for _, r := range res.Rows {
		if table, _ := r[0].(string); validIdent(table) {
			if err := run(s.killTTLMutations(table)); err != nil {
				return err
			}
		}
	}
	return nil
}

func normalizeCodec(c string) string { return strings.ReplaceAll(c, " ", "") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
