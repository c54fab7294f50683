package packet

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostflow/hostflow/internal/pcapfile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The captures are real traffic recorded by testdata/capture.sh.
var captures = []string{"eth.pcap", "raw.pcap"}

// readPcap reads a capture and maps its link type.
func readPcap(t testing.TB, path string) (LinkType, [][]byte) {
	t.Helper()
	lt, frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	pkts := make([][]byte, len(frames))
	for i, f := range frames {
		pkts[i] = f.Data
	}
	link, ok := map[uint32]LinkType{pcapfile.LinkEthernet: LinkEthernet, pcapfile.LinkRaw: LinkIP,
		pcapfile.LinkIPv4: LinkIPv4, pcapfile.LinkIPv6: LinkIPv6}[lt]
	if !ok {
		t.Fatalf("%s: link type %d", path, lt)
	}
	return link, pkts
}

// describe prints the non-zero fields of h, one "Name=value" each.
func describe(h *Header, err error) string {
	var sb strings.Builder
	v := reflect.ValueOf(*h)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		name := v.Type().Field(i).Name
		switch name {
		case "Layers":
			fmt.Fprintf(&sb, " %s=%#x", name, f.Uint())
		case "DstMAC", "SrcMAC":
			fmt.Fprintf(&sb, " %s=%s", name, macString(f.Uint()))
		case "EType", "TCPFlags", "TOS", "FlowLabel":
			fmt.Fprintf(&sb, " %s=%#x", name, f.Interface())
		default:
			fmt.Fprintf(&sb, " %s=%v", name, f.Interface())
		}
	}
	if err != nil {
		fmt.Fprintf(&sb, " err=%q", err)
	}
	return strings.TrimSpace(sb.String())
}

func macString(m uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], m)
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[2], b[3], b[4], b[5], b[6], b[7])
}

func TestParseCaptures(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			link, pkts := readPcap(t, filepath.Join("testdata", name))
			var got bytes.Buffer
			var h Header
			for i, p := range pkts {
				err := Parse(link, p, &h)
				if err != nil {
					t.Errorf("frame %d: %v", i+1, err)
				}
				fmt.Fprintf(&got, "%d %s\n", i+1, describe(&h, err))
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".pcap")+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(got.String(), string(want)); diff != "" {
				t.Errorf("%s (-got +want):\n%s", golden, diff)
			}
		})
	}
}

// tsharkFields are the Wireshark fields the cross-check reads, in order.
var tsharkFields = []string{
	"eth.src", "eth.dst", "ieee8021ad.id", "vlan.id", "mpls.label", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
	"ip.ttl", "ipv6.hlim", "ip.dsfield", "ipv6.tclass", "ip.len", "ipv6.plen", "ipv6.flow",
	"ip.id", "ip.frag_offset", "ip.flags.mf", "ip.flags.df",
	"ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
	"ip.proto", "ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.dstopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt", "ah.next_header",
	"tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
	"icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
}

// TestParseCapturesAgainstTshark checks every capture against Wireshark's
// dissectors, field by field.
func TestParseCapturesAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/setup.sh test installs it)")
	}
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			link, pkts := readPcap(t, path)
			compareTshark(t, path, link, pkts, nil)
		})
	}
}

// TestParseCasesAgainstTshark writes the handwritten cases that parse
// without error to pcap files and checks them against Wireshark too: an
// independent reading of VLAN, QinQ, MPLS, PPPoE, extension-header and
// fragment layouts the captures lack.
func TestParseCasesAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/setup.sh test installs it)")
	}
	byLink := map[LinkType]uint32{LinkEthernet: 1, LinkIP: 101, LinkIPv4: 101, LinkIPv6: 101}
	groups := map[uint32][]parseCase{}
	for _, tc := range parseCases() {
		if lt, ok := byLink[tc.link]; ok && tc.wantErr == nil {
			groups[lt] = append(groups[lt], tc)
		}
	}
	for lt, cases := range groups {
		t.Run(fmt.Sprint("linktype-", lt), func(t *testing.T) {
			buf := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
			buf = binary.LittleEndian.AppendUint16(buf, 2)
			buf = binary.LittleEndian.AppendUint16(buf, 4)
			buf = append(buf, make([]byte, 8)...)
			buf = binary.LittleEndian.AppendUint32(buf, 65535)
			buf = binary.LittleEndian.AppendUint32(buf, lt)
			var pkts [][]byte
			var names []string
			for i, tc := range cases {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(1700000000+i))
				buf = binary.LittleEndian.AppendUint32(buf, 0)
				buf = binary.LittleEndian.AppendUint32(buf, uint32(len(tc.data)))
				buf = binary.LittleEndian.AppendUint32(buf, uint32(len(tc.data)))
				buf = append(buf, tc.data...)
				pkts = append(pkts, tc.data)
				names = append(names, tc.name)
			}
			path := filepath.Join(t.TempDir(), "cases.pcap")
			if err := os.WriteFile(path, buf, 0o644); err != nil {
				t.Fatal(err)
			}
			link := LinkEthernet
			if lt == 101 {
				link = LinkIP
			}
			compareTshark(t, path, link, pkts, names)
		})
	}
}

