package packet

import (
	"errors"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to every link type. The first byte picks
// the link type so one corpus covers them all.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases() {
		f.Add(append([]byte{byte(tc.link)}, tc.data...))
	}
	for _, name := range captures {
		link, pkts := readPcap(f, filepath.Join("testdata", name))
		for _, p := range pkts {
			f.Add(append([]byte{byte(link)}, p...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		link, data := LinkType(in[0]%7), in[1:]
		var h Header
		err := Parse(link, data, &h)
		checkHeader(t, link, data, &h, err)

		// Parsing into a dirty header gives the same result.
		dirty := Header{Layers: 0xffff, VLAN: 1, Proto: 1, SrcPort: 1, TCPFlags: 1, IPLength: 1}
		err2 := Parse(link, data, &dirty)
		if dirty != h || !errors.Is(err2, err) {
			t.Fatalf("second parse differs: %+v (%v) vs %+v (%v)", dirty, err2, h, err)
		}
	})
}

func checkHeader(t *testing.T, link LinkType, data []byte, h *Header, err error) {
	t.Helper()
	switch {
	case err == nil, errors.Is(err, ErrTruncated), errors.Is(err, ErrIPVersion),
		errors.Is(err, ErrMalformed), errors.Is(err, ErrTooDeep), errors.Is(err, ErrUnknownLink):
	default:
		t.Fatalf("unexpected error %v", err)
	}
	if h.Layers&LayerIPv4 != 0 && (!h.SrcAddr.Is4() || !h.DstAddr.Is4() || h.EType != ETypeIPv4) {
		t.Fatalf("IPv4 layer with %v %v etype %#x", h.SrcAddr, h.DstAddr, h.EType)
	}
	if h.Layers&LayerIPv6 != 0 && (!h.SrcAddr.Is6() || !h.DstAddr.Is6() || h.EType != ETypeIPv6) {
		t.Fatalf("IPv6 layer with %v %v etype %#x", h.SrcAddr, h.DstAddr, h.EType)
	}
	if h.Layers&(LayerIPv4|LayerIPv6) == 0 && (h.SrcAddr.IsValid() || h.L4Offset != 0) {
		t.Fatalf("addresses or L4 without an IP layer: %+v", h)
	}
	if h.Layers&LayerL4 != 0 && int(h.L4Offset)+2 > len(data) {
		t.Fatalf("L4 layer at %d beyond %d bytes", h.L4Offset, len(data))
	}
	if int(h.L3Offset) > len(data) {
		t.Fatalf("L3 offset %d beyond %d bytes", h.L3Offset, len(data))
	}
	if link != LinkEthernet && h.Layers&(LayerEthernet|LayerVLAN|LayerPPPoE) != 0 {
		t.Fatalf("L2 layers %b on link %d", h.Layers, link)
	}
	if err == nil && h.Layers&LayerL4 == 0 && h.L4Offset != 0 {
		// A complete parse either reads the L4 header or never reaches it.
		switch h.Proto {
		case ProtoTCP, ProtoUDP, ProtoSCTP, ProtoDCCP, ProtoUDPLite, ProtoICMP, ProtoICMPv6:
			t.Fatalf("complete parse of protocol %d without L4 fields", h.Proto)
		}
	}
}
