package counters

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/sflow"
	"golang.org/x/sys/unix"
)

// Host reads the host data source (2:1) counters from procfs and sysfs.
// Roots are configurable so tests can read recorded files.
type Host struct {
	Proc, Sys, Etc string
	// Statfs measures a mounted filesystem (unix.Statfs in production).
	Statfs func(path string, st *unix.Statfs_t) error

	descr hostDescr
}

type hostDescr struct {
	hostname, release []byte
	uuid              [16]byte
	machine           uint32
}

// NewHost returns a reader of the running system.
func NewHost() *Host {
	return &Host{Proc: "/proc", Sys: "/sys", Etc: "/etc", Statfs: unix.Statfs}
}

// userHZ is the unit of /proc/stat times (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

// Fill sets the host counter sample: host_descr, host_adapters, host_cpu,
// host_memory, host_disk_io, host_net_io and the MIB-2 ip/icmp/tcp/udp
// groups. Sources that cannot be read leave their record out; the error
// joins what failed.
func (h *Host) Fill(out *sflow.CounterSample, links []Link) error {
	out.Expanded = true
	out.SourceType, out.SourceIndex = sflow.SourcePhysical, 1
	out.Has = 0
	var errs []error
	try := func(has sflow.CounterRecords, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		out.Has |= has
	}
	try(sflow.HasHostDescr, h.fillDescr(&out.HostDescr))
	h.fillAdapters(&out.Adapters, links)
	out.Has |= sflow.HasAdapters
	try(sflow.HasHostCPU, h.fillCPU(&out.HostCPU))
	try(sflow.HasHostMemory, h.fillMemory(&out.HostMemory))
	try(sflow.HasHostDiskIO, h.fillDisk(&out.HostDiskIO))
	fillNetIO(&out.HostNetIO, links)
	out.Has |= sflow.HasHostNetIO
	try(sflow.HasMIB2IP|sflow.HasMIB2ICMP|sflow.HasMIB2TCP|sflow.HasMIB2UDP, h.fillMIB2(out))
	return errors.Join(errs...)
}

func (h *Host) fillDescr(d *sflow.HostDescr) error {
	if h.descr.hostname == nil {
		name := readString(filepath.Join(h.Proc, "sys/kernel/hostname"))
		if name == "" {
			return errors.New("host_descr: no hostname")
		}
		h.descr.hostname = []byte(name)
		h.descr.release = []byte(readString(filepath.Join(h.Proc, "sys/kernel/osrelease")))
		h.descr.uuid = h.machineUUID()
		h.descr.machine = machineType(runtime.GOARCH)
	}
	*d = sflow.HostDescr{Hostname: h.descr.hostname, UUID: h.descr.uuid,
		MachineType: h.descr.machine, OSName: sflow.OSLinux, OSRelease: h.descr.release}
	return nil
}

// machineUUID is /etc/machine-id (systemd's stable host identity, readable
// without privileges), else the DMI product UUID, else zero.
func (h *Host) machineUUID() [16]byte {
	var u [16]byte
	for _, p := range []string{filepath.Join(h.Etc, "machine-id"), filepath.Join(h.Sys, "class/dmi/id/product_uuid")} {
		s := strings.ReplaceAll(readString(p), "-", "")
		if b, err := hex.DecodeString(s); err == nil && len(b) == 16 {
			copy(u[:], b)
			return u
		}
	}
	return u
}

func machineType(goarch string) uint32 {
	switch goarch {
	case "amd64":
		return sflow.MachineX86_64
	case "386":
		return sflow.MachineX86
	case "arm", "arm64":
		return sflow.MachineARM
	case "ppc64", "ppc64le":
		return sflow.MachinePowerPC
	case "mips", "mipsle", "mips64", "mips64le":
		return sflow.MachineMIPS
	case "s390x":
		return sflow.MachineS390
	}
	return sflow.MachineOther
}

