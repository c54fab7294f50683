package packet

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

const (
	macA  = "00:11:22:33:44:55"
	macB  = "66:77:88:99:aa:bb"
	macAi = 0x001122334455
	macBi = 0x66778899aabb
)

type parseCase struct {
	name    string
	link    LinkType
	data    []byte
	want    Header
	wantErr error
}

func parseCases() []parseCase {
	tcp4 := v4{id: 0x1234, df: true, ttl: 64, proto: 6, src: "192.0.2.1", dst: "198.51.100.7", tos: 0xb8, payloadSize: 20 + 80}
	tcp4Want := Header{
		Layers: LayerEthernet | LayerIPv4 | LayerL4, DstMAC: macAi, SrcMAC: macBi, EType: 0x0800,
		L3Offset: 14, L4Offset: 34, SrcAddr: ip("192.0.2.1"), DstAddr: ip("198.51.100.7"), Proto: 6,
		TOS: 0xb8, TTL: 64, IPLength: 120, FragID: 0x1234, DontFragment: true,
		SrcPort: 40000, DstPort: 443, TCPFlags: 0x018,
	}
	udp6 := v6{tc: 0x2e, flow: 0xabcde, payloadSize: 8 + 100, next: 17, hlim: 57, src: "2001:db8::1", dst: "2001:db8:ff::53"}
	udp6Want := func(l3 uint16, l Layer) Header {
		return Header{
			Layers: l | LayerIPv6 | LayerL4, EType: 0x86dd, L3Offset: l3, L4Offset: l3 + 40,
			SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8:ff::53"), Proto: 17, TOS: 0x2e, TTL: 57,
			IPLength: 148, FlowLabel: 0xabcde, SrcPort: 5353, DstPort: 53,
		}
	}
	with := func(h Header, f func(*Header)) Header { f(&h); return h }

	return []parseCase{
		{
			name: "ethernet ipv4 tcp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), u16(0x0800), tcp4.bytes(), tcp(40000, 443, 0x018), zeros(80)),
			want: tcp4Want,
		},
		{
			name: "ethernet 802.1q ipv4 tcp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), tag(0x8100, 5, 100), u16(0x0800), tcp4.bytes(), tcp(40000, 443, 0x018)),
			want: with(tcp4Want, func(h *Header) {
				h.Layers |= LayerVLAN
				h.VLAN, h.VLANPriority, h.VLANTags = 100, 5, 1
				h.L3Offset, h.L4Offset = 18, 38
			}),
		},
		{
			name: "ethernet qinq 802.1ad ipv6 udp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), tag(0x88a8, 3, 2000), tag(0x8100, 0, 42), u16(0x86dd), udp6.bytes(), udp(5353, 53, 100)),
			want: with(udp6Want(22, LayerEthernet|LayerVLAN), func(h *Header) {
				h.DstMAC, h.SrcMAC = macAi, macBi
				h.VLAN, h.VLANPriority, h.InnerVLAN, h.VLANTags = 2000, 3, 42, 2
			}),
		},
		{
			name: "ethernet qinq 0x9100 ipv4 tcp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), tag(0x9100, 1, 7), tag(0x8100, 0, 8), u16(0x0800), tcp4.bytes(), tcp(40000, 443, 0x018)),
			want: with(tcp4Want, func(h *Header) {
				h.Layers |= LayerVLAN
				h.VLAN, h.VLANPriority, h.InnerVLAN, h.VLANTags = 7, 1, 8, 2
				h.L3Offset, h.L4Offset = 22, 42
			}),
		},
		{
			name: "ethernet mpls two labels ipv4 tcp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), u16(0x8847), mplsEntry(16001, false, 255), mplsEntry(24005, true, 255), tcp4.bytes(), tcp(40000, 443, 0x018)),
			want: with(tcp4Want, func(h *Header) {
				h.Layers |= LayerMPLS
				h.MPLSLabels, h.MPLSTopLabel = 2, 16001
				h.L3Offset, h.L4Offset = 22, 42
			}),
		},
		{
			name: "ethernet vlan mpls multicast ipv6 icmpv6",
			link: LinkEthernet,
			data: cat(eth(macA, macB), tag(0x8100, 0, 10), u16(0x8848), mplsEntry(1048575, true, 1),
				v6{payloadSize: 8, next: 58, hlim: 255, src: "fe80::1", dst: "ff02::1"}.bytes(), icmp(134, 0)),
			want: Header{
				Layers: LayerEthernet | LayerVLAN | LayerMPLS | LayerIPv6 | LayerL4, DstMAC: macAi, SrcMAC: macBi,
				VLAN: 10, VLANTags: 1, MPLSLabels: 1, MPLSTopLabel: 1048575, EType: 0x86dd, L3Offset: 22, L4Offset: 62,
				SrcAddr: ip("fe80::1"), DstAddr: ip("ff02::1"), Proto: 58, TTL: 255, IPLength: 48, ICMPType: 134,
			},
		},
		{
			name: "ethernet mpls pseudowire control word stops",
			link: LinkEthernet,
			data: cat(eth(macA, macB), u16(0x8847), mplsEntry(300, true, 64), zeros(4), eth(macB, macA), u16(0x0800)),
			want: Header{Layers: LayerEthernet | LayerMPLS, DstMAC: macAi, SrcMAC: macBi, EType: 0x8847, MPLSLabels: 1, MPLSTopLabel: 300},
		},
		{
			name: "ethernet arp",
			link: LinkEthernet,
			data: cat(eth("ff:ff:ff:ff:ff:ff", macB), u16(0x0806), zeros(28)),
			want: Header{Layers: LayerEthernet, DstMAC: 0xffffffffffff, SrcMAC: macBi, EType: 0x0806},
		},
		{
			name: "ethernet 802.3 length field",
			link: LinkEthernet,
			data: cat(eth("01:80:c2:00:00:00", macB), u16(38), []byte{0x42, 0x42, 0x03}, zeros(35)),
			want: Header{Layers: LayerEthernet, DstMAC: 0x0180c2000000, SrcMAC: macBi},
		},
		{
			name: "ethernet pppoe ipv4 udp",
			link: LinkEthernet,
			data: cat(eth(macA, macB), u16(0x8864), []byte{0x11, 0x00, 0x00, 0x2a, 0x00, 0x24}, u16(0x0021),
				v4{ttl: 63, proto: 17, src: "203.0.113.9", dst: "192.0.2.53", payloadSize: 8}.bytes(), udp(33333, 53, 0)),
			want: Header{
				Layers: LayerEthernet | LayerPPPoE | LayerIPv4 | LayerL4, DstMAC: macAi, SrcMAC: macBi, EType: 0x0800,
				L3Offset: 22, L4Offset: 42, SrcAddr: ip("203.0.113.9"), DstAddr: ip("192.0.2.53"), Proto: 17, TTL: 63,
				IPLength: 28, SrcPort: 33333, DstPort: 53,
			},
		},
		{
			name: "mpls link ipv4 udp",
			link: LinkMPLS,
			data: cat(mplsEntry(299776, false, 64), mplsEntry(16, true, 64),
				v4{ttl: 63, proto: 17, src: "203.0.113.9", dst: "192.0.2.53", payloadSize: 8}.bytes(), udp(33333, 53, 0)),
			want: Header{
				Layers: LayerMPLS | LayerIPv4 | LayerL4, MPLSLabels: 2, MPLSTopLabel: 299776, EType: 0x0800,
				L3Offset: 8, L4Offset: 28, SrcAddr: ip("203.0.113.9"), DstAddr: ip("192.0.2.53"), Proto: 17, TTL: 63,
				IPLength: 28, SrcPort: 33333, DstPort: 53,
			},
		},
		{
			name: "ppp link with address and control ipv6",
			link: LinkPPP,
			data: cat([]byte{0xff, 0x03}, u16(0x0057), udp6.bytes(), udp(5353, 53, 100)),
			want: udp6Want(4, 0),
		},
		{
			name: "ppp link compressed protocol ipv4",
			link: LinkPPP,
			data: cat([]byte{0x21}, v4{ttl: 63, proto: 17, src: "203.0.113.9", dst: "192.0.2.53", payloadSize: 8}.bytes(), udp(33333, 53, 0)),
			want: Header{
				Layers: LayerIPv4 | LayerL4, EType: 0x0800, L3Offset: 1, L4Offset: 21, SrcAddr: ip("203.0.113.9"), DstAddr: ip("192.0.2.53"),
				Proto: 17, TTL: 63, IPLength: 28, SrcPort: 33333, DstPort: 53,
			},
		},
		{
			name: "ppp link control protocol",
			link: LinkPPP,
			data: cat([]byte{0xff, 0x03}, u16(0xc021), zeros(16)),
			want: Header{},
		},
		{
			name: "raw ipv4 icmp echo",
			link: LinkIPv4,
			data: cat(v4{id: 9, ttl: 64, proto: 1, src: "100.64.0.1", dst: "100.64.0.2", payloadSize: 64}.bytes(), icmp(8, 0), zeros(56)),
			want: Header{
				Layers: LayerIPv4 | LayerL4, EType: 0x0800, L4Offset: 20, SrcAddr: ip("100.64.0.1"), DstAddr: ip("100.64.0.2"),
				Proto: 1, TTL: 64, IPLength: 84, FragID: 9, ICMPType: 8,
			},
		},
		{
			name: "raw ipv6 udp",
			link: LinkIPv6,
			data: cat(udp6.bytes(), udp(5353, 53, 100)),
			want: udp6Want(0, 0),
		},
		{
			name: "ip nibble picks ipv4",
			link: LinkIP,
			data: cat(tcp4.bytes(), tcp(40000, 443, 0x018)),
			want: with(tcp4Want, func(h *Header) {
				h.Layers &^= LayerEthernet
				h.DstMAC, h.SrcMAC, h.L3Offset, h.L4Offset = 0, 0, 0, 20
			}),
		},
		{
			name: "ip nibble picks ipv6",
			link: LinkIP,
			data: cat(udp6.bytes(), udp(5353, 53, 100)),
			want: udp6Want(0, 0),
		},
		{
			name:    "ip nibble neither",
			link:    LinkIP,
			data:    cat([]byte{0x50}, zeros(39)),
			wantErr: ErrIPVersion,
		},
		{
			name:    "raw ipv4 link given ipv6",
			link:    LinkIPv4,
			data:    cat(udp6.bytes(), udp(5353, 53, 100)),
			want:    Header{EType: 0x0800},
			wantErr: ErrIPVersion,
		},
		{
			name:    "unknown link",
			link:    LinkType(99),
			data:    zeros(64),
			wantErr: ErrUnknownLink,
		},
		{
			name: "ipv4 with options",
			link: LinkIPv4,
			data: cat(v4{ttl: 1, proto: 6, src: "10.0.0.1", dst: "10.0.0.2", options: []byte{0x94, 0x04, 0, 0}, payloadSize: 20}.bytes(), tcp(1, 2, 0x002)),
			want: Header{
				Layers: LayerIPv4 | LayerL4, EType: 0x0800, L4Offset: 24, SrcAddr: ip("10.0.0.1"), DstAddr: ip("10.0.0.2"),
				Proto: 6, TTL: 1, IPLength: 44, SrcPort: 1, DstPort: 2, TCPFlags: 0x002,
			},
		},
		{
			name: "ipv4 first fragment keeps ports",
			link: LinkIPv4,
			data: cat(v4{id: 77, mf: true, ttl: 64, proto: 17, src: "10.0.0.1", dst: "10.0.0.2", payloadSize: 1480}.bytes(), udp(4000, 4001, 3000)),
			want: Header{
				Layers: LayerIPv4 | LayerFragment | LayerL4, EType: 0x0800, L4Offset: 20, SrcAddr: ip("10.0.0.1"), DstAddr: ip("10.0.0.2"),
				Proto: 17, TTL: 64, IPLength: 1500, FragID: 77, MoreFragments: true, SrcPort: 4000, DstPort: 4001,
			},
		},
		{
			name: "ipv4 non-first fragment has no ports",
			link: LinkIPv4,
			data: cat(v4{id: 77, fragOffset: 185, ttl: 64, proto: 17, src: "10.0.0.1", dst: "10.0.0.2", payloadSize: 1528}.bytes(), zeros(100)),
			want: Header{
				Layers: LayerIPv4 | LayerFragment, EType: 0x0800, SrcAddr: ip("10.0.0.1"), DstAddr: ip("10.0.0.2"),
				Proto: 17, TTL: 64, IPLength: 1548, FragID: 77, FragOffset: 185,
			},
		},
		{
			name: "ipv6 hop-by-hop, destination options, routing, tcp",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 8 + 16 + 24 + 20, next: 0, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(),
				ext6(60, 0), ext6(43, 1), ext6(6, 2), tcp(22, 50000, 0x010)),
			want: Header{
				Layers: LayerIPv6 | LayerL4, EType: 0x86dd, L4Offset: 88, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 6, TTL: 64, IPLength: 108, SrcPort: 22, DstPort: 50000, TCPFlags: 0x010,
			},
		},
		{
			name: "ipv6 first fragment keeps ports",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 1240, next: 44, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(), frag6(17, 0, true, 0xdeadbeef), udp(7000, 7001, 3000)),
			want: Header{
				Layers: LayerIPv6 | LayerFragment | LayerL4, EType: 0x86dd, L4Offset: 48, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 17, TTL: 64, IPLength: 1280, FragID: 0xdeadbeef, MoreFragments: true, SrcPort: 7000, DstPort: 7001,
			},
		},
		{
			name: "ipv6 non-first fragment has no ports",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 800, next: 0, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(), ext6(44, 0), frag6(17, 154, false, 0xdeadbeef), zeros(64)),
			want: Header{
				Layers: LayerIPv6 | LayerFragment, EType: 0x86dd, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 17, TTL: 64, IPLength: 840, FragID: 0xdeadbeef, FragOffset: 154,
			},
		},
		{
			name: "ipv6 authentication header tcp",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 44, next: 51, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(), ah6(6), tcp(179, 33000, 0x018)),
			want: Header{
				Layers: LayerIPv6 | LayerL4, EType: 0x86dd, L4Offset: 64, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 6, TTL: 64, IPLength: 84, SrcPort: 179, DstPort: 33000, TCPFlags: 0x018,
			},
		},
		{
			name: "ipv6 esp stops",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 100, next: 50, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(), zeros(100)),
			want: Header{
				Layers: LayerIPv6, EType: 0x86dd, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 50, TTL: 64, IPLength: 140,
			},
		},
		{
			name: "ipv6 jumbogram has no length",
			link: LinkIPv6,
			data: cat(v6{payloadSize: 0, next: 59, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes()),
			want: Header{
				Layers: LayerIPv6, EType: 0x86dd, SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"),
				Proto: 59, TTL: 64,
			},
		},
		{
			name: "tcp with ecn and ae flags",
			link: LinkIPv4,
			data: cat(tcp4.bytes(), tcp(40000, 443, 0x1c2)),
			want: with(tcp4Want, func(h *Header) {
				h.Layers &^= LayerEthernet
				h.DstMAC, h.SrcMAC, h.L3Offset, h.L4Offset, h.TCPFlags = 0, 0, 0, 20, 0x1c2
			}),
		},
		{
			name:    "ethernet shorter than the addresses",
			link:    LinkEthernet,
			data:    zeros(11),
			wantErr: ErrTruncated,
		},
		{
			name: "tcp cut before the flags",
			link: LinkIPv4,
			data: cat(tcp4.bytes(), tcp(40000, 443, 0x018)[:10]),
			want: with(tcp4Want, func(h *Header) {
				h.Layers &^= LayerEthernet
				h.DstMAC, h.SrcMAC, h.L3Offset, h.L4Offset, h.TCPFlags = 0, 0, 0, 20, 0
			}),
			wantErr: ErrTruncated,
		},
		{
			name: "ipv6 cut inside an extension header",
			link: LinkEthernet,
			data: cat(eth(macA, macB), u16(0x86dd), v6{payloadSize: 300, next: 0, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}.bytes(), ext6(60, 8), ext6(17, 30)[:40]),
			want: Header{
				Layers: LayerEthernet | LayerIPv6, DstMAC: macAi, SrcMAC: macBi, EType: 0x86dd, L3Offset: 14, L4Offset: 374,
				SrcAddr: ip("2001:db8::1"), DstAddr: ip("2001:db8::2"), Proto: 17, TTL: 64, IPLength: 340,
			},
			wantErr: ErrTruncated,
		},
		{
			name: "ipv4 header length below 20",
			link: LinkIPv4,
			data: func() []byte {
				b := v4{ttl: 9, proto: 6, src: "10.0.0.1", dst: "10.0.0.2"}.bytes()
				b[0] = 0x44
				return cat(b, tcp(1, 2, 0))
			}(),
			want:    Header{Layers: LayerIPv4, EType: 0x0800, SrcAddr: ip("10.0.0.1"), DstAddr: ip("10.0.0.2"), Proto: 6, TTL: 9, IPLength: 20},
			wantErr: ErrMalformed,
		},
		{
			name: "too many vlan tags",
			link: LinkEthernet,
			data: cat(eth(macA, macB), tag(0x88a8, 0, 1), tag(0x8100, 0, 2), tag(0x8100, 0, 3), tag(0x8100, 0, 4), tag(0x8100, 0, 5), u16(0x0800)),
			want: Header{
				Layers: LayerEthernet | LayerVLAN, DstMAC: macAi, SrcMAC: macBi, VLAN: 1, InnerVLAN: 2, VLANTags: 4, EType: 0x8100,
			},
			wantErr: ErrTooDeep,
		},
		{
			name: "mpls stack without bottom",
			link: LinkEthernet,
			data: func() []byte {
				b := cat(eth(macA, macB), u16(0x8847))
				for range MaxMPLSDepth + 1 {
					b = append(b, mplsEntry(17, false, 1)...)
				}
				return b
			}(),
			want:    Header{Layers: LayerEthernet | LayerMPLS, DstMAC: macAi, SrcMAC: macBi, EType: 0x8847, MPLSLabels: MaxMPLSDepth, MPLSTopLabel: 17},
			wantErr: ErrTooDeep,
		},
		{
			name: "ipv6 extension header chain too long",
			link: LinkIPv6,
			data: func() []byte {
				b := v6{payloadSize: 200, next: 60, hlim: 64, src: "::1", dst: "::1"}.bytes()
				for range MaxIPv6Ext + 1 {
					b = append(b, ext6(60, 0)...)
				}
				return b
			}(),
			want:    Header{Layers: LayerIPv6, EType: 0x86dd, SrcAddr: ip("::1"), DstAddr: ip("::1"), Proto: 60, TTL: 64, IPLength: 240},
			wantErr: ErrTooDeep,
		},
	}
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			var got Header
			err := Parse(tc.link, tc.data, &got)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse() error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(got, tc.want, cmpAddr); diff != "" {
				t.Errorf("Parse() (-got +want):\n%s", diff)
			}
		})
	}
}

