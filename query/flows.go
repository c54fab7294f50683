package query

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
	"github.com/hostflow/hostflow/store/schema"
)

// DefaultFlowColumns are shown by a raw flow search that names none.
var DefaultFlowColumns = []string{"TimeReceived", "ExporterName", "HostName", "ProcessName", "InIfName", "OutIfName",
	"SrcAddr", "DstAddr", "Proto", "SrcPort", "DstPort", "Bytes", "Packets", "SamplingRate"}

// FlowsRequest searches raw flows, newest first. Paging is offset + limit:
// keep End fixed across pages (the first answer's End) so that flows
// arriving meanwhile do not shift the pages.
type FlowsRequest struct {
	Start, End time.Time
	Filter     string
	Columns    []string // nil: DefaultFlowColumns
	Limit      int      // 0: 100; at most the configured max-flows
	Offset     int
}

// FlowsPage is one page of raw flows. Bytes and Packets are estimates
// (multiplied by SamplingRate), like every other query.
type FlowsPage struct {
	Columns []string
	Rows    [][]any // TimeReceived as time.Time, addresses unmapped, enums and protocols by name
	// Next is the offset of the next page, -1 at the end.
	Next int
}

// exportPage is the page size of CSV exports.
const exportPage = 10000

// flowsPlan prepares a page of limit rows (checked by the caller).
func (b *Builder) flowsPlan(req FlowsRequest, limit int) (*plan, []*flow.Column, error) {
	if err := checkRange(req.Start, req.End); err != nil {
		return nil, nil, err
	}
	f, err := b.parseFilter(req.Filter)
	if err != nil {
		return nil, nil, err
	}
	names := req.Columns
	if len(names) == 0 {
		names = DefaultFlowColumns
	}
	var cols []*flow.Column
	var sel []string
	for _, n := range names {
		c, ok := b.flow.Column(n)
		if !ok || !b.enabled[c.Name] {
			return nil, nil, badRequest("unknown or disabled column %q", n)
		}
		cols = append(cols, c)
		switch c.Name {
		case "Bytes", "Packets":
			sel = append(sel, c.Name+" * SamplingRate AS "+c.Name)
		default:
			sel = append(sel, c.Name)
		}
	}
	if req.Offset < 0 {
		return nil, nil, badRequest("offset must not be negative")
	}
	p := filter.NewParams("")
	// Every selected column after the time breaks ties, so that pages are
	// stable between requests.
	order := []string{"TimeReceived DESC"}
	for _, c := range cols {
		if c.Name != "TimeReceived" {
			order = append(order, c.Name)
		}
	}
	// One row more than asked tells whether there is a next page.
	sql := "SELECT " + strings.Join(sel, ", ") + "\nFROM " + b.qualified(schema.Flows) +
		"\nWHERE " + timeFilter(p, req.Start, req.End) + " AND " + f.SQL(p) +
		"\nORDER BY " + strings.Join(order, ", ") +
		"\nLIMIT " + itoa(int64(limit+1)) + " OFFSET " + itoa(int64(req.Offset))
	return &plan{kind: "flows", table: flowTable{name: schema.Flows, raw: true}, sql: sql, params: p,
		start: req.Start, end: req.End, limit: limit}, cols, nil
}

// Flows returns one page of raw flows.
func (b *Builder) Flows(ctx context.Context, req FlowsRequest) (*FlowsPage, error) {
	limit := req.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 0 || limit > b.cfg.MaxFlows {
		return nil, badRequest("limit must be between 1 and %d", b.cfg.MaxFlows)
	}
	return b.flowsPage(ctx, req, limit)
}

func (b *Builder) flowsPage(ctx context.Context, req FlowsRequest, limit int) (*FlowsPage, error) {
	pl, cols, err := b.flowsPlan(req, limit)
	if err != nil {
		return nil, err
	}
	res, err := b.run(ctx, pl.kind, pl.table.name, pl.sql, pl.params)
	if err != nil {
		return nil, err
	}
	page := &FlowsPage{Columns: columnNames(cols), Next: -1}
	for i, row := range res.Rows {
		if i == pl.limit {
			page.Next = req.Offset + pl.limit
			break
		}
		out := make([]any, len(row))
		for j, v := range row {
			out[j] = flowValue(cols[j], v)
		}
		page.Rows = append(page.Rows, out)
	}
	return page, nil
}

// flowValue presents a raw value: addresses unmapped, enumerated values
// (protocols, Ethernet types) by name.
func flowValue(c *flow.Column, v any) any {
	switch x := v.(type) {
	case netip.Addr:
		return x.Unmap()
	case uint64:
		if name, ok := filter.SymbolName(c.Filter, x); ok {
			return name
		}
	}
	return v
}

// ExportCSV writes the flows of req (from its Offset, up to the configured
// max-export-rows) as CSV with a header line, page by page.
func (b *Builder) ExportCSV(ctx context.Context, req FlowsRequest, w io.Writer) error {
	cw := csv.NewWriter(w)
	written := 0
	for page := 0; ; page++ {
		res, err := b.flowsPage(ctx, req, exportPage)
		if err != nil {
			return err
		}
		if page == 0 {
			if err := cw.Write(res.Columns); err != nil {
				return err
			}
		}
		record := make([]string, len(res.Columns))
		for _, row := range res.Rows {
			if written == b.cfg.MaxExportRows {
				cw.Flush()
				return cw.Error()
			}
			for i, v := range row {
				record[i] = csvValue(v)
			}
			if err := cw.Write(record); err != nil {
				return err
			}
			written++
		}
		if res.Next < 0 {
			break
		}
		req.Offset = res.Next
	}
	cw.Flush()
	return cw.Error()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case uint64:
		return strconv.FormatUint(x, 10)
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
