package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// Tables detect creates in the store's database.
const (
	// TableDetections holds one row per version of each detection
	// (ReplacingMergeTree on Version; readers keep the newest per ID).
	TableDetections = "detections"
	// TableSeen holds, per novelty rule, subject and item, when the item
	// was first and last seen (AggregatingMergeTree: min/max).
	TableSeen = "detect_seen"
)

// detectionColumns are the detections table's columns in insert order;
// each is bound from a Detection by detectionValues.
var detectionColumns = []schema.Column{
	{Name: "ID", Type: "String"},
	{Name: "Version", Type: "UInt64"},
	{Name: "Rule", Type: "LowCardinality(String)"},
	{Name: "Severity", Type: "LowCardinality(String)"},
	{Name: "SubjectKey", Type: "String"},
	{Name: "Subject", Type: "String"},
	{Name: "Summary", Type: "String"},
	{Name: "FirstSeen", Type: "DateTime"},
	{Name: "LastSeen", Type: "DateTime"},
	{Name: "Count", Type: "UInt64"},
	{Name: "Observed", Type: "String"},
	{Name: "Thresholds", Type: "String"},
	{Name: "Keys", Type: "String"},
	{Name: "Details", Type: "String"},
	{Name: "Filter", Type: "String"},
	{Name: "RangeStart", Type: "DateTime"},
	{Name: "RangeEnd", Type: "DateTime"},
	{Name: "EvidenceTable", Type: "LowCardinality(String)"},
	{Name: "EvidenceSQL", Type: "String", Codec: "ZSTD(3)"},
	{Name: "EvidenceParams", Type: "String"},
}

func (d *Detector) tables() []schema.Table {
	var seenTTL time.Duration
	for _, n := range []NoveltyConfig{d.cfg.Rules.NewPeer.NoveltyConfig, d.cfg.Rules.NewService.NoveltyConfig} {
		seenTTL = max(seenTTL, time.Duration(n.Baseline))
	}
	return []schema.Table{
		{Name: TableDetections, Columns: detectionColumns, Engine: "ReplacingMergeTree(Version)",
			PartitionBy: "toYYYYMM(FirstSeen)", OrderBy: []string{"Rule", "FirstSeen", "ID"},
			TTLColumn: "LastSeen", TTL: time.Duration(d.cfg.Retention)},
		{Name: TableSeen, Columns: []schema.Column{
			{Name: "Rule", Type: "LowCardinality(String)"},
			{Name: "Host", Type: "LowCardinality(String)"},
			{Name: "Process", Type: "LowCardinality(String)"},
			{Name: "Kind", Type: "LowCardinality(String)"},
			{Name: "Key", Type: "String"},
			{Name: "FirstSeen", Type: "SimpleAggregateFunction(min, DateTime)"},
			{Name: "LastSeen", Type: "SimpleAggregateFunction(max, DateTime)"},
		}, Engine: "AggregatingMergeTree", OrderBy: []string{"Rule", "Host", "Process", "Kind", "Key"},
			TTLColumn: "LastSeen", TTL: seenTTL},
	}
}

// createTables creates detect's tables when missing and brings their TTL
// to the configured retention. Other differences (columns) are not
// migrated: the tables are detect's own and versioned by their names.
func (d *Detector) createTables(ctx context.Context) error {
	for _, t := range d.tables() {
		for _, sql := range d.sc.CreateTable(t) {
			if err := d.st.Exec(ctx, sql); err != nil {
				return fmt.Errorf("detect: create table %s: %w", t.Name, err)
			}
		}
		stored := t.Name
		if d.sc.Options().Cluster != "" {
			stored += "_local"
		}
		res, err := d.st.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
			map[string]string{"db": d.sc.Options().Database, "t": stored})
		if err != nil {
			return fmt.Errorf("detect: table %s: %w", t.Name, err)
		}
		want := fmt.Sprintf("TTL %s + toIntervalSecond(%d)", t.TTLColumn, int64(t.TTL/time.Second))
		if len(res.Rows) == 1 && !strings.Contains(str(res.Rows[0][0]), want) {
			sql := fmt.Sprintf("ALTER TABLE %s.%s%s MODIFY TTL %s + toIntervalSecond(%d)", d.sc.Options().Database, stored,
				onCluster(d.sc), t.TTLColumn, int64(t.TTL/time.Second))
			if err := d.st.Exec(ctx, sql); err != nil {
				return fmt.Errorf("detect: table %s TTL: %w", t.Name, err)
			}
		}
	}
	return nil
}

