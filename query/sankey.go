package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
)

// SankeyRequest asks for the traffic between 2 to 4 dimensions.
type SankeyRequest struct {
	Start, End time.Time
	Dimensions []string
	Limit      int // top N dimension tuples (0: 10); the rest is one "Other" path
	Filter     string
	Unit       Unit
	// Bidirectional adds the reverse traffic (filter reversed, dimensions
	// mirrored) as Reverse, for side-by-side halves.
	Bidirectional bool
}

// SankeyPath is one dimension tuple and its average rate over the range.
type SankeyPath struct {
	Labels []string
	Other  bool
	Value  float64
}

// SankeyNode is a value of one dimension.
type SankeyNode struct {
	Dimension int // index in Dimensions
	Label     string
}

// SankeyLink joins nodes of consecutive dimensions.
type SankeyLink struct {
	Source, Target int // indexes in Nodes
	Value          float64
}

// Sankey is the answer: the top paths and, derived from them, the graph.
type Sankey struct {
	Start, End time.Time
	Table      string
	Dimensions []string
	Paths      []SankeyPath
	Nodes      []SankeyNode
	Links      []SankeyLink
	Reverse    *Sankey // bidirectional: the reverse traffic
}

// sankeyPlan: one scan aggregating per dimension tuple; row_number() on
// that aggregate ranks the tuples and ranks past the limit fold into one
// group (the "Q2 tuned" shape of reference §6).
func (b *Builder) sankeyPlan(req SankeyRequest) (*plan, error) {
	if err := checkRange(req.Start, req.End); err != nil {
		return nil, err
	}
	f, err := b.parseFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	dims, err := b.dimensions(req.Dimensions, 2, 4)
	if err != nil {
		return nil, err
	}
	return b.sankeyPlanFor(req, f, dims)
}

// sankeyPlanFor builds the statement for a parsed filter and dimensions
// (the reverse half passes the mirrored ones).
func (b *Builder) sankeyPlanFor(req SankeyRequest, f *filter.Filter, dims []*flow.Column) (*plan, error) {
	limit, err := b.limit(req.Limit)
	if err != nil {
		return nil, err
	}
	extra, err := b.unitColumns(req.Unit)
	if err != nil {
		return nil, err
	}
	used := append(append(slices.Clone(dims), f.Columns()...), extra...)
	// The whole range is one bucket: any table whose resolution divides
	// it. Ranges are rounded out to the minute so rollups can serve them.
	start := alignDown(req.Start, time.Minute)
	end := alignDown(req.End.Add(time.Minute-time.Second), time.Minute)
	table, _ := b.chooseTable(start, end, end.Sub(start), used)
	start, end = alignDown(start, table.resolution), alignDown(end.Add(table.resolution-time.Second), table.resolution)
	value, _, _ := b.valueExpr(req.Unit, table)
	p := filter.NewParams("")
	dl, sel, labels := dimensionSQL(dims)
	sql := "SELECT r, " + labels + ", sum(v) AS v\nFROM (\n" +
		"  SELECT " + dl + ", v, least(row_number() OVER (ORDER BY v DESC, " + dl + "), " + itoa(int64(limit+1)) + ") AS r\n" +
		"  FROM (\n" +
		"    SELECT " + sel + ", " + value + " AS v\n" +
		"    FROM " + b.qualified(table.name) + "\n" +
		"    WHERE " + timeFilter(p, start, end) + " AND " + f.SQL(p) + "\n" +
		"    GROUP BY " + dl + "\n" +
		"  )\n)\nGROUP BY r\nORDER BY r"
	return &plan{kind: "sankey", table: table, sql: sql, params: p, start: start, end: end,
		step: end.Sub(start), dims: dims, limit: limit}, nil
}

// Sankey runs a sankey request.
func (b *Builder) Sankey(ctx context.Context, req SankeyRequest) (*Sankey, error) {
	pl, err := b.sankeyPlan(req)
	if err != nil {
		return nil, err
	}
	out, err := b.runSankey(ctx, pl)
	if err != nil || !req.Bidirectional {
		return out, err
	}
	f, _ := b.parseFilter(req.Filter) // parsed once already
	rdims := make([]*flow.Column, len(pl.dims))
	for i, d := range pl.dims {
		rdims[i] = mirror(b.flow, d)
	}
	rpl, err := b.sankeyPlanFor(req, f.Reverse(b.flow), rdims)
	if err != nil {
		return nil, err
	}
	rpl.kind = "sankey-reverse"
	if out.Reverse, err = b.runSankey(ctx, rpl); err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Builder) runSankey(ctx context.Context, pl *plan) (*Sankey, error) {
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return nil, err
	}
	out := &Sankey{Start: pl.start, End: pl.end, Table: pl.table.name, Dimensions: columnNames(pl.dims)}
	secs := pl.step.Seconds()
	for _, row := range res.Rows {
		r, _ := row[0].(uint64)
		path := SankeyPath{Other: r > uint64(pl.limit), Value: number(row[len(row)-1]) / secs}
		for j, d := range pl.dims {
			l := "Other"
			if !path.Other {
				l = label(d, row[1+j])
			}
			path.Labels = append(path.Labels, l)
		}
		out.Paths = append(out.Paths, path)
	}
	out.Nodes, out.Links = sankeyGraph(out.Paths)
	return out, nil
}

// sankeyGraph turns paths into nodes (one per dimension and label) and
// links between consecutive dimensions, summing paths that share a link.
func sankeyGraph(paths []SankeyPath) ([]SankeyNode, []SankeyLink) {
	var nodes []SankeyNode
	var links []SankeyLink
	nodeIdx := map[SankeyNode]int{}
	linkIdx := map[[2]int]int{}
	node := func(n SankeyNode) int {
		if i, ok := nodeIdx[n]; ok {
			return i
		}
		nodeIdx[n] = len(nodes)
		nodes = append(nodes, n)
		return len(nodes) - 1
	}
	for _, p := range paths {
		for i := 0; i+1 < len(p.Labels); i++ {
			key := [2]int{node(SankeyNode{i, p.Labels[i]}), node(SankeyNode{i + 1, p.Labels[i+1]})}
			if j, ok := linkIdx[key]; ok {
				links[j].Value += p.Value
				continue
			}
			linkIdx[key] = len(links)
			links = append(links, SankeyLink{Source: key[0], Target: key[1], Value: p.Value})
		}
	}
	return nodes, links
}

// dimensionSQL names the dimensions d0, d1, ... for the inner queries and
// returns their list, the inner SELECT expressions and the outer label
// aggregates (any(d0) AS l0, ...).
func dimensionSQL(dims []*flow.Column) (list, sel, labels string) {
	var ds, ss, ls []string
	for i, d := range dims {
		name := fmt.Sprintf("d%d", i)
		ds = append(ds, name)
		ss = append(ss, d.Name+" AS "+name)
		ls = append(ls, fmt.Sprintf("any(%s) AS l%d", name, i))
	}
	return strings.Join(ds, ", "), strings.Join(ss, ", "), strings.Join(ls, ", ")
}