// compareTshark dissects the pcap at path with tshark and compares each
// frame's fields with Parse's. names label the frames in errors (nil: their
// numbers).
func compareTshark(t *testing.T, path string, link LinkType, pkts [][]byte, names []string) {
	t.Helper()
	args := []string{"-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(pkts) {
		t.Fatalf("tshark printed %d lines for %d frames", len(lines), len(pkts))
	}
	var h Header
	for i, line := range lines {
		vals := strings.Split(line, "\t")
		ws := map[string][]string{}
		for j, f := range tsharkFields {
			if j < len(vals) && vals[j] != "" {
				ws[f] = strings.Split(vals[j], ",")
			}
		}
		frame := fmt.Sprint("frame ", i+1)
		if names != nil {
			frame = names[i]
		}
		_ = Parse(link, pkts[i], &h)
		for field, pair := range tsharkView(&h, ws) {
			if pair[0] != pair[1] {
				t.Errorf("%s %s: got %s, tshark %s", frame, field, pair[0], pair[1])
			}
		}
	}
}

// tsharkView pairs each of h's fields with the value tshark reports for it,
// both as strings in the same notation.
func tsharkView(h *Header, all map[string][]string) map[string][2]string {
	// The outermost header's value: the first occurrence.
	ws := map[string]string{}
	for k, v := range all {
		ws[k] = v[0]
	}
	// VLAN ids, outermost first: an 802.1ad service tag is its own field.
	tags := append(append([]string{}, all["ieee8021ad.id"]...), all["vlan.id"]...)
	tag := func(n int) string {
		if len(tags) > n {
			return tags[n]
		}
		return ""
	}
	num := func(s string) string {
		if s == "" {
			return "0"
		}
		if s == "True" {
			return "1"
		}
		if s == "False" {
			return "0"
		}
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return "bad:" + s
		}
		return strconv.FormatUint(v, 10)
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if ws[k] != "" {
				return ws[k]
			}
		}
		return ""
	}
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	mac := func(m uint64) string {
		if h.Layers&LayerEthernet == 0 {
			return ""
		}
		return macString(m)
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	// The upper-layer protocol: IPv4's, or for IPv6 the one Next Header
	// value of the chain that is not an extension header (tshark has a
	// field per extension header kind, so their order is not known).
	lastNext := func() string {
		if p := ws["ip.proto"]; p != "" {
			return p
		}
		var last string
		for _, f := range []string{"ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.dstopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt", "ah.next_header"} {
			for _, v := range all[f] {
				switch num(v) {
				case "0", "43", "44", "51", "60":
					last = v
				default:
					return v
				}
			}
		}
		return last
	}
	ipLen := num(ws["ip.len"])
	if pl := ws["ipv6.plen"]; pl != "" && pl != "0" { // 0: jumbogram, length unknown
		v, _ := strconv.ParseUint(pl, 0, 32)
		ipLen = u(v + 40)
	}
	return map[string][2]string{
		"SrcMAC":        {mac(h.SrcMAC), ws["eth.src"]},
		"VLAN":          {u(uint64(h.VLAN)), num(tag(0))},
		"InnerVLAN":     {u(uint64(h.InnerVLAN)), num(tag(1))},
		"MPLSTopLabel":  {u(uint64(h.MPLSTopLabel)), num(ws["mpls.label"])},
		"MPLSLabels":    {u(uint64(h.MPLSLabels)), u(uint64(len(all["mpls.label"])))},
		"DstMAC":        {mac(h.DstMAC), ws["eth.dst"]},
		"SrcAddr":       {addr(h.SrcAddr), first("ip.src", "ipv6.src")},
		"DstAddr":       {addr(h.DstAddr), first("ip.dst", "ipv6.dst")},
		"TTL":           {u(uint64(h.TTL)), num(first("ip.ttl", "ipv6.hlim"))},
		"TOS":           {u(uint64(h.TOS)), num(first("ip.dsfield", "ipv6.tclass"))},
		"IPLength":      {u(uint64(h.IPLength)), ipLen},
		"FlowLabel":     {u(uint64(h.FlowLabel)), num(ws["ipv6.flow"])},
		"FragID":        {u(uint64(h.FragID)), num(first("ip.id", "ipv6.fraghdr.ident"))},
		"FragOffset":    {u(uint64(h.FragOffset)), num(first("ip.frag_offset", "ipv6.fraghdr.offset"))},
		"MoreFragments": {b(h.MoreFragments), num(first("ip.flags.mf", "ipv6.fraghdr.more"))},
		"DontFragment":  {b(h.DontFragment), num(ws["ip.flags.df"])},
		"Proto":         {u(uint64(h.Proto)), num(lastNext())},
		"SrcPort":       {u(uint64(h.SrcPort)), num(first("tcp.srcport", "udp.srcport"))},
		"DstPort":       {u(uint64(h.DstPort)), num(first("tcp.dstport", "udp.dstport"))},
		"TCPFlags":      {u(uint64(h.TCPFlags)), num(ws["tcp.flags"])},
		"ICMPType":      {u(uint64(h.ICMPType)), num(first("icmp.type", "icmpv6.type"))},
		"ICMPCode":      {u(uint64(h.ICMPCode)), num(first("icmp.code", "icmpv6.code"))},
	}
}
