package detect

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostflow/hostflow/agent"
	"github.com/hostflow/hostflow/collector"
	"github.com/hostflow/hostflow/decoder"
	"github.com/hostflow/hostflow/enrich"
	"github.com/hostflow/hostflow/flow"
	"github.com/hostflow/hostflow/inlet"
	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/query"
	"github.com/hostflow/hostflow/store"
)

// The scenario test runs the whole chain on real traffic: two network
// namespaces joined by a veth pair — "host" (10.77.0.1) and "peer"
// (10.77.0.2 and 10.77.0.3) —, the real agent sampling every packet of
// the host's veth (a copy of this test binary run under "ip netns exec"),
// and, in this process, the collector pipeline (inlet on the host
// namespace's loopback, sFlow decoder, enrichment, embedded store) and the
// detector with short windows. Traffic is made by this process from
// sockets opened inside the namespaces.

// helperEnv names the helper a re-executed test binary runs; agentConfigEnv
// holds the agent's YAML configuration.
const (
	helperEnv      = "HOSTFLOW_TEST_HELPER"
	agentConfigEnv = "HOSTFLOW_TEST_AGENT_CONFIG"
)

// runHelper runs the agent until standard input closes.
func runHelper() int {
	if os.Getenv(helperEnv) != "agent" {
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		return 2
	}
	cfg := agent.DefaultConfig()
	if err := config.Parse(agentConfigEnv, []byte(os.Getenv(agentConfigEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.New(cfg, agent.Deps{Reporter: daemon.NewReporter(log, nil)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	closed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
	}
	if err := a.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// netns is a network namespace created for the test.
type netns struct{ name string }

func newNetns(t *testing.T, tag string) *netns {
	t.Helper()
	ns := &netns{name: fmt.Sprintf("hfd%d-%s", os.Getpid(), tag)}
	sh(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.name).Run() })
	ns.run(t, "ip", "link", "set", "lo", "up")
	return ns
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (ns *netns) run(t *testing.T, name string, args ...string) {
	t.Helper()
	sh(t, "ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// do runs f on a thread switched into the namespace; sockets f opens stay
// in it. The thread is never reused (locked, then discarded).
func (ns *netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// lab is the scenario's world.
type lab struct {
	t          *testing.T
	host, peer *netns
	st         *store.Store
	d          *Detector
	hostName   string
	hooks      *hookRecorder
}

// hookRecorder is the webhook receiver: it checks signatures and keeps
// the payloads.
type hookRecorder struct {
	mu       sync.Mutex
	payloads []WebhookPayload
	bad      int
}

const hookSecret = "s3cret"

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(body)
	var p WebhookPayload
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Header.Get(SignatureHeader) != "sha256="+hex.EncodeToString(mac.Sum(nil)) || json.Unmarshal(body, &p) != nil {
		h.bad++
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	h.payloads = append(h.payloads, p)
}

func (h *hookRecorder) opened() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.payloads {
		if p.Event == "opened" {
			out = append(out, p.Detection.Rule+" "+p.Detection.Subject.String())
		}
	}
	sort.Strings(out)
	return out
}

func TestScenario(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	needChDB(t)
	l := &lab{t: t, hooks: &hookRecorder{}}
	l.host, l.peer = newNetns(t, "host"), newNetns(t, "peer")
	sh(t, "ip", "link", "add", "vh", "netns", l.host.name, "type", "veth", "peer", "name", "vp", "netns", l.peer.name)
	l.host.run(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "vh")
	l.peer.run(t, "ip", "addr", "add", "10.77.0.2/24", "dev", "vp")
	l.peer.run(t, "ip", "addr", "add", "10.77.0.3/24", "dev", "vp")
	l.host.run(t, "ip", "link", "set", "vh", "up")
	l.peer.run(t, "ip", "link", "set", "vp", "up")

	// The peer serves TCP 8080 on both addresses and swallows what it gets.
	var peerLn net.Listener
	if err := l.peer.do(func() (err error) { peerLn, err = net.Listen("tcp", "0.0.0.0:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peerLn.Close() })
	go serveDiscard(peerLn)

	addr := l.startCollector()
	l.startAgent(addr)
	l.hostName, _ = os.Hostname()

	// Normal traffic from the host: 250 kB/s on one connection, all along.
	normal, err := l.dial("10.77.0.2:8080")
	if err != nil {
		t.Fatal(err)
	}
	stopNormal := make(chan struct{})
	normalDone := make(chan struct{})
	go func() {
		defer close(normalDone)
		buf := make([]byte, 25_000)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopNormal:
				return
			case <-tick.C:
				if _, err := normal.Write(buf); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { close(stopNormal); <-normalDone; normal.Close() })

	// Learning: wait for the host's flows to be named, then for the rules'
	// min-history and window.
	l.waitFlows()
	l.startDetector()
	time.Sleep(25 * time.Second)
	t.Log("normal traffic, rules judging")
	time.Sleep(15 * time.Second)
	l.expect(nil)

	t.Log("port scan")
	if err := l.host.do(func() error {
		for port := 1; port <= 300; port++ {
			if port == 8080 {
				continue
			}
			c, err := net.DialTimeout("tcp", fmt.Sprintf("10.77.0.2:%d", port), time.Second)
			if err == nil {
				c.Close()
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"port-scan address=10.77.0.1"}
	l.expect(want)

	t.Log("new destination")
	c, err := l.dial("10.77.0.3:8080")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write(make([]byte, 20_000))
	time.Sleep(500 * time.Millisecond)
	c.Close()
	want = append(want, "new-peer host="+l.hostName)
	l.expect(want)

	t.Log("egress burst")
	c, err = l.dial("10.77.0.2:8080")
	if err != nil {
		t.Fatal(err)
	}
	burst := make([]byte, 1<<20)
	for range 40 {
		if _, err := c.Write(burst); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	want = append(want, "egress-spike host="+l.hostName)
	l.expect(want)

	t.Log("new service")
	var svc net.Listener
	if err := l.host.do(func() (err error) { svc, err = net.Listen("tcp", "0.0.0.0:9099"); return err }); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go serveDiscard(svc)
	var client net.Conn
	if err := l.peer.do(func() (err error) { client, err = net.DialTimeout("tcp", "10.77.0.1:9099", 5*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, _ = client.Write(make([]byte, 2000))
		time.Sleep(200 * time.Millisecond)
	}
	client.Close()
	want = append(want, "new-service host="+l.hostName)
	l.expect(want)

	// A lossy path: nftables in the peer drops a fifth of the TCP segments
	// coming to its 8080 (netem is not always built); the host's kernel
	// retransmits them. (Dropping them on the host's own output would not
	// do: TCP sends a segment refused locally again as new.)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Log("nft not installed: skipping the retransmits phase")
	} else {
		t.Log("lossy path")
		l.peer.run(t, "nft", "add table inet loss")
		l.peer.run(t, "nft", "add chain inet loss in { type filter hook input priority 0 ; }")
		l.peer.run(t, "nft", "add rule inet loss in ip saddr 10.77.0.1 tcp dport 8080 numgen random mod 5 == 0 drop")
		want = append(want, "retransmits host="+l.hostName)
		l.expect(want)
	}

	l.checkDetections()
}

func serveDiscard(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	}
}

// dial connects from the host namespace.
func (l *lab) dial(addr string) (c net.Conn, err error) {
	err = l.host.do(func() error { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return err })
	return c, err
}

// startCollector runs the collector pipeline with its sFlow listener on
// the host namespace's loopback and returns the listener's address.
func (l *lab) startCollector() netip.AddrPort {
	t := l.t
	l.st = startStore(t, true)
	r := testReporter(t)
	ecfg := enrich.DefaultConfig()
	ecfg.Providers = []string{enrich.ProviderInBand}
	en, err := enrich.New(ecfg, enrich.Dependencies{Reporter: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { en.Stop() })
	pipe := collector.New(collector.Dependencies{
		Reporter: r,
		NewDecoder: func(string) decoder.Decoder {
			d, _ := decoder.NewSFlow(decoder.DefaultSFlowConfig(), r)
			return d
		},
		Enricher:    en,
		NewAppender: func() collector.Appender { return l.st.NewAppender() },
	})
	icfg := inlet.DefaultConfig()
	icfg.Listeners = icfg.Listeners[:1]
	icfg.Listeners[0].Listen, icfg.Listeners[0].Sockets = "127.0.0.1:0", 1
	in, err := inlet.New(icfg, inlet.Dependencies{Reporter: r,
		NewHandler: func(protocol string) inlet.Handler { return pipe.NewWorker(protocol) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.host.do(func() error { return in.Start(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(); pipe.Stop() })
	return in.Addrs()[0]
}

// startAgent runs the agent in the host namespace, sampling every packet
// of vh and sending to addr.
func (l *lab) startAgent(addr netip.AddrPort) {
	t := l.t
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("collectors: [%q]\ninterfaces: [vh]\nsampling: {default: 1}\npolling: 2s\n", addr.String())
	cmd := exec.Command("ip", "netns", "exec", l.host.name, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=agent", agentConfigEnv+"="+cfg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if s := stderr.String(); s != "" {
			t.Logf("agent:\n%s", s)
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			t.Fatalf("agent exited before ready:\n%s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent not ready after 20 s:\n%s", stderr.String())
	}
}

// waitFlows waits until the store holds host-named flows of the host.
func (l *lab) waitFlows() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := l.st.Query(context.Background(), "SELECT count() FROM "+l.st.Schema().InsertTable("flows")+
			" WHERE HostName != '' AND ProcessName != ''", nil)
		if err == nil && len(res.Rows) == 1 && num(res.Rows[0][0]) > 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	l.t.Fatal("no attributed flow with a host name reached the store in 30 s")
}

// scenarioConfig shortens every window so that the scenario runs in
// about two minutes.
func scenarioConfig(hook string) Config {
	cfg := DefaultConfig()
	cfg.Interval, cfg.Delay, cfg.CoolDown = dur(2*time.Second), dur(2*time.Second), dur(10*time.Minute)
	r := &cfg.Rules
	r.PortScan.Window = dur(10 * time.Second)
	r.NewPeer.Window, r.NewPeer.Baseline, r.NewPeer.MinHistory = dur(10*time.Second), dur(10*time.Minute), dur(15*time.Second)
	r.NewPeer.Kinds, r.NewPeer.PerProcess = []string{KindAddress, KindAS, KindCountry}, true
	r.NewService.Window, r.NewService.Baseline, r.NewService.MinHistory = dur(10*time.Second), dur(10*time.Minute), dur(15*time.Second)
	r.EgressSpike.Window, r.EgressSpike.FallbackWindow, r.EgressSpike.MinHistory = dur(10*time.Second), dur(2*time.Minute), dur(15*time.Second)
	r.EgressSpike.MinRate = 1e6
	r.InterfaceSaturation.Window, r.InterfaceSaturation.MinSamples = dur(20*time.Second), 3
	r.Retransmits.Window, r.Retransmits.MinSegments = dur(10*time.Second), 200
	cfg.Sinks.Webhook.URL, cfg.Sinks.Webhook.Secret = hook, hookSecret
	cfg.Sinks.Webhook.Backoff = dur(100 * time.Millisecond)
	return cfg
}

func (l *lab) startDetector() {
	t := l.t
	srv := httptest.NewServer(l.hooks)
	t.Cleanup(srv.Close)
	d, err := New(scenarioConfig(srv.URL), Dependencies{Reporter: testReporter(t), Store: l.st, Flow: flow.NewSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	l.d = d
}

// expect waits until the stored detections are exactly want (rule and
// subject), then watches three more evaluation rounds for extra ones.
func (l *lab) expect(want []string) {
	t := l.t
	t.Helper()
	sort.Strings(want)
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = l.detections()
		if strings.Join(got, "\n") == strings.Join(want, "\n") || time.Now().After(deadline) || len(got) > len(want) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(3 * time.Duration(l.d.cfg.Interval))
	if got = l.detections(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("detections:\n got %q\nwant %q", got, want)
	}
}

func (l *lab) detections() []string {
	list, err := l.d.List(context.Background(), time.Now().Add(-time.Hour), 100)
	if err != nil {
		l.t.Fatal(err)
	}
	var out []string
	for _, d := range list {
		out = append(out, d.Rule+" "+d.Subject.String())
	}
	sort.Strings(out)
	return out
}

// checkDetections checks each detection's evidence (its filter finds its
// flows, its SQL finds it again) and numbers, and that the webhook got
// each, signed, once.
func (l *lab) checkDetections() {
	t := l.t
	ctx := context.Background()
	list, err := l.d.List(ctx, time.Now().Add(-time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := query.New(query.DefaultConfig(), query.Dependencies{Flow: l.d.flow, Store: l.st.Schema(), Querier: l.st,
		Reporter: quietReporter()})
	if err != nil {
		t.Fatal(err)
	}
	for _, det := range list {
		e := det.Evidence
		t.Logf("%s: %s\n  filter %s [%s, %s)", det.Rule, det.Summary, e.Filter, e.Start.Format(time.TimeOnly), e.End.Format(time.TimeOnly))
		res, err := l.st.Query(ctx, e.SQL, e.Params)
		if err != nil || len(res.Rows) == 0 {
			t.Errorf("%s: evidence SQL finds nothing (%v)", det.Rule, err)
		}
		page, err := b.Flows(ctx, query.FlowsRequest{Start: e.Start, End: e.End, Filter: e.Filter, Limit: 10})
		if err != nil || len(page.Rows) == 0 {
			t.Errorf("%s: evidence filter %q finds no flow (%v)", det.Rule, e.Filter, err)
		}
		switch det.Rule {
		case RulePortScan:
			if det.Values["ports"] < 250 || det.Values["hosts"] != 1 {
				t.Errorf("port scan: %v ports on %v hosts, want about 299 on 1", det.Values["ports"], det.Values["hosts"])
			}
		case RuleNewPeer:
			if len(det.Keys) != 1 || det.Keys[0] != (Key{Kind: KindAddress, Value: "10.77.0.3", FirstSeen: det.Keys[0].FirstSeen}) {
				t.Errorf("new peer keys: %v, want address 10.77.0.3", det.Keys)
			}
		case RuleEgressSpike:
			if det.Values["factor"] < 5 || det.Values["rate"] < 10e6 {
				t.Errorf("egress spike: %v bps, %v× the baseline; want > 10 Mbps, > 5×", det.Values["rate"], det.Values["factor"])
			}
		case RuleNewService:
			if len(det.Keys) != 1 || det.Keys[0].Kind != "tcp" || det.Keys[0].Value != "9099" {
				t.Errorf("new service keys: %v, want tcp/9099", det.Keys)
			}
		case RuleRetransmits:
			if det.Values["percent"] < 5 || det.Details["sockets"] == nil {
				t.Errorf("retransmits: %v%%, sockets %v; want >= 5%% and the socket named", det.Values["percent"], det.Details["sockets"])
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var opened []string
	for time.Now().Before(deadline) {
		if opened = l.hooks.opened(); len(opened) == len(list) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, want := strings.Join(opened, "\n"), strings.Join(l.detections(), "\n"); got != want || l.hooks.bad > 0 {
		t.Errorf("webhook opened events:\n%s\nwant\n%s\n(%d badly signed)", got, want, l.hooks.bad)
	}
}
