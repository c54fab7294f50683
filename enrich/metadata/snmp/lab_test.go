package snmp

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// lab is a network namespace reachable from the test only over IPv6, with
// a real net-snmp snmpd listening on its IPv6 address.
type lab struct {
	ns      string
	agent   netip.Addr        // snmpd's address (in the namespace)
	subnet  netip.Prefix      // the veth's /64
	ifaces  map[uint32]string // ifIndex → name, read from /sys/class/net in the namespace
	aliased uint32            // ifIndex given an ifAlias
	log     *bytes.Buffer
}

// Users configured in snmpd (passphrases are test-only).
const (
	labCommunity = "hostflowtest"
	labAuthPass  = "authpass123"
	labPrivPass  = "privpass123"
	labAlias     = "uplink to core"
)

var labSeq atomic.Int32

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	snmpd, err := exec.LookPath("snmpd")
	if err != nil {
		t.Skip("snmpd not installed (Debian package snmpd; scripts/setup.sh test installs it)")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, labSeq.Add(1))
	l := &lab{ns: "hfsnmp" + id, log: &bytes.Buffer{}}
	hostIf, nsIf := "hfsa"+id, "hfsb"+id
	if len(hostIf) > 15 {
		t.Fatalf("interface name %s too long", hostIf)
	}
	run(t, "ip", "netns", "add", l.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.ns).Run() })
	run(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	run(t, "ip", "link", "set", nsIf, "netns", l.ns)
	// IPv6 only: a ULA /64 per lab, no IPv4 address anywhere.
	n, _ := strconv.Atoi(id)
	l.subnet = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:%x::/64", n>>16, n&0xffff))
	host := l.subnet.Addr().Next()
	l.agent = host.Next()
	run(t, "ip", "addr", "add", host.String()+"/64", "dev", hostIf, "nodad")
	run(t, "ip", "link", "set", hostIf, "up")
	run(t, "ip", "-n", l.ns, "addr", "add", l.agent.String()+"/64", "dev", nsIf, "nodad")
	run(t, "ip", "-n", l.ns, "link", "set", nsIf, "up")
	run(t, "ip", "-n", l.ns, "link", "set", "lo", "up")
	// More real interfaces for the agent to describe.
	run(t, "ip", "-n", l.ns, "link", "add", "hfup0", "type", "veth", "peer", "name", "hfup1")

	// The namespace's real interfaces, as the kernel lists them.
	l.ifaces = map[uint32]string{}
	out := run(t, "ip", "netns", "exec", l.ns, "sh", "-c",
		`for d in /sys/class/net/*; do echo "$(cat $d/ifindex) ${d##*/}"; done`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		idx, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 2 {
			t.Fatalf("bad /sys/class/net line %q", line)
		}
		l.ifaces[uint32(idx)] = f[1]
		if f[1] == nsIf {
			l.aliased = uint32(idx)
		}
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "snmpd.conf")
	// net-snmp does not read Linux's ifalias; override publishes one the
	// way an operator-set ifAlias would appear.
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`agentaddress udp6:[%s]:161
rocommunity6 %s %s
createUser hfsha SHA "%[4]s" AES "%[5]s"
createUser hfsha512 SHA-512 "%[4]s" AES-256 "%[5]s"
createUser hfsha224 SHA-224 "%[4]s" AES-192 "%[5]s"
createUser hfmd5des MD5 "%[4]s" DES "%[5]s"
createUser hfauth SHA-256 "%[4]s"
createUser hfnoauth
rouser hfsha priv
rouser hfsha512 priv
rouser hfsha224 priv
rouser hfmd5des priv
rouser hfauth auth
rouser hfnoauth noauth
override .1.3.6.1.2.1.31.1.1.1.18.%[6]d octet_str "%[7]s"
`, l.agent, labCommunity, l.subnet, labAuthPass, labPrivPass, l.aliased, labAlias)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", l.ns, snmpd, "-f", "-Lo", "-C", "-c", conf, "-M", "/dev/null", "-m", "")
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir)
	cmd.Stdout, cmd.Stderr = l.log, l.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("snmpd log:\n%s", l.log)
		}
	})
	l.waitReady(t)
	return l
}

// waitReady polls sysName until snmpd answers (bounded).
func (l *lab) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g := &gosnmp.GoSNMP{Target: l.agent.String(), Port: 161, Transport: "udp", Community: labCommunity,
			Version: gosnmp.Version2c, Timeout: 200 * time.Millisecond, Retries: 0}
		if err := g.Connect(); err == nil {
			_, err = g.Get([]string{oidSysName})
			g.Conn.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("snmpd did not answer within 15s; log:\n%s", l.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