func onCluster(sc *schema.Schema) string {
	if c := sc.Options().Cluster; c != "" {
		return " ON CLUSTER " + c
	}
	return ""
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// saveBatch is the most detections one INSERT carries.
const saveBatch = 200

// detectionRow is a Detection as a JSONEachRow row of the detections
// table (field names are the column names).
type detectionRow struct {
	ID                           string
	Version                      uint64
	Rule, Severity               string
	SubjectKey, Subject, Summary string
	FirstSeen, LastSeen          int64
	Count                        uint64
	Observed, Thresholds         string
	Keys, Details                string
	Filter                       string
	RangeStart, RangeEnd         int64
	EvidenceTable, EvidenceSQL   string
	EvidenceParams               string
}

// save writes the current version of each detection; versions[i] orders
// the rows of dets[i]. The rows travel as one bound parameter in
// JSONEachRow, read by the format() table function: values are never SQL
// text, and one statement carries many rows.
func (d *Detector) save(ctx context.Context, dets []*Detection, versions []uint64) error {
	names := make([]string, len(detectionColumns))
	structure := make([]string, len(detectionColumns))
	for i, c := range detectionColumns {
		names[i], structure[i] = c.Name, c.Name+" "+c.Type
	}
	sql := "INSERT INTO " + d.table(TableDetections) + " (" + strings.Join(names, ", ") + ")\nSELECT " +
		strings.Join(names, ", ") + " FROM format(JSONEachRow, '" + strings.Join(structure, ", ") + "', {rows:String})"
	for len(dets) > 0 {
		n := min(len(dets), saveBatch)
		var rows strings.Builder
		enc := json.NewEncoder(&rows)
		for i, det := range dets[:n] {
			e := &det.Evidence
			if err := enc.Encode(detectionRow{ID: det.ID, Version: versions[i], Rule: det.Rule, Severity: det.Severity,
				SubjectKey: det.Subject.String(), Subject: jsonText(det.Subject), Summary: det.Summary,
				FirstSeen: det.FirstSeen.Unix(), LastSeen: det.LastSeen.Unix(), Count: det.Count,
				Observed: jsonText(det.Values), Thresholds: jsonText(det.Thresholds), Keys: jsonText(det.Keys),
				Details: jsonText(det.Details), Filter: e.Filter, RangeStart: e.Start.Unix(), RangeEnd: e.End.Unix(),
				EvidenceTable: e.Table, EvidenceSQL: e.SQL, EvidenceParams: jsonText(e.Params)}); err != nil {
				return fmt.Errorf("detect: save detections: %w", err)
			}
		}
		// Query rather than Exec: the store's Exec takes no parameters; an
		// INSERT returns an empty result.
		if _, err := d.st.Query(ctx, sql, map[string]string{"rows": rows.String()}); err != nil {
			return fmt.Errorf("detect: save detections: %w", err)
		}
		dets, versions = dets[n:], versions[n:]
	}
	return nil
}

// list returns the newest version of the detections last seen at or after
// since, most recent first. LIMIT 1 BY ID (rather than FINAL) also merges
// versions held by different shards of a cluster.
func (d *Detector) list(ctx context.Context, since time.Time, limit int) ([]Detection, error) {
	p := filter.NewParams("")
	names := make([]string, len(detectionColumns))
	for i, c := range detectionColumns {
		names[i] = c.Name
	}
	sql := "SELECT " + strings.Join(names, ", ") + " FROM (SELECT * FROM " + d.table(TableDetections) +
		" WHERE LastSeen >= " + at(p, since) + " ORDER BY Version DESC LIMIT 1 BY ID)" +
		" ORDER BY LastSeen DESC, ID LIMIT " + strconv.Itoa(limit)
	res, err := d.st.Query(ctx, sql, p.Values())
	if err != nil {
		return nil, fmt.Errorf("detect: list detections: %w", err)
	}
	out := make([]Detection, 0, len(res.Rows))
	now := d.now()
	for _, row := range res.Rows {
		det, err := scanDetection(row)
		if err != nil {
			return nil, err
		}
		det.Active = now.Sub(det.LastSeen) < time.Duration(d.cfg.CoolDown)
		out = append(out, det)
	}
	return out, nil
}

// scanDetection reads a row of detectionColumns.
func scanDetection(row []any) (Detection, error) {
	det := Detection{ID: str(row[0]), Rule: str(row[2]), Severity: str(row[3]), Summary: str(row[6]),
		FirstSeen: when(row[7]), LastSeen: when(row[8]), Count: uint64(num(row[9]))}
	e := &det.Evidence
	e.Filter, e.Start, e.End, e.Table, e.SQL = str(row[14]), when(row[15]), when(row[16]), str(row[17]), str(row[18])
	for _, f := range []struct {
		col int
		dst any
	}{{5, &det.Subject}, {10, &det.Values}, {11, &det.Thresholds}, {12, &det.Keys}, {13, &det.Details}, {19, &e.Params}} {
		if err := json.Unmarshal([]byte(str(row[f.col])), f.dst); err != nil {
			return det, fmt.Errorf("detect: detection %s: column %s: %w", det.ID, detectionColumns[f.col].Name, err)
		}
	}
	return det, nil
}
