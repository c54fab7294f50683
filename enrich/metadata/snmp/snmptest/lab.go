// Package snmptest starts a real net-snmp snmpd in a network namespace
// reachable only over IPv6, for tests of SNMP polling. It needs root and
// the snmpd binary; tests skip otherwise.
package snmptest

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

// Lab is a network namespace reachable from the test only over IPv6, with
// a real net-snmp snmpd listening on its IPv6 address.
type Lab struct {
	ns      string
	Agent   netip.Addr        // snmpd's address (in the namespace)
	Subnet  netip.Prefix      // the veth's /64, shared with the test's side
	Ifaces  map[uint32]string // ifIndex → name, read from /sys/class/net in the namespace
	Aliased uint32            // ifIndex given the ifAlias Alias
	log     *bytes.Buffer
}

// What snmpd is configured with (passphrases are test-only). v3 users:
// hfsha (SHA/AES), hfsha512 (SHA-512/AES-256), hfsha224 (SHA-224/AES-192),
// hfmd5des (MD5/DES), all authPriv; hfauth (SHA-256, authNoPriv); hfnoauth
// (noAuthNoPriv).
const (
	Community  = "hostflowtest"
	AuthPass   = "authpass123"
	PrivPass   = "privpass123"
	Alias      = "uplink to core"
	oidSysName = ".1.3.6.1.2.1.1.5.0"
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

// New starts a lab; everything is removed when the test ends.
func New(t *testing.T) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	snmpd, err := exec.LookPath("snmpd")
	if err != nil {
		t.Skip("snmpd not installed (Debian package snmpd; scripts/setup.sh test installs it)")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, labSeq.Add(1))
	l := &Lab{ns: "hfsnmp" + id, log: &bytes.Buffer{}}
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
	l.Subnet = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:%x::/64", n>>16, n&0xffff))
	host := l.Subnet.Addr().Next()
	l.Agent = host.Next()
	run(t, "ip", "addr", "add", host.String()+"/64", "dev", hostIf, "nodad")
	run(t, "ip", "link", "set", hostIf, "up")
	run(t, "ip", "-n", l.ns, "addr", "add", l.Agent.String()+"/64", "dev", nsIf, "nodad")
	run(t, "ip", "-n", l.ns, "link", "set", nsIf, "up")
	run(t, "ip", "-n", l.ns, "link", "set", "lo", "up")
	// More real interfaces for the agent to describe.
	run(t, "ip", "-n", l.ns, "link", "add", "hfup0", "type", "veth", "peer", "name", "hfup1")

	// The namespace's real interfaces, as the kernel lists them.
	l.Ifaces = map[uint32]string{}
	out := run(t, "ip", "netns", "exec", l.ns, "sh", "-c",
		`for d in /sys/class/net/*; do echo "$(cat $d/ifindex) ${d##*/}"; done`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		idx, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 2 {
			t.Fatalf("bad /sys/class/net line %q", line)
		}
		l.Ifaces[uint32(idx)] = f[1]
		if f[1] == nsIf {
			l.Aliased = uint32(idx)
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
`, l.Agent, Community, l.Subnet, AuthPass, PrivPass, l.Aliased, Alias)), 0o600)
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
func (l *Lab) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g := &gosnmp.GoSNMP{Target: l.Agent.String(), Port: 161, Transport: "udp", Community: Community,
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
