package e2e

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/inlet"
	hfdaemon "github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/sflow"
)

var updateMalformed = flag.Bool("update", false, "rewrite testdata/malformed (the corpus and golden.txt)")

const malformedDir = "testdata/malformed"

// TestMalformedCorpus feeds every datagram of testdata/malformed through
// the collector's real receive path — inlet UDP sockets on loopback, the
// sFlow and NetFlow/IPFIX decoders, the pipeline workers and the real
// enricher — each followed by a well-formed datagram from the same
// exporter socket. For each file: no panic, some error, drop or skip
// counted with a reason (the counters that moved are the golden file), and
// the well-formed datagram after it still decodes to its flows (NetFlow v9:
// with the template sent at the start, which the malformed datagrams must
// not have spoiled). Flows decoded before the problem in a malformed
// datagram are kept, by design: the golden file counts them too.
func TestMalformedCorpus(t *testing.T) {
	if *updateMalformed {
		writeMalformedCorpus(t)
	}
	files, err := filepath.Glob(filepath.Join(malformedDir, "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s (go test ./e2e -run TestMalformedCorpus -update): %v", malformedDir, err)
	}
	sort.Strings(files)
	p := startPipeline(t)
	good := map[string][]byte{"sflow": goodSFlow(), "netflow": netflowV9Data(1)}
	goodFlows := map[string]int64{"sflow": 2, "netflow": 3}
	// The v9 template the good data needs, sent once.
	p.send(t, "netflow", netflowV9Template())
	p.send(t, "netflow", good["netflow"])
	p.waitFlows(t, goodFlows["netflow"])

	var golden strings.Builder
	for _, path := range files {
		name := filepath.Base(path)
		proto, _, _ := strings.Cut(name, "-")
		if proto == "ipfix" {
			proto = "netflow" // one listener serves v5, v9 and IPFIX
		}
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		before := p.counters(t)
		p.send(t, proto, payload)
		p.send(t, proto, good[proto])
		flows := p.waitFlows(t, goodFlows[proto]) - goodFlows[proto]
		moved := diff(before, p.counters(t))
		fmt.Fprintf(&golden, "%s: %d flows; %s\n", name, flows, strings.Join(moved, ", "))
		counted := slices.ContainsFunc(moved, func(m string) bool {
			return strings.Contains(m, "reason=") || strings.Contains(m, "event=rejected") || strings.Contains(m, "limit=") ||
				strings.Contains(m, "outcome=")
		})
		if why, ok := acceptedByDesign[name]; ok {
			if counted {
				t.Errorf("%s: accepted by design (%s), but counted as an error: %v", name, why, moved)
			}
		} else if !counted {
			t.Errorf("%s: no error, drop or skip counted with a reason (moved: %v)", name, moved)
		}
	}
	goldenPath := filepath.Join(malformedDir, "golden.txt")
	if *updateMalformed {
		if err := os.WriteFile(goldenPath, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := golden.String(); got != string(want) {
		t.Errorf("counters moved per datagram (-got +want):\n%s", lineDiff(got, string(want)))
	}
}

// acceptedByDesign are odd datagrams the decoders take as they are.
var acceptedByDesign = map[string]string{
	"netflow-v9-record-count-huge.bin": "the v9 header count is advisory: exporters disagree on what it counts, so it is not checked",
}

// pipeline is the collector's receive path in this process.
type pipeline struct {
	r     *hfdaemon.Reporter
	in    *inlet.Inlet
	conns map[string]*net.UDPConn // one source socket per protocol
	app   *countingAppender
	flows int64 // seen so far
}

// countingAppender stands for the store: it counts what reaches it.
type countingAppender struct{ flows atomic.Int64 }

func (a *countingAppender) AppendFlows(recs []flow.Record)            { a.flows.Add(int64(len(recs))) }
func (a *countingAppender) AppendInterfaces([]flow.InterfaceCounters) {}
func (a *countingAppender) AppendHosts([]flow.HostCounters)           {}
func (a *countingAppender) Close()                                    {}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	r := hfdaemon.NewReporter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	decRep := r.Sub("decoder")
	en, err := enrich.New(enrich.DefaultConfig(), enrich.Dependencies{Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := en.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = en.Stop() })
	app := &countingAppender{}
	pipe, err := collector.NewPipeline(collector.DefaultConfig(), collector.Dependencies{
		Reporter: r,
		NewDecoder: func(protocol string) decoder.Decoder {
			if protocol == inlet.ProtoSFlow {
				d, _ := decoder.NewSFlow(decoder.DefaultSFlowConfig(), decRep)
				return d
			}
			d, _ := decoder.NewNetFlow(decoder.DefaultNetFlowConfig(), decRep)
			return d
		},
		Enricher:    en,
		NewAppender: func() collector.Appender { return app },
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := inlet.Config{MaxExporterLabels: 10}
	for _, proto := range []string{inlet.ProtoSFlow, inlet.ProtoNetFlow} {
		cfg.Listeners = append(cfg.Listeners, inlet.ListenerConfig{Protocol: proto, Listen: "127.0.0.1:0", Sockets: 1,
			ReceiveBuffer: 1 << 20, MaxDatagram: 9216, Batch: 16})
	}
	in, err := inlet.New(cfg, inlet.Dependencies{Reporter: r, NewHandler: func(p string) inlet.Handler { return pipe.NewWorker(p) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop(); _ = pipe.Stop() })
	p := &pipeline{r: r, in: in, conns: map[string]*net.UDPConn{}, app: app}
	for i, proto := range []string{"sflow", "netflow"} {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(in.Addrs()[i]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p.conns[proto] = c
	}
	return p
}

func (p *pipeline) send(t *testing.T, proto string, b []byte) {
	t.Helper()
	if _, err := p.conns[proto].Write(b); err != nil {
		t.Fatalf("send %s: %v", proto, err)
	}
}

// waitFlows waits until n more flows reached the appender and returns
// how many more did (the well-formed datagram's, and what the malformed
// one before it may have produced).
func (p *pipeline) waitFlows(t *testing.T, n int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.app.flows.Load() < p.flows+n {
		if time.Now().After(deadline) {
			t.Fatalf("the well-formed datagram did not decode: %d flows, want %d", p.app.flows.Load()-p.flows, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // nothing more comes
	got := p.app.flows.Load() - p.flows
	p.flows += got
	return got
}

// counters returns the error, drop, skip and limit counters by series.
func (p *pipeline) counters(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := p.r.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.Contains(name, "error") && !strings.Contains(name, "drop") && !strings.Contains(name, "skipped") &&
			!strings.Contains(name, "limit_hits") && !strings.Contains(name, "templates_total") && !strings.Contains(name, "held") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if l.GetName() == "listener" || l.GetName() == "exporter" {
					continue // ports change from run to run
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := strings.TrimPrefix(name, "hostflow_") + "{" + strings.Join(labels, ",") + "}"
			out[key] += m.GetCounter().GetValue()
		}
	}
	return out
}

func diff(before, after map[string]float64) []string {
	var out []string
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out = append(out, fmt.Sprintf("%s +%g", k, d))
		}
	}
	sort.Strings(out)
	return out
}

func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "-%s\n+%s\n", gl, wl)
		}
	}
	return b.String()
}

// --- the corpus ---

var agent = netip.MustParseAddr("192.0.2.10")

// goodSFlow is a well-formed datagram: two flow samples with an
// Ethernet/IPv4/UDP header.
func goodSFlow() []byte {
	return sflowWith(ethIPv4UDP(), 2)
}

var sflowSeq uint32

func sflowWith(header []byte, samples int) []byte {
	sflowSeq++
	dg := sflow.Datagram{AgentAddress: agent, SequenceNumber: sflowSeq, Uptime: 1000 * sflowSeq}
	for i := range samples {
		dg.FlowSamples = append(dg.FlowSamples, sflow.FlowSample{Expanded: true, SequenceNumber: uint32(i + 1), SourceIndex: 2,
			SamplingRate: 1000, SamplePool: 1000, Input: 2, Output: sflow.IfIndexInternal, Has: sflow.HasSampledHeader,
			SampledHeader: sflow.SampledHeader{Protocol: sflow.HeaderEthernet, FrameLength: uint32(len(header)) + 4, Stripped: 4, Header: header}})
	}
	var e sflow.Encoder
	b, err := e.AppendDatagram(nil, &dg)
	if err != nil {
		panic(err)
	}
	return b
}

// Offsets in a datagram from sflowWith (IPv4 agent, expanded flow samples
// with one sampled header record each).
const (
	offNumSamples   = 24
	offSampleLen    = 32
	offNumRecords   = 76
	offRecordLen    = 84
	offHeaderProto  = 88
	offHeaderLength = 100
)

func put32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[off:], v)
	return b
}

