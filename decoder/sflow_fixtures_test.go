package decoder

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/sflow"
)

// Packet headers for sampled_header records, written field by field.

var (
	sfMACA = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	sfMACB = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
)

// sfIPv4 is an IPv4 header (no options) of a packet of total length ipLen.
func sfIPv4(src, dst string, proto uint8, ipLen int, tos, ttl uint8) []byte {
	b := make([]byte, 20)
	b[0], b[1] = 0x45, tos
	binary.BigEndian.PutUint16(b[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(b[4:], 0x4d2)
	binary.BigEndian.PutUint16(b[6:], 0x4000)
	b[8], b[9] = ttl, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return b
}

// sfIPv6 is an IPv6 header of a packet of total length ipLen.
func sfIPv6(src, dst string, next uint8, ipLen int, tc uint8, hlim uint8) []byte {
	b := make([]byte, 40)
	binary.BigEndian.PutUint32(b, 6<<28|uint32(tc)<<20|0x12345)
	binary.BigEndian.PutUint16(b[4:], uint16(ipLen-40))
	b[6], b[7] = next, hlim
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return b
}

func sfTCP(sport, dport uint16, flags uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[12:], 5<<12|flags)
	return b
}

func sfUDP(sport, dport uint16, n int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	return b
}

// sfEth prefixes an Ethernet header (optionally 802.1Q-tagged) to an L3
// packet and pads the result with payload bytes to n (0: no padding).
func sfEth(etype uint16, vlan uint16, l3 []byte, n int) []byte {
	b := append(append([]byte{}, sfMACB...), sfMACA...)
	if vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, vlan)
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	return sfPad(append(b, l3...), n)
}

func sfPad(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, byte(len(b)))
	}
	return b
}

func sfCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// sfTCP4Frame is a 128-byte sample of a 1514-byte Ethernet/IPv4/TCP frame.
func sfTCP4Frame() []byte {
	return sfEth(0x0800, 0, sfCat(sfIPv4("192.0.2.10", "198.51.100.20", 6, 1500, 0, 64), sfTCP(43210, 443, 0x18)), 128)
}

func sfProcess(pid uint32, exe, unit string) sflow.ProcessInfo {
	return sflow.ProcessInfo{PID: pid, UID: 33, Comm: []byte(exe), Exe: []byte(exe),
		Cgroup: []byte("/system.slice/" + unit), Unit: []byte(unit), User: []byte("www-data")}
}

// sfEncode encodes dg with the sflow package's encoder.
func sfEncode(t testing.TB, dg *sflow.Datagram) []byte {
	t.Helper()
	var enc sflow.Encoder
	b, err := enc.AppendDatagram(nil, dg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sfNew(t testing.TB) (*SFlow, *daemon.Reporter) {
	t.Helper()
	rep := daemon.NewReporter(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	d, err := NewSFlow(DefaultSFlowConfig(), rep.Sub("decoder"))
	if err != nil {
		t.Fatal(err)
	}
	return d, rep
}

// sfMetric reads hostflow_decoder_sflow_<name>; labels are name, value pairs.
func sfMetric(t *testing.T, rep *daemon.Reporter, name string, labels ...string) float64 {
	t.Helper()
	families, err := rep.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "hostflow_decoder_sflow_"+name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// sfDescribe prints the non-zero fields of each record of b, one per line,
// for golden files.
func sfDescribe(b *Batch) string {
	var sb strings.Builder
	each := func(kind string, v reflect.Value) {
		for i := range v.Len() {
			fmt.Fprintf(&sb, "== %s[%d]\n", kind, i)
			r := v.Index(i)
			for j := range r.NumField() {
				f := r.Field(j)
				if f.IsZero() {
					continue
				}
				name := r.Type().Field(j).Name
				switch {
				case strings.HasSuffix(name, "MAC"):
					var m [8]byte
					binary.BigEndian.PutUint64(m[:], f.Uint())
					fmt.Fprintf(&sb, "%s: %02x:%02x:%02x:%02x:%02x:%02x\n", name, m[2], m[3], m[4], m[5], m[6], m[7])
				case name == "EType" || name == "TCPFlags" || name == "IPv6FlowLabel":
					fmt.Fprintf(&sb, "%s: %#x\n", name, f.Interface())
				case f.Kind() == reflect.String:
					fmt.Fprintf(&sb, "%s: %q\n", name, f.Interface())
				default:
					fmt.Fprintf(&sb, "%s: %v\n", name, f.Interface())
				}
			}
		}
	}
	each("flow", reflect.ValueOf(b.Flows))
	each("interface", reflect.ValueOf(b.Interfaces))
	each("host", reflect.ValueOf(b.Hosts))
	return sb.String()
}
