package counters

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostflow/hostflow/sflow"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (-got +want):\n-%s\n+%s", name, got, want)
	}
}

func TestHostFromRecordedProc(t *testing.T) {
	root := filepath.Join("testdata", "host")
	h := &Host{
		Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys"), Etc: filepath.Join(root, "etc"),
		Statfs: func(path string, st *unix.Statfs_t) error {
			*st = unix.Statfs_t{Bsize: 4096, Blocks: 1000, Bfree: 250}
			return nil
		},
	}
	links := []Link{
		{Index: 1, Name: "lo", Kind: sflow.IfKindLoopback, Stats: statsOf(5)},
		{Index: 2, Name: "eth0", Kind: sflow.IfKindPhysical, MAC: []byte{2, 0, 0, 0, 0, 1}, Stats: statsOf(100)},
		{Index: 3, Name: "tailscale0", Kind: sflow.IfKindTun, Stats: statsOf(7)},
	}
	var cs sflow.CounterSample
	if err := h.Fill(&cs, links); err != nil {
		t.Fatal(err)
	}
	want := sflow.HasHostDescr | sflow.HasAdapters | sflow.HasHostCPU | sflow.HasHostMemory |
		sflow.HasHostDiskIO | sflow.HasHostNetIO | sflow.HasMIB2IP | sflow.HasMIB2ICMP | sflow.HasMIB2TCP | sflow.HasMIB2UDP
	if cs.Has != want {
		t.Errorf("records %b, want %b", cs.Has, want)
	}
	view := map[string]any{
		"source":    []uint32{cs.SourceType, cs.SourceIndex},
		"hostname":  string(cs.HostDescr.Hostname),
		"uuid":      cs.HostDescr.UUID,
		"machine":   cs.HostDescr.MachineType,
		"os":        cs.HostDescr.OSName,
		"release":   strings.TrimSpace(string(cs.HostDescr.OSRelease)) != "",
		"adapters":  cs.Adapters.Adapters,
		"cpu":       cs.HostCPU,
		"memory":    cs.HostMemory,
		"disk":      cs.HostDiskIO,
		"net":       cs.HostNetIO,
		"mib2_ip":   cs.MIB2IP,
		"mib2_icmp": cs.MIB2ICMP,
		"mib2_tcp":  cs.MIB2TCP,
		"mib2_udp":  cs.MIB2UDP,
	}
	got, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "host.golden.json", append(got, '\n'))
}

func statsOf(n uint64) (s netlink.LinkStatistics) {
	s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes = n, 2*n, 100*n, 200*n
	return s
}

func TestHostMissingProc(t *testing.T) {
	h := &Host{Proc: t.TempDir(), Sys: t.TempDir(), Etc: t.TempDir()}
	var cs sflow.CounterSample
	err := h.Fill(&cs, nil)
	if err == nil {
		t.Fatal("no error for an empty /proc")
	}
	// What needs no file is still there.
	if cs.Has != sflow.HasAdapters|sflow.HasHostNetIO {
		t.Errorf("records %b, want adapters and net_io only", cs.Has)
	}
}
