package agent

import (
	"bufio"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostflow/hostflow/internal/config"
	"github.com/hostflow/hostflow/internal/daemon"
	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// The integration tests run parts of themselves in other network
// namespaces by re-executing the test binary under "ip netns exec" with
// HOSTFLOW_TEST_HELPER naming the part: "agent" (the agent, configured by
// HOSTFLOW_TEST_CONFIG) or "wg" (a userspace WireGuard device on a kernel
// TUN, like tailscale0). A helper prints "ready" once set up and runs until
// its standard input closes.
func TestMain(m *testing.M) {
	switch os.Getenv("HOSTFLOW_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "agent":
		os.Exit(helperAgent())
	case "wg":
		os.Exit(helperWG())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

// waitStdin returns when standard input closes or a signal arrives.
func waitStdin() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func helperAgent() int {
	cfg := DefaultConfig()
	if err := config.Parse("HOSTFLOW_TEST_CONFIG", []byte(os.Getenv("HOSTFLOW_TEST_CONFIG")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, Deps{Reporter: daemon.NewReporter(log, nil)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	waitStdin()
	if err := a.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func helperWG() int {
	env := func(k string) string { return os.Getenv("HOSTFLOW_WG_" + k) }
	name := env("NAME")
	dev, err := tun.CreateTUN(name, 1420)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tun:", err)
		return 1
	}
	wg := device.NewDevice(dev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, "wg: "))
	defer wg.Close()
	uapi := fmt.Sprintf("private_key=%s\nlisten_port=%s\npublic_key=%s\nendpoint=%s\n",
		env("PRIVATE"), env("PORT"), env("PEER"), env("ENDPOINT"))
	for _, p := range strings.Split(env("ALLOWED"), ",") {
		uapi += "allowed_ip=" + p + "\n"
	}
	if err := wg.IpcSet(uapi); err != nil {
		fmt.Fprintln(os.Stderr, "uapi:", err)
		return 1
	}
	if err := wg.Up(); err != nil {
		fmt.Fprintln(os.Stderr, "up:", err)
		return 1
	}
	for _, a := range strings.Split(env("ADDRS"), ",") {
		args := []string{"addr", "add", a, "dev", name}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			fmt.Fprintln(os.Stderr, "ip", args, err, string(out))
			return 1
		}
	}
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, err, string(out))
		return 1
	}
	fmt.Println("ready")
	waitStdin()
	return 0
}

// wgKeys returns a private key and the matching public key, hex-encoded for
// the WireGuard UAPI.
func wgKeys(t *testing.T) (priv, pub string) {
	var k [32]byte
	if _, err := cryptorand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	k[0] &= 248
	k[31] = k[31]&127 | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(k[:]), hex.EncodeToString(p)
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *strings.Builder
}

// startHelper runs the test binary as helper kind inside namespace ns and
// waits for "ready". It is stopped in t.Cleanup (standard input closed,
// then killed after 5 s).
func startHelper(t *testing.T, ns, kind string, env ...string) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "HOSTFLOW_TEST_HELPER="+kind)...)
	h := &helper{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = h.stderr
	h.stdin, _ = cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stop(t) })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
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
			_ = cmd.Wait()
			t.Fatalf("helper %s exited before ready:\n%s", kind, h.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("helper %s not ready after 15 s:\n%s", kind, h.stderr)
	}
	return h
}

func (h *helper) stop(t *testing.T) {
	if h.cmd.ProcessState != nil {
		return
	}
	h.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("helper exited: %v\n%s", err, h.stderr)
		}
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-done
		t.Logf("helper killed after 5 s:\n%s", h.stderr)
	}
}
