package query

import (
	"net/netip"
	"strings"
	"testing"
)

// TestFilterExecution runs filters of every type and operator on chDB and
// counts the matching flows; Go counts the same fixture records.
func TestFilterExecution(t *testing.T) {
	b := store(t)
	v4 := netip.MustParsePrefix("10.0.1.0/24")
	v6 := netip.MustParsePrefix("2001:db8:1::/120")
	one := netip.MustParseAddr("198.51.100.3")
	cases := []struct {
		filter string
		pred   func(*rec) bool
	}{
		{"SrcAddr << 10.0.1.0/24", func(r *rec) bool { return v4.Contains(r.SrcAddr) }},
		{"SrcAddr !<< 10.0.1.0/24", func(r *rec) bool { return !v4.Contains(r.SrcAddr) }},
		{"SrcAddr = 2001:db8:1::/120", func(r *rec) bool { return v6.Contains(r.SrcAddr) }},
		{"SrcAddr << ::ffff:10.0.1.0/120", func(r *rec) bool { return v4.Contains(r.SrcAddr) }},
		{"DstAddr = 198.51.100.3", func(r *rec) bool { return r.DstAddr == one }},
		{"DstAddr != 198.51.100.3", func(r *rec) bool { return r.DstAddr != one }},
		{"DstAddr IN (198.51.100.3, 2001:db8::/124, 2001:db8::f)", func(r *rec) bool {
			return r.DstAddr == one || netip.MustParsePrefix("2001:db8::/124").Contains(r.DstAddr) ||
				r.DstAddr == netip.MustParseAddr("2001:db8::f")
		}},
		{"DstAddr NOTIN (198.51.100.0/29)", func(r *rec) bool { return !netip.MustParsePrefix("198.51.100.0/29").Contains(r.DstAddr) }},
		{"ExporterAddress = 192.0.2.4", func(r *rec) bool { return r.ExporterAddress == netip.MustParseAddr("192.0.2.4") }},
		{"ExporterAddress << 0.0.0.0/0", func(r *rec) bool { return true }},
		{"SrcAddr << ::/0", func(r *rec) bool { return true }},
		{"ExporterName LIKE 'exp-%' AND ExporterName != 'exp-0'", func(r *rec) bool { return r.ExporterName != "exp-0" }},
		{"ProcessName ILIKE 'NG%'", func(r *rec) bool { return strings.HasPrefix(r.ProcessName, "ng") }},
		{"ProcessName UNLIKE '%s%'", func(r *rec) bool { return !strings.Contains(r.ProcessName, "s") }},
		{"ProcessName IUNLIKE '%S%'", func(r *rec) bool { return !strings.Contains(strings.ToLower(r.ProcessName), "s") }},
		{"SrcCountry IN ('FR', 'JP') AND DstCountry NOTIN ('US')", func(r *rec) bool {
			return (r.SrcCountry == "FR" || r.SrcCountry == "JP") && r.DstCountry != "US"
		}},
		{"HostName = ''", func(r *rec) bool { return r.HostName == "" }},
		{"DstPort >= 1026 AND DstPort < 1028 OR SrcPort = 0", func(r *rec) bool {
			return r.DstPort >= 1026 && r.DstPort < 1028 || r.SrcPort == 0
		}},
		{"DstPort <= 1025 AND NOT SrcPort > 443", func(r *rec) bool { return r.DstPort <= 1025 && !(r.SrcPort > 443) }},
		{"SrcPort IN (443, 886) AND DstPort NOTIN (1024)", func(r *rec) bool { return (r.SrcPort == 443 || r.SrcPort == 886) && r.DstPort != 1024 }},
		{"SrcAS = AS64500", func(r *rec) bool { return r.SrcAS == 64500 }},
		{"SrcAS IN (64501, AS64502) OR DstAS > 64505", func(r *rec) bool { return r.SrcAS == 64501 || r.SrcAS == 64502 || r.DstAS > 64505 }},
		{"SrcAS < DstAS", func(r *rec) bool { return r.SrcAS < r.DstAS }},
		{"SrcPort > DstPort OR SrcAS >= DstAS", func(r *rec) bool { return r.SrcPort > r.DstPort || r.SrcAS >= r.DstAS }},
		{"SrcCountry = DstCountry", func(r *rec) bool { return r.SrcCountry == r.DstCountry }},
		{"InIfName != OutIfName", func(r *rec) bool { return r.InIfName != r.OutIfName }},
		{"SrcAddr != DstAddr", func(r *rec) bool { return true }},
		{"Proto = tcp", func(r *rec) bool { return r.Proto == 6 }},
		{"Proto IN (udp, 'icmp')", func(r *rec) bool { return r.Proto == 17 || r.Proto == 1 }},
		{"Proto >= 6", func(r *rec) bool { return r.Proto >= 6 }},
		{"EType = IPv6", func(r *rec) bool { return r.EType == 0x86dd }},
		{"EType != IPv6", func(r *rec) bool { return r.EType != 0x86dd }},
		{"InIfBoundary = external", func(r *rec) bool { return r.InIfBoundary == 1 }},
		{"InIfBoundary IN (undefined, internal)", func(r *rec) bool { return r.InIfBoundary != 1 }},
		{"InIfBoundary != OutIfBoundary", func(r *rec) bool { return r.InIfBoundary != r.OutIfBoundary }},
		{"FlowDirection = egress", func(r *rec) bool { return r.FlowDirection == 2 }},
		{"FlowDirection != ingress AND InIfSpeed = 1000", func(r *rec) bool { return r.FlowDirection != 1 }},
		{"OutIfSpeed > 0", func(r *rec) bool { return r.OutIfSpeed > 0 }},
		{"NOT (Proto = tcp OR Proto = udp) -- icmp only", func(r *rec) bool { return r.Proto == 1 }},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			ts, err := b.TimeSeries(ctx, TimeSeriesRequest{Start: fixStart, End: fixEnd, Points: 2, Unit: UnitFPS, Filter: c.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got, want float64
			for _, s := range ts.Series {
				got += s.Stats.Total
			}
			for i := range fixtureFlows {
				if c.pred(&fixtureFlows[i]) {
					want++
				}
			}
			if !near(got, want) {
				t.Errorf("%s matched %v flows on %s, want %v", c.filter, got, ts.Table, want)
			}
			if want == 0 || want == float64(len(fixtureFlows)) && !strings.Contains(c.filter, "/0") && c.filter != "SrcAddr != DstAddr" {
				t.Errorf("%s: fixture does not discriminate (%v of %d match)", c.filter, want, len(fixtureFlows))
			}
		})
	}
}