// TestParseTruncated cuts every case at every length: a prefix either parses
// to the same header as the whole data, or reports an error and sets only
// fields that agree with the whole parse (truncation never invents values).
// EType and Proto are exempt: cut inside a tag or an extension header they
// hold the last type seen, as documented. Tag and label counts may be lower.
func TestParseTruncated(t *testing.T) {
	for _, tc := range parseCases() {
		if tc.wantErr != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var full, got Header
			if err := Parse(tc.link, tc.data, &full); err != nil {
				t.Fatal(err)
			}
			for n := range len(tc.data) {
				err := Parse(tc.link, tc.data[:n], &got)
				if err == nil {
					if diff := cmp.Diff(got, full, cmpAddr); diff != "" {
						t.Fatalf("prefix %d parsed without error but differs (-got +want):\n%s", n, diff)
					}
					continue
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d: error %v, want ErrTruncated", n, err)
				}
				if got.Layers&^full.Layers != 0 {
					t.Fatalf("prefix %d: layers %b not within %b", n, got.Layers, full.Layers)
				}
				gv, fv := reflect.ValueOf(got), reflect.ValueOf(full)
				for i := range gv.NumField() {
					name := gv.Type().Field(i).Name
					switch {
					case name == "Layers" || name == "EType" || name == "Proto" || gv.Field(i).IsZero():
						continue
					case name == "VLANTags" || name == "MPLSLabels":
						if gv.Field(i).Uint() > fv.Field(i).Uint() {
							t.Fatalf("prefix %d: %s = %v, more than the whole packet's %v", n, name, gv.Field(i), fv.Field(i))
						}
						continue
					}
					if gv.Field(i).Interface() != fv.Field(i).Interface() {
						t.Fatalf("prefix %d: %s = %v, whole packet has %v", n, name, gv.Field(i), fv.Field(i))
					}
				}
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	var h Header
	for _, tc := range parseCases() {
		if n := testing.AllocsPerRun(100, func() { _ = Parse(tc.link, tc.data, &h) }); n != 0 {
			t.Errorf("%s: %v allocations per Parse, want 0", tc.name, n)
		}
	}
}