// fillAdapters lists every interface with its MAC. Devices without one
// (tun devices such as tailscale0) are listed with no MAC, unlike hsflowd,
// so a collector learns every ifIndex the agent samples on.
func (h *Host) fillAdapters(a *sflow.HostAdapters, links []Link) {
	a.Adapters = a.Adapters[:0]
	for i := range links {
		l := &links[i]
		if l.Kind == sflow.IfKindLoopback {
			continue
		}
		ad := sflow.HostAdapter{IfIndex: uint32(l.Index)}
		if len(l.MAC) == 6 {
			var m sflow.MAC
			copy(m[:], l.MAC)
			if m != (sflow.MAC{}) {
				ad.MACs = []sflow.MAC{m}
			}
		}
		a.Adapters = append(a.Adapters, ad)
	}
}

func fillNetIO(n *sflow.HostNetIO, links []Link) {
	*n = sflow.HostNetIO{}
	for i := range links {
		l := &links[i]
		if l.Kind == sflow.IfKindLoopback {
			continue
		}
		n.BytesIn += l.Stats.RxBytes
		n.PktsIn += uint32(l.Stats.RxPackets)
		n.ErrsIn += uint32(l.Stats.RxErrors)
		n.DropsIn += uint32(l.Stats.RxDropped)
		n.BytesOut += l.Stats.TxBytes
		n.PktsOut += uint32(l.Stats.TxPackets)
		n.ErrsOut += uint32(l.Stats.TxErrors)
		n.DropsOut += uint32(l.Stats.TxDropped)
	}
}

func (h *Host) fillCPU(c *sflow.HostCPU) error {
	*c = sflow.HostCPU{}
	load := strings.Fields(readString(filepath.Join(h.Proc, "loadavg")))
	if len(load) < 4 {
		return errors.New("host_cpu: bad /proc/loadavg")
	}
	f := func(s string) float32 { v, _ := strconv.ParseFloat(s, 32); return float32(v) }
	c.LoadOne, c.LoadFive, c.LoadFifteen = f(load[0]), f(load[1]), f(load[2])
	if run, total, ok := strings.Cut(load[3], "/"); ok {
		c.ProcRun, c.ProcTotal = atou32(run), atou32(total)
	}
	up := strings.Fields(readString(filepath.Join(h.Proc, "uptime")))
	if len(up) > 0 {
		v, _ := strconv.ParseFloat(up[0], 64)
		c.Uptime = uint32(v)
	}
	data, err := os.ReadFile(filepath.Join(h.Proc, "stat"))
	if err != nil {
		return fmt.Errorf("host_cpu: %w", err)
	}
	ms := func(s string) uint32 { v, _ := strconv.ParseUint(s, 10, 64); return uint32(v * 1000 / userHZ) }
	for _, line := range strings.Split(string(data), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		switch {
		case fs[0] == "cpu" && len(fs) >= 11:
			c.User, c.Nice, c.System, c.Idle = ms(fs[1]), ms(fs[2]), ms(fs[3]), ms(fs[4])
			c.WIO, c.Intr, c.SoftIntr, c.Steal = ms(fs[5]), ms(fs[6]), ms(fs[7]), ms(fs[8])
			c.Guest, c.GuestNice = ms(fs[9]), ms(fs[10])
		case strings.HasPrefix(fs[0], "cpu"):
			c.CPUNum++
		case fs[0] == "intr":
			c.Interrupts = atou32(fs[1])
		case fs[0] == "ctxt":
			c.Contexts = atou32(fs[1])
		}
	}
	c.CPUSpeed = h.cpuMHz()
	return nil
}

// cpuMHz is the first CPU's maximum frequency from cpufreq, else the
// "cpu MHz" of /proc/cpuinfo, else 0.
func (h *Host) cpuMHz() uint32 {
	if khz, err := readInt(filepath.Join(h.Sys, "devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")); err == nil {
		return uint32(khz / 1000)
	}
	f, err := os.Open(filepath.Join(h.Proc, "cpuinfo"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return uint32(mhz)
		}
	}
	return 0
}

