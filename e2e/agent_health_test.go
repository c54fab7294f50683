package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentHealth: an agent that cannot sample an interface it was told
// to sample (here, started as nobody without CAP_NET_RAW) keeps running
// and says so on /healthz (503, agent/sampling naming the interface);
// with the capability it is healthy.
func TestAgentHealth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespace, and switching to nobody")
	}
	bin := firstRunBuild(t)
	ns := newNetns(t, "health")
	ns.run(t, "ip", "link", "set", "lo", "up")
	ns.run(t, "ip", "link", "add", "hfh0", "type", "veth", "peer", "name", "hfh1")
	ns.run(t, "ip", "link", "set", "hfh0", "up")
	ns.run(t, "ip", "link", "set", "hfh1", "up")
	cfg := filepath.Join(filepath.Dir(bin), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  format: json\nhttp:\n  listen: 127.0.0.1:19466\n"+
		"agent:\n  interfaces: [hfh0]\n  collectors: [\"127.0.0.1:16343\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return ns.dial(ctx, network, addr) },
	}}
	for _, c := range []struct {
		name   string
		args   []string
		status int
		want   string
		logged string // in the log before the answer counts
	}{
		{"nobody", []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin}, http.StatusServiceUnavailable,
			`"agent/sampling":"cannot sample 1 interface(s): hfh0: sampler hfh0: socket: operation not permitted"`, `"msg":"cannot sample interface"`},
		{"root", []string{bin}, http.StatusOK, `"status":"ok"`, `"msg":"sampling","component":"agent","interface":"hfh0"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := ns.command(c.args[0], append(c.args[1:], "agent", "-c", cfg)...)
			var log firstRunBuffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			var status int
			var body string
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				resp, err := client.Get("http://127.0.0.1:19466/healthz")
				if err != nil {
					continue
				}
				var v json.RawMessage
				err = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				status, body = resp.StatusCode, string(v)
				if err == nil && status == c.status && strings.Contains(body, c.want) && strings.Contains(log.String(), c.logged) {
					return
				}
			}
			t.Errorf("/healthz %d %s, want %d with %s\nlog:\n%s", status, body, c.status, c.want, log.String())
		})
	}
}
