package query

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/query/filter"
)

// Unit is what a series measures. Rates are per second over each bucket.
type Unit string

const (
	UnitL3bps      Unit = "l3bps"         // IP bytes × 8 × sampling rate
	UnitL2bps      Unit = "l2bps"         // plus the L2 overhead per packet
	UnitPPS        Unit = "pps"           // packets × sampling rate
	UnitFPS        Unit = "fps"           // flow records received (not scaled)
	UnitInIfSpeed  Unit = "in-speed-pct"  // L2 bps as % of the input interface speed
	UnitOutIfSpeed Unit = "out-speed-pct" // L2 bps as % of the output interface speed
)

// valueExpr is the aggregate summed per bucket for unit u; dividing it by
// the bucket's seconds gives the rate. Bytes and Packets are always scaled
// by SamplingRate. It also returns the columns it reads beyond
// Bytes/Packets/SamplingRate (for table choice).
func (b *Builder) valueExpr(u Unit, t flowTable) (string, []*flow.Column, error) {
	l2 := fmt.Sprintf("(Bytes + %d * Packets) * SamplingRate * 8", b.cfg.L2Overhead)
	speed := func(col string) (string, []*flow.Column, error) {
		c, _ := b.flow.Column(col)
		// Speeds are in Mbps; interfaces of unknown speed (0) are left out.
		return fmt.Sprintf("sumIf(%s * 100 / (%s * 1000000), %s > 0)", l2, col, col), []*flow.Column{c}, nil
	}
	switch u {
	case "", UnitL3bps:
		return "sum(Bytes * SamplingRate * 8)", nil, nil
	case UnitL2bps:
		return "sum(" + l2 + ")", nil, nil
	case UnitPPS:
		return "sum(Packets * SamplingRate)", nil, nil
	case UnitFPS:
		if t.raw {
			return "count()", nil, nil
		}
		return "sum(Flows)", nil, nil
	case UnitInIfSpeed:
		return speed("InIfSpeed")
	case UnitOutIfSpeed:
		return speed("OutIfSpeed")
	}
	return "", nil, badRequest("unknown unit %q (l3bps, l2bps, pps, fps, in-speed-pct, out-speed-pct)", u)
}

// unitColumns returns the extra columns a unit needs (table choice happens
// before the value expression is built).
func (b *Builder) unitColumns(u Unit) ([]*flow.Column, error) {
	_, cols, err := b.valueExpr(u, flowTable{raw: true})
	return cols, err
}

// label formats a dimension value the way a filter would write it.
func label(c *flow.Column, v any) string {
	switch v := v.(type) {
	case netip.Addr:
		return v.Unmap().String()
	case string:
		return v
	case uint64:
		if name, ok := filter.SymbolName(c.Filter, v); ok {
			return name
		}
		if c.Filter == flow.FilterASN {
			return "AS" + strconv.FormatUint(v, 10)
		}
		return strconv.FormatUint(v, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// number converts a numeric result value.
func number(v any) float64 {
	switch v := v.(type) {
	case uint64:
		return float64(v)
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}
