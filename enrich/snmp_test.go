package enrich

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hostflow/hostflow/enrich/iptrie"
	"github.com/hostflow/hostflow/enrich/metadata/snmp"
	"github.com/hostflow/hostflow/enrich/metadata/snmp/snmptest"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/internal/daemon"

	dto "github.com/prometheus/client_model/go"
)

// TestSNMPNamesOnFlows: flows from a router-like exporter without in-band
// metadata get names once the SNMP answers arrive; the first flows go on
// with empty names.
func TestSNMPNamesOnFlows(t *testing.T) {
	l := snmptest.New(t)
	cfg := DefaultConfig()
	cfg.SNMP.Credentials = []snmp.Credentials{{Prefixes: []iptrie.Prefix{{Prefix: l.Subnet}}, Version: "3",
		User: "hfsha", AuthProtocol: "SHA", AuthPassphrase: snmptest.AuthPass, PrivProtocol: "AES", PrivPassphrase: snmptest.PrivPass}}
	en, _ := newEnricher(t, cfg)
	mk := func() []flow.Record {
		return []flow.Record{{ExporterAddress: l.Agent, InIf: l.Aliased, OutIf: 1}}
	}
	first := mk()
	en.Enrich(first)
	if first[0].ExporterName != "" || first[0].InIfName != "" {
		t.Fatalf("names before any SNMP answer: %+v", first[0])
	}
	host, _ := os.Hostname()
	deadline := time.Now().Add(15 * time.Second)
	for {
		recs := mk()
		en.Enrich(recs)
		r := recs[0]
		if r.ExporterName == host && r.InIfName == l.Ifaces[l.Aliased] && r.OutIfName == l.Ifaces[1] {
			if r.InIfDescription != snmptest.Alias || r.InIfSpeed != 10000 {
				t.Errorf("description %q speed %d, want %q 10000", r.InIfDescription, r.InIfSpeed, snmptest.Alias)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SNMP names not on flows within 15s: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSNMPSilentAgentNeverStallsEnrich: an agent that never answers trips
// the breaker while flows keep going with empty names.
func TestSNMPSilentAgentNeverStallsEnrich(t *testing.T) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	go func() { // read and never answer: a firewalled or hung agent
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	cfg := DefaultConfig()
	cfg.SNMP.Credentials = []snmp.Credentials{{Prefixes: []iptrie.Prefix{{Prefix: netip.MustParsePrefix("2001:db8::/32")}},
		Version: "2c", Communities: []string{"public", "private"}}}
	cfg.SNMP.Agents = []snmp.Agent{{Prefix: iptrie.Prefix{Prefix: netip.MustParsePrefix("2001:db8::/32")},
		Address: c.LocalAddr().String()}}
	cfg.SNMP.Timeout, cfg.SNMP.Retries = 300*time.Millisecond, 0
	cfg.SNMP.NegativeTTL, cfg.SNMP.BreakerThreshold = 20*time.Millisecond, 2
	en, r := newEnricher(t, cfg)
	timeouts := func() float64 {
		return metricValue(t, r, "hostflow_enrich_snmp_requests_total", "timeout")
	}
	exporter := netip.MustParseAddr("2001:db8::1")
	recs := make([]flow.Record, 64)
	for n := 0; n < 200; n++ {
		for i := range recs {
			recs[i] = flow.Record{ExporterAddress: exporter, InIf: uint32(i + 1), OutIf: uint32(n%8 + 1)}
		}
		en.Enrich(recs)
	}
	// Enrich returned 200 times before the first SNMP request could even
	// time out: it did not wait for SNMP.
	if got := timeouts(); got != 0 {
		t.Errorf("%v SNMP timeouts happened before Enrich returned: it waited", got)
	}
	if recs[0].ExporterName != "" || recs[0].InIfName != "" {
		t.Errorf("names from a silent agent: %+v", recs[0])
	}
	deadline := time.Now().Add(15 * time.Second)
	for metricValue(t, r, "hostflow_enrich_snmp_breaker_trips_total", "") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("breaker did not trip (timeouts %v)", timeouts())
		}
		en.Enrich(recs)
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue reads a counter from the registry: the series whose label
// values include label (any series when label is empty).
func metricValue(t *testing.T, r *daemon.Reporter, name, label string) float64 {
	t.Helper()
	mfs, err := r.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetValue() == label }) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
