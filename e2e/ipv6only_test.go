package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/store/chdb"
)

const (
	agentAddr     = "fd00:6e:1::1"
	collectorAddr = "fd00:6e:1::2"
	agentHost     = "hfe2e-agent"
)

func require(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and the agent's AF_PACKET sockets")
	}
	for _, tool := range []string{"ip", "ping", "iperf3", "unshare", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	if _, err := chdb.ResolvePath(""); err != nil {
		t.Skipf("libchdb not installed (run scripts/setup.sh test): %v", err)
	}
}

// buildHostflow builds the binary under test.
func buildHostflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hostflow")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hostflow")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// daemon starts a long-running process, logging to a file shown when the
// test fails, and stops it (SIGTERM, then SIGKILL after 30 s) at cleanup.
func daemon(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, b)
		}
		log.Close()
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIPv6Only runs the agent and the collector (real hostflow binaries) in
// two namespaces joined by a veth pair that has only IPv6 addresses; not
// even loopback has an IPv4 address. Real ICMPv6 and TCP traffic is
// sampled by the agent, sent as sFlow over IPv6, stored in the embedded
// chDB and read back through the collector's API, with the agent's host
// name and IPv6 agent address.
func TestIPv6Only(t *testing.T) {
	require(t)
	start := time.Now()
	bin := buildHostflow(t)
	t.Logf("built hostflow in %v", time.Since(start).Round(time.Millisecond))

	a, b := newNetns(t, "a"), newNetns(t, "b")
	vethA, vethB := fmt.Sprintf("hfa%d", os.Getpid()%100000), fmt.Sprintf("hfb%d", os.Getpid()%100000)
	run(t, "ip", "link", "add", vethA, "netns", string(a), "type", "veth", "peer", "name", vethB, "netns", string(b))
	for _, side := range []struct {
		ns   netns
		dev  string
		addr string
	}{{a, vethA, agentAddr}, {b, vethB, collectorAddr}} {
		side.ns.run(t, "ip", "link", "set", "lo", "up")
		// No IPv4 at all: loopback loses 127.0.0.1 too.
		side.ns.run(t, "ip", "addr", "del", "127.0.0.1/8", "dev", "lo")
		side.ns.run(t, "ip", "addr", "add", side.addr+"/64", "dev", side.dev, "nodad")
		side.ns.run(t, "ip", "link", "set", side.dev, "up")
		if v4 := strings.TrimSpace(side.ns.run(t, "ip", "-4", "addr", "show")); v4 != "" {
			t.Fatalf("namespace %s has IPv4 addresses:\n%s", side.ns, v4)
		}
	}

	dir := t.TempDir()
	collectorCfg := writeFile(t, "collector.yaml", fmt.Sprintf(`
log: {level: info, format: json}
http: {listen: "[::1]:9465"}
store:
  path: %s
  batch-time: 1s
  spool: {dir: %s}
console:
  listen: "[%s]:8080"
  auth: {anonymous: read}
`, filepath.Join(dir, "store"), filepath.Join(dir, "spool"), collectorAddr))
	daemon(t, "collector", b.command(bin, "collector", "-c", collectorCfg))

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: b.dial}}
	api := "http://[" + collectorAddr + "]:8080/api/v1/"
	waitUntil(t, 90*time.Second, "collector API up", func() bool {
		resp, err := hc.Get(api + "health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, func() string { return "no answer" })

	agentCfg := writeFile(t, "agent.yaml", fmt.Sprintf(`
log: {level: info, format: json}
http: {listen: ""}
agent:
  collectors: ["[%s]:6343"]
  agent-interface: %s
  sampling: {default: 4}
  polling: 2s
`, collectorAddr, vethA))
	// Its own UTS namespace gives the agent a host name of its own.
	daemon(t, "agent", exec.Command("unshare", "--uts", "sh", "-c",
		fmt.Sprintf("hostname %s && exec ip netns exec %s %s agent -c %s", agentHost, a, bin, agentCfg)))
	time.Sleep(2 * time.Second) // the agent opens its sampling sockets

	// Real traffic over IPv6: ICMPv6 echo and an iperf3 TCP transfer.
	daemon(t, "iperf3-server", b.command("iperf3", "-s", "-B", collectorAddr, "-1"))
	time.Sleep(500 * time.Millisecond)
	a.run(t, "ping", "-6", "-c", "50", "-i", "0.02", "-q", collectorAddr)
	a.run(t, "iperf3", "-6", "-c", collectorAddr, "-t", "2", "-b", "20M")

	q := url.Values{
		"filter":  {fmt.Sprintf("HostName = '%s'", agentHost)},
		"columns": {"HostName,ExporterAddress,SrcAddr,DstAddr,Proto"},
		"limit":   {"1000"},
		"start":   {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
	}
	var out struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	protos := map[string]int{} // by protocol name
	waitUntil(t, 90*time.Second, "ICMPv6 and TCP flows of "+agentHost+" in the API", func() bool {
		resp, err := hc.Get(api + "flows?" + q.Encode())
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("flows: %d %s", resp.StatusCode, body)
		}
		out.Rows = nil
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		clear(protos)
		for _, row := range out.Rows {
			if inSubnet(row[2]) && inSubnet(row[3]) {
				protos[fmt.Sprint(row[4])]++
			}
		}
		return protos["ipv6-icmp"] > 0 && protos["tcp"] > 0
	}, func() string {
		return fmt.Sprintf("%d rows, in-subnet flows by protocol %v, first rows %v", len(out.Rows), protos, out.Rows[:min(5, len(out.Rows))])
	})
	for _, row := range out.Rows {
		if exp := netip.MustParseAddr(row[1].(string)); exp != netip.MustParseAddr(agentAddr) {
			t.Fatalf("exporter address %v, want the agent's %s: %v", exp, agentAddr, row)
		}
		// Besides the test traffic, only neighbour discovery (link-local
		// and multicast) may appear: nothing IPv4.
		for _, col := range row[2:4] {
			if a := netip.MustParseAddr(col.(string)); !inSubnet(col) && !a.IsLinkLocalUnicast() && !a.IsMulticast() && !a.IsUnspecified() {
				t.Fatalf("unexpected flow address %v: %v", a, row)
			}
		}
	}
	t.Logf("%d flows of %s stored and served over IPv6 only (by protocol: %v) in %v", len(out.Rows), agentHost, protos,
		time.Since(start).Round(time.Millisecond))
}

var subnet = netip.MustParsePrefix("fd00:6e:1::/64")

func inSubnet(v any) bool {
	s, _ := v.(string)
	a, err := netip.ParseAddr(s)
	return err == nil && subnet.Contains(a)
}

// waitUntil polls cond; state describes what was seen last, for the
// failure message.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timeout after %v waiting for %s; last seen: %s", limit, what, state())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
