//go:build !notailnet

package tailnet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/hostflow/hostflow/agent/exporter"
	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/console"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/enrich/metadata"
	tailmeta "github.com/hostflow/hostflow/enrich/metadata/tailnet"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/sflow"
	"github.com/hostflow/hostflow/store"
	"github.com/hostflow/hostflow/store/chdb"
)

// collectorStack is the real collector path behind a tailnet node, wired
// as the collector role does: inlet (reading the node's UDP listeners on
// 100.x and fd7a:), sFlow/NetFlow decoders, the enricher with the tailnet
// provider first in its chain, the embedded store and the console served
// on the tailnet only.
type collectorStack struct {
	node  *Node
	names *tailmeta.Provider
}

func startCollector(t *testing.T, controlURL string) *collectorStack {
	t.Helper()
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
	r := daemon.NewReporter(slog.New(slog.DiscardHandler), nil)
	node := startNode(t, controlURL, "collector", r, func(c *Config) {
		c.ConsoleOnlyTailnet, c.ConsolePort = true, 80
		c.AllowTags = []string{"tag:monitor"}
	})
	schema := flow.NewSchema()
	scfg := store.DefaultConfig()
	scfg.Path, scfg.Spool.Dir = t.TempDir(), t.TempDir()
	scfg.TTL = map[string]store.Duration{}
	st, err := store.New(scfg, store.Dependencies{Reporter: r, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	// The tailnet provider first: the node name is vouched for by control.
	ecfg := enrich.DefaultConfig()
	ecfg.Providers = []string{enrich.ProviderTailnet, enrich.ProviderInBand, enrich.ProviderStatic}
	var names *tailmeta.Provider
	en, err := enrich.New(ecfg, enrich.Dependencies{Reporter: r, Providers: map[string]enrich.ProviderFactory{
		enrich.ProviderTailnet: func(notify metadata.Notify) (metadata.Provider, error) {
			var err error
			names, err = tailmeta.New(tailmeta.DefaultConfig(), r.Sub("enrich"), func(ctx context.Context, a netip.Addr) (string, error) {
				p, err := node.WhoIs(ctx, a)
				return p.Name, err
			}, notify)
			return names, err
		}}})
	if err != nil {
		t.Fatal(err)
	}
	pipe := collector.New(collector.Dependencies{
		Reporter: r,
		NewDecoder: func(protocol string) decoder.Decoder {
			if protocol == inlet.ProtoSFlow {
				d, _ := decoder.NewSFlow(decoder.DefaultSFlowConfig(), r)
				return d
			}
			d, _ := decoder.NewNetFlow(decoder.DefaultNetFlowConfig(), r)
			return d
		},
		Enricher:    en,
		NewAppender: func() collector.Appender { return st.NewAppender() },
	})
	in, err := inlet.New(inlet.Config{MaxExporterLabels: 10}, inlet.Dependencies{Reporter: r,
		NewHandler:  func(protocol string) inlet.Handler { return pipe.NewWorker(protocol) },
		PacketConns: node.InletConns})
	if err != nil {
		t.Fatal(err)
	}
	b, err := query.New(query.DefaultConfig(), query.Dependencies{Flow: schema, Store: st.Schema(), Querier: st, Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	ccfg := console.DefaultConfig()
	con, err := console.New(ccfg, console.Dependencies{Reporter: r, Flow: schema, Store: st.Schema(), Builder: b, Querier: st,
		Listener: node.ConsoleListener(), Identify: node.Identify})
	if err != nil {
		t.Fatal(err)
	}
	g := daemon.NewGroup(r.Logger())
	if err := g.Start(t.Context(), daemon.Named{Name: "store", Component: st}, daemon.Named{Name: "enrich", Component: en},
		daemon.Named{Name: "pipeline", Component: pipe},
		daemon.Named{Name: "inlet", Component: in}, daemon.Named{Name: "console", Component: con}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	return &collectorStack{node: node, names: names}
}

// udpHeader is the sampled IPv4/UDP header of a flow to dport.
func udpHeader(dport uint16) []byte {
	h := make([]byte, 28)
	h[0], h[8], h[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(h[2:], 1200)
	copy(h[12:], []byte{10, 1, 0, 1})
	copy(h[16:], []byte{10, 2, 0, 2})
	binary.BigEndian.PutUint16(h[20:], 40000)
	binary.BigEndian.PutUint16(h[22:], dport)
	binary.BigEndian.PutUint16(h[24:], 1180)
	return h
}

// startExporter runs the agent's real exporter through node to collector.
func startExporter(t *testing.T, node *Node, collectorAddr netip.AddrPort, agentInterface string) *exporter.Exporter {
	t.Helper()
	tr := exporter.Tailnet{Node: node}
	cfg := exporter.DefaultConfig()
	cfg.Collectors = []string{collectorAddr.String()}
	cfg.AgentInterface = agentInterface
	cfg.FlushInterval = 100 * time.Millisecond
	e, err := exporter.New(cfg, exporter.Deps{Reporter: daemon.NewReporter(slog.New(slog.DiscardHandler), nil),
		Transport: tr, Addrs: tr.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	return e
}

// get calls the console through client's node.
func get(t *testing.T, client *Node, u string, out any) int {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: client.Dial}}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v\n%s", u, err, body)
		}
	}
	return resp.StatusCode
}

// TestCollectorOverTailnet: an agent node sends sFlow through the real
// exporter to the collector node's IPv4 and IPv6 tailnet addresses; the
// flows go through the real decoder, enricher and embedded store and are
// read back through the console on the tailnet, named after the agent's
// node. The console admits a tagged node and an admin user and refuses a
// node that is not allowed.
func TestCollectorOverTailnet(t *testing.T) {
	start := time.Now()
	controlURL := startControl(t)
	col := startCollector(t, controlURL)
	agent := startNode(t, controlURL, "agent-7", nil, nil)
	viewer := startNode(t, controlURL, "viewer", nil, func(c *Config) { c.Tags = []string{"tag:monitor"} })
	intruder := startNode(t, controlURL, "intruder", nil, nil)
	colAddrs := col.node.Addrs()
	if len(colAddrs) != 2 || !colAddrs[0].Is4() || !colAddrs[1].Is6() {
		t.Fatalf("collector addresses %v, want one IPv4 and one IPv6", colAddrs)
	}
	for _, n := range []*Node{agent, viewer, intruder} {
		waitPeer(t, n, colAddrs[0])
	}
	t.Logf("tailnet of 4 nodes ready in %v", time.Since(start).Round(time.Millisecond))

	// One exporter per family; the IPv4 one's agent address is the agent's
	// 100.x address, the IPv6 one's its fd7a: address.
	families := []struct {
		name, agentIf string
		collector     netip.Addr
		agent         netip.Addr
		dport         uint16
	}{
		{"ipv4", "", colAddrs[0], agent.Addrs()[0], 4444},
		{"ipv6", exporter.TailnetInterface, colAddrs[1], agent.Addrs()[1], 6666},
	}
	const perFamily = 200
	flows := func(e *exporter.Exporter, n int, dport uint16) {
		for i := range n {
			e.AddFlow(&sflow.FlowSample{SourceType: sflow.SourceIfIndex, SourceIndex: 1, SamplingRate: 10,
				SamplePool: uint32(10 * (i + 1)), Input: 1, Output: sflow.IfIndexInternal, Has: sflow.HasSampledHeader,
				SampledHeader: sflow.SampledHeader{Protocol: sflow.HeaderIPv4, FrameLength: 1200, Header: udpHeader(dport)}})
		}
	}
	var exps []*exporter.Exporter
	for _, f := range families {
		e := startExporter(t, agent, netip.AddrPortFrom(f.collector, 6343), f.agentIf)
		if e.Agent() != f.agent {
			t.Fatalf("%s: agent address %v, want the node's %v", f.name, e.Agent(), f.agent)
		}
		exps = append(exps, e)
	}
	// A new exporter's first flows go on unnamed while WhoIs answers in
	// the background: warm up until both agent addresses are named.
	deadline := time.Now().Add(30 * time.Second)
	for i, f := range families {
		for {
			flows(exps[i], 1, 1)
			var e metadata.Exporter
			if col.names.FillExporter(metadata.MakeKey(f.agent, 0), &e) && e.Name == "agent-7" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: exporter %v still unnamed after 30 s", f.name, f.agent)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i, f := range families {
		flows(exps[i], perFamily, f.dport)
	}

	base := "http://" + net.JoinHostPort(colAddrs[1].String(), "80")
	type flowsOut struct {
		Rows [][]any `json:"rows"`
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			q := url.Values{"filter": {fmt.Sprintf("DstPort = %d", f.dport)}, "columns": {"ExporterAddress,ExporterName,Bytes"},
				"limit": {"1000"}, "start": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}
			var out flowsOut
			deadline := time.Now().Add(60 * time.Second)
			for {
				out = flowsOut{}
				if code := get(t, viewer, base+"/api/v1/flows?"+q.Encode(), &out); code != http.StatusOK {
					t.Fatalf("viewer: /api/v1/flows answered %d", code)
				}
				named := 0
				for _, row := range out.Rows {
					if row[1] == "agent-7" {
						named++
					}
				}
				if len(out.Rows) == perFamily && named == perFamily {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 60 s: %d of %d flows stored, %d named agent-7: %v", len(out.Rows), perFamily, named, out.Rows[:min(3, len(out.Rows))])
				}
				time.Sleep(500 * time.Millisecond)
			}
			for _, row := range out.Rows {
				if got := netip.MustParseAddr(row[0].(string)).Unmap(); got != f.agent {
					t.Fatalf("exporter address %v, want the agent's tailnet address %v", got, f.agent)
				}
			}
		})
	}

	agentPeer, err := col.node.WhoIs(t.Context(), agent.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	col.node.cfg.AdminUsers = []string{agentPeer.User}
	type whoami struct {
		Kind, Name, Scope string
	}
	for _, tc := range []struct {
		name   string
		client *Node
		code   int
		want   whoami
	}{
		{"tagged node allowed", viewer, http.StatusOK, whoami{"tailnet", "viewer (tag:monitor)", console.ScopeRead}},
		{"admin user", agent, http.StatusOK, whoami{"tailnet", agentPeer.User + " on agent-7", console.ScopeAdmin}},
		{"node not allowed", intruder, http.StatusForbidden, whoami{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got whoami
			if code := get(t, tc.client, base+"/api/v1/whoami", &got); code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			if got != tc.want {
				t.Errorf("whoami -got +want:\n- %+v\n+ %+v", got, tc.want)
			}
		})
	}
	if code := get(t, intruder, base+"/api/v1/flows", nil); code != http.StatusForbidden {
		t.Errorf("intruder reading flows: status %d, want 403", code)
	}
	t.Logf("test ran in %v", time.Since(start).Round(time.Millisecond))
}