// keyValues parses "Key: value [kB]" (meminfo) or "key value" (vmstat)
// lines into a map of the integer values.
func keyValues(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		fs := strings.Fields(string(line))
		if len(fs) < 2 {
			continue
		}
		v, err := strconv.ParseUint(fs[1], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 2 && fs[2] == "kB" {
			v *= 1024
		}
		m[strings.TrimSuffix(fs[0], ":")] = v
	}
	return m, nil
}

func (h *Host) fillMemory(m *sflow.HostMemory) error {
	mi, err := keyValues(filepath.Join(h.Proc, "meminfo"))
	if err != nil {
		return fmt.Errorf("host_memory: %w", err)
	}
	vm, _ := keyValues(filepath.Join(h.Proc, "vmstat"))
	*m = sflow.HostMemory{
		Total: mi["MemTotal"], Free: mi["MemFree"], Shared: mi["Shmem"],
		Buffers: mi["Buffers"], Cached: mi["Cached"],
		SwapTotal: mi["SwapTotal"], SwapFree: mi["SwapFree"],
		PageIn: uint32(vm["pgpgin"]), PageOut: uint32(vm["pgpgout"]),
		SwapIn: uint32(vm["pswpin"]), SwapOut: uint32(vm["pswpout"]),
	}
	return nil
}