func ethernet(etype uint16, payload []byte) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, byte(etype >> 8), byte(etype)}
	return append(b, payload...)
}

func ipv4UDP() []byte {
	ip := []byte{0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	return append(ip, 0x30, 0x39, 0, 53, 0, 8, 0, 0)
}

func ethIPv4UDP() []byte { return ethernet(0x0800, ipv4UDP()) }

// sflowCorpus: datagrams that lie about lengths and counts, are cut
// short, or carry sampled headers that nest or chain without end.
func sflowCorpus() map[string][]byte {
	g := sflowWith(ethIPv4UDP(), 1)
	mpls := []byte{}
	for range 40 {
		mpls = append(mpls, 0, 0x01, 0x00, 0x40) // label 16, S bit clear, TTL 64
	}
	qinq := []byte{}
	for range 60 {
		qinq = append(qinq, 0x00, 0x0a, 0x81, 0x00) // VLAN 10, then another tag
	}
	ext := []byte{0x60, 0, 0, 0, 0, 0xf8, 60, 64}
	ext = append(ext, make([]byte, 32)...)
	for range 30 {
		ext = append(ext, 60, 0, 0, 0, 0, 0, 0, 0) // destination options, again and again
	}
	ihl := bytes.Clone(ipv4UDP())
	ihl[0] = 0x4f // 60-byte header in a 28-byte packet
	return map[string][]byte{
		"sflow-empty":                 {},
		"sflow-version-4":             put32(g, 0, 4),
		"sflow-agent-address-type-9":  put32(g, 4, 9),
		"sflow-cut-in-header":         g[:20],
		"sflow-cut-in-sample":         g[:len(g)/2],
		"sflow-sample-count-huge":     put32(g, offNumSamples, 0xFFFFFFFF),
		"sflow-sample-length-lies":    put32(g, offSampleLen, 0x00FFFFFF),
		"sflow-sample-length-zero":    put32(g, offSampleLen, 0),
		"sflow-record-count-huge":     put32(g, offNumRecords, 0x7FFFFFFF),
		"sflow-record-length-lies":    put32(g, offRecordLen, 0xFFFFFFF0),
		"sflow-header-length-lies":    put32(g, offHeaderLength, 4096),
		"sflow-header-protocol-99":    put32(g, offHeaderProto, 99),
		"sflow-header-mpls-no-bottom": sflowWith(ethernet(0x8847, mpls), 1),
		"sflow-header-qinq-60-deep":   sflowWith(ethernet(0x8100, qinq), 1),
		"sflow-header-ipv6-ext-chain": sflowWith(ethernet(0x86dd, ext), 1),
		"sflow-header-ipv4-ihl-lies":  sflowWith(ethernet(0x0800, ihl), 1),
		"sflow-header-cut-ethernet":   sflowWith(ethIPv4UDP()[:9], 1),
	}
}

// NetFlow v9 and IPFIX builders.

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

const v9SourceID = 7

var v9Seq uint32

// netflowV9 wraps flowsets into a v9 packet with count records.
func netflowV9(count uint16, flowsets ...[]byte) []byte {
	v9Seq++
	b := be16(nil, 9)
	b = be16(b, count)
	b = be32(b, 3_600_000)
	b = be32(b, uint32(time.Now().Unix()))
	b = be32(b, v9Seq)
	b = be32(b, v9SourceID)
	for _, fs := range flowsets {
		b = append(b, fs...)
	}
	return b
}

// flowset is a v9 flowset (or IPFIX set) with its length filled in.
func flowset(id uint16, body []byte) []byte {
	b := be16(nil, id)
	b = be16(b, uint16(4+len(body)))
	return append(b, body...)
}

// v9Template is a template record: id, then (type, length) pairs.
func v9Template(id uint16, fields ...[2]uint16) []byte {
	b := be16(nil, id)
	b = be16(b, uint16(len(fields)))
	for _, f := range fields {
		b = be16(b, f[0])
		b = be16(b, f[1])
	}
	return b
}

// goodFields: IPv4 src/dst, bytes, packets, protocol, ports (21 bytes).
var goodFields = [][2]uint16{{8, 4}, {12, 4}, {1, 4}, {2, 4}, {4, 1}, {7, 2}, {11, 2}}

const goodTemplateID = 300

func netflowV9Template() []byte {
	return netflowV9(1, flowset(0, v9Template(goodTemplateID, goodFields...)))
}

// netflowV9Data is three records of the good template.
func netflowV9Data(seed byte) []byte {
	var recs []byte
	for i := range byte(3) {
		recs = append(recs, 10, 0, seed, i, 10, 0, 1, i)
		recs = be32(recs, 1500)
		recs = be32(recs, 1)
		recs = append(recs, 6, 0x30, 0x39, 0, 80)
	}
	return netflowV9(3, flowset(goodTemplateID, recs))
}

func ipfix(sets ...[]byte) []byte {
	var body []byte
	for _, s := range sets {
		body = append(body, s...)
	}
	b := be16(nil, 10)
	b = be16(b, uint16(16+len(body)))
	b = be32(b, uint32(time.Now().Unix()))
	b = be32(b, 1)
	b = be32(b, 11) // observation domain
	return append(b, body...)
}

// netflowCorpus: template bombs, zero and lying lengths, data without
// templates, unknown versions.
func netflowCorpus() map[string][]byte {
	var bomb []byte // as many 400-field templates as fit in 9000 bytes
	for id := uint16(400); len(bomb)+4+400*4 < 8900; id++ {
		fields := make([][2]uint16, 400)
		for i := range fields {
			fields[i] = [2]uint16{uint16(1 + i%80), 4}
		}
		bomb = append(bomb, v9Template(id, fields...)...)
	}
	zeroFields := make([][2]uint16, 50)
	for i := range zeroFields {
		zeroFields[i] = [2]uint16{uint16(1 + i), 0}
	}
	hugeRecord := make([][2]uint16, 20)
	for i := range hugeRecord {
		hugeRecord[i] = [2]uint16{uint16(100 + i), 60000}
	}
	lengthLies := flowset(0, v9Template(401, goodFields...))
	binary.BigEndian.PutUint16(lengthLies[2:], 60000)
	lengthZero := flowset(0, v9Template(402, goodFields...))
	binary.BigEndian.PutUint16(lengthZero[2:], 0)
	fieldCountLies := v9Template(403, goodFields...)
	binary.BigEndian.PutUint16(fieldCountLies[2:], 65535)
	ipfixLength := ipfix(flowset(2, v9Template(500, goodFields...)))
	binary.BigEndian.PutUint16(ipfixLength[2:], 9000)
	ipfixShortSet := append(ipfix(), 0, 2, 0, 3)
	binary.BigEndian.PutUint16(ipfixShortSet[2:], uint16(len(ipfixShortSet)))
	enterpriseCut := be16(nil, 501)
	enterpriseCut = be16(enterpriseCut, 1)
	enterpriseCut = be16(enterpriseCut, 0x8000|100) // enterprise bit, no number follows
	enterpriseCut = be16(enterpriseCut, 4)
	varTemplate := v9Template(502, [2]uint16{8, 4}, [2]uint16{82, 65535}) // interfaceName, variable length
	varData := append([]byte{10, 0, 0, 1}, 255)
	varData = be16(varData, 60000) // a 60000-byte name in a short set
	optScopeZero := be16(nil, 503)
	optScopeZero = be16(optScopeZero, 1)
	optScopeZero = be16(optScopeZero, 0) // scope field count 0
	optScopeZero = be16(optScopeZero, 34)
	optScopeZero = be16(optScopeZero, 4)
	v5 := be16(nil, 5)
	v5 = be16(v5, 30) // 30 records announced
	v5 = append(v5, make([]byte, 20+48)...)
	return map[string][]byte{
		"netflow-version-7":                 append(be16(nil, 7), make([]byte, 40)...),
		"netflow-v5-count-lies":             v5,
		"netflow-v9-cut-in-header":          netflowV9Data(2)[:12],
		"netflow-v9-template-bomb":          netflowV9(uint16(len(bomb)/1604), flowset(0, bomb)),
		"netflow-v9-template-zero-fields":   netflowV9(1, flowset(0, v9Template(404, zeroFields...))),
		"netflow-v9-template-huge-record":   netflowV9(1, flowset(0, v9Template(405, hugeRecord...))),
		"netflow-v9-template-count-lies":    netflowV9(1, flowset(0, fieldCountLies)),
		"netflow-v9-flowset-length-lies":    netflowV9(1, lengthLies),
		"netflow-v9-flowset-length-zero":    netflowV9(1, lengthZero),
		"netflow-v9-record-count-huge":      netflowV9(65535, flowset(0, v9Template(406, goodFields...))),
		"netflow-v9-data-without-template":  netflowV9(2, flowset(999, make([]byte, 42))),
		"ipfix-length-lies":                 ipfixLength,
		"ipfix-set-length-3":                ipfixShortSet,
		"ipfix-enterprise-number-cut":       ipfix(flowset(2, enterpriseCut)),
		"ipfix-variable-length-lies":        ipfix(flowset(2, varTemplate), flowset(502, varData)),
		"ipfix-options-template-scope-zero": ipfix(flowset(3, optScopeZero)),
	}
}

func writeMalformedCorpus(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(malformedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(malformedDir, "*.bin"))
	for _, f := range old {
		os.Remove(f)
	}
	for _, corpus := range []map[string][]byte{sflowCorpus(), netflowCorpus()} {
		for name, b := range corpus {
			if err := os.WriteFile(filepath.Join(malformedDir, name+".bin"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