// fillDisk sums the capacity of mounted block-device filesystems (each
// device once) and the I/O of whole disks (not partitions, loop or ram
// devices).
func (h *Host) fillDisk(d *sflow.HostDiskIO) error {
	*d = sflow.HostDiskIO{PartMaxUsed: -1}
	mounts, err := os.ReadFile(filepath.Join(h.Proc, "mounts"))
	if err != nil {
		return fmt.Errorf("host_disk_io: %w", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(mounts), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 3 || !strings.HasPrefix(fs[0], "/dev/") || seen[fs[0]] || h.Statfs == nil {
			continue
		}
		var st unix.Statfs_t
		if h.Statfs(fs[1], &st) != nil || st.Blocks == 0 {
			continue
		}
		seen[fs[0]] = true
		total, free := st.Blocks*uint64(st.Bsize), st.Bfree*uint64(st.Bsize)
		d.Total += total
		d.Free += free
		if used := int32((total - free) * 10000 / total); used > d.PartMaxUsed {
			d.PartMaxUsed = used
		}
	}
	stats, err := os.ReadFile(filepath.Join(h.Proc, "diskstats"))
	if err != nil {
		return fmt.Errorf("host_disk_io: %w", err)
	}
	for _, line := range strings.Split(string(stats), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 14 || strings.HasPrefix(fs[2], "loop") || strings.HasPrefix(fs[2], "ram") || strings.HasPrefix(fs[2], "zram") {
			continue
		}
		if _, err := os.Stat(filepath.Join(h.Sys, "block", fs[2])); err != nil {
			continue // a partition, or a device sysfs does not list as a disk
		}
		u := func(i int) uint64 { v, _ := strconv.ParseUint(fs[i], 10, 64); return v }
		d.Reads += uint32(u(3))
		d.BytesRead += u(5) * 512
		d.ReadTime += uint32(u(6))
		d.Writes += uint32(u(7))
		d.BytesWritten += u(9) * 512
		d.WriteTime += uint32(u(10))
	}
	return nil
}

// fillMIB2 parses /proc/net/snmp, where each group is a header line of
// field names followed by a line of values.
func (h *Host) fillMIB2(out *sflow.CounterSample) error {
	data, err := os.ReadFile(filepath.Join(h.Proc, "net/snmp"))
	if err != nil {
		return fmt.Errorf("mib2: %w", err)
	}
	groups := map[string]map[string]uint32{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || len(names) != len(values) || names[0] != values[0] {
			return fmt.Errorf("mib2: malformed line %d of /proc/net/snmp", i+1)
		}
		g := map[string]uint32{}
		for j := 1; j < len(names); j++ {
			v, _ := strconv.ParseInt(values[j], 10, 64)
			g[names[j]] = uint32(v) // RtoMax/MaxConn may be -1: wraps to 0xFFFFFFFF
		}
		groups[strings.TrimSuffix(names[0], ":")] = g
	}
	ip, icmp, tcp, udp := groups["Ip"], groups["Icmp"], groups["Tcp"], groups["Udp"]
	if ip == nil || icmp == nil || tcp == nil || udp == nil {
		return errors.New("mib2: /proc/net/snmp lacks a group")
	}
	out.MIB2IP = sflow.MIB2IP{
		Forwarding: ip["Forwarding"], DefaultTTL: ip["DefaultTTL"], InReceives: ip["InReceives"],
		InHdrErrors: ip["InHdrErrors"], InAddrErrors: ip["InAddrErrors"], ForwDatagrams: ip["ForwDatagrams"],
		InUnknownProtos: ip["InUnknownProtos"], InDiscards: ip["InDiscards"], InDelivers: ip["InDelivers"],
		OutRequests: ip["OutRequests"], OutDiscards: ip["OutDiscards"], OutNoRoutes: ip["OutNoRoutes"],
		ReasmTimeout: ip["ReasmTimeout"], ReasmReqds: ip["ReasmReqds"], ReasmOKs: ip["ReasmOKs"],
		ReasmFails: ip["ReasmFails"], FragOKs: ip["FragOKs"], FragFails: ip["FragFails"], FragCreates: ip["FragCreates"],
	}
	out.MIB2ICMP = sflow.MIB2ICMP{
		InMsgs: icmp["InMsgs"], InErrors: icmp["InErrors"], InDestUnreachs: icmp["InDestUnreachs"],
		InTimeExcds: icmp["InTimeExcds"], InParamProbs: icmp["InParmProbs"], InSrcQuenchs: icmp["InSrcQuenchs"],
		InRedirects: icmp["InRedirects"], InEchos: icmp["InEchos"], InEchoReps: icmp["InEchoReps"],
		InTimestamps: icmp["InTimestamps"], InAddrMasks: icmp["InAddrMasks"], InAddrMaskReps: icmp["InAddrMaskReps"],
		OutMsgs: icmp["OutMsgs"], OutErrors: icmp["OutErrors"], OutDestUnreachs: icmp["OutDestUnreachs"],
		OutTimeExcds: icmp["OutTimeExcds"], OutParamProbs: icmp["OutParmProbs"], OutSrcQuenchs: icmp["OutSrcQuenchs"],
		OutRedirects: icmp["OutRedirects"], OutEchos: icmp["OutEchos"], OutEchoReps: icmp["OutEchoReps"],
		OutTimestamps: icmp["OutTimestamps"], OutTimestampReps: icmp["OutTimestampReps"],
		OutAddrMasks: icmp["OutAddrMasks"], OutAddrMaskReps: icmp["OutAddrMaskReps"],
	}
	out.MIB2TCP = sflow.MIB2TCP{
		RtoAlgorithm: tcp["RtoAlgorithm"], RtoMin: tcp["RtoMin"], RtoMax: tcp["RtoMax"], MaxConn: tcp["MaxConn"],
		ActiveOpens: tcp["ActiveOpens"], PassiveOpens: tcp["PassiveOpens"], AttemptFails: tcp["AttemptFails"],
		EstabResets: tcp["EstabResets"], CurrEstab: tcp["CurrEstab"], InSegs: tcp["InSegs"], OutSegs: tcp["OutSegs"],
		RetransSegs: tcp["RetransSegs"], InErrs: tcp["InErrs"], OutRsts: tcp["OutRsts"], InCsumErrors: tcp["InCsumErrors"],
	}
	out.MIB2UDP = sflow.MIB2UDP{
		InDatagrams: udp["InDatagrams"], NoPorts: udp["NoPorts"], InErrors: udp["InErrors"],
		OutDatagrams: udp["OutDatagrams"], RcvbufErrors: udp["RcvbufErrors"], SndbufErrors: udp["SndbufErrors"],
		InCsumErrors: udp["InCsumErrors"],
	}
	return nil
}

func atou32(s string) uint32 { v, _ := strconv.ParseUint(s, 10, 64); return uint32(v) }
