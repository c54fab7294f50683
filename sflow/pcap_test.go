package sflow

// A minimal pcap writer for the tests, and a reader of the UDP datagrams
// of a capture (frames read by internal/pcapfile). The library itself has
// no pcap dependency.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"github.com/hostflow/hostflow/internal/pcapfile"
)

// pcapWriter writes an Ethernet pcap of UDP datagrams.
type pcapWriter struct {
	buf []byte
	n   int
}

func newPcapWriter() *pcapWriter {
	w := &pcapWriter{}
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0xa1b2c3d4)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, 2)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, 4)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0) // thiszone
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0) // sigfigs
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 65535)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, pcapfile.LinkEthernet)
	return w
}

// udp adds one UDP datagram from src to dst (same family) carrying payload.
func (w *pcapWriter) udp(src, dst netip.AddrPort, payload []byte) {
	var frame []byte
	frame = append(frame, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1)
	udpLen := 8 + len(payload)
	udp := binary.BigEndian.AppendUint16(nil, src.Port())
	udp = binary.BigEndian.AppendUint16(udp, dst.Port())
	udp = binary.BigEndian.AppendUint16(udp, uint16(udpLen))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	s, d := src.Addr(), dst.Addr()
	var pseudo []byte
	if s.Is4() {
		frame = binary.BigEndian.AppendUint16(frame, 0x0800)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+udpLen))
		ip = append(ip, s.AsSlice()...)
		ip = append(ip, d.AsSlice()...)
		binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
		frame = append(frame, ip...)
		pseudo = append(append(pseudo, s.AsSlice()...), d.AsSlice()...)
		pseudo = append(pseudo, 0, 17)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(udpLen))
	} else {
		frame = binary.BigEndian.AppendUint16(frame, 0x86dd)
		ip := []byte{0x60, 0, 0, 0, 0, 0, 17, 64}
		binary.BigEndian.PutUint16(ip[4:], uint16(udpLen))
		ip = append(ip, s.AsSlice()...)
		ip = append(ip, d.AsSlice()...)
		frame = append(frame, ip...)
		pseudo = append(append(pseudo, s.AsSlice()...), d.AsSlice()...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(udpLen))
		pseudo = append(pseudo, 0, 0, 0, 17)
	}
	sum := checksum(udp, sumWords(pseudo))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
	frame = append(frame, udp...)

	w.n++
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(1700000000+w.n))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(frame)))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(frame)))
	w.buf = append(w.buf, frame...)
}

func (w *pcapWriter) write(path string) error { return os.WriteFile(path, w.buf, 0o644) }

func sumWords(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func checksum(b []byte, initial uint32) uint16 {
	s := initial + sumWords(b)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// udpPayload is one UDP datagram read from a pcap.
type udpPayload struct {
	src, dst netip.AddrPort
	data     []byte
}

// readPcapUDP returns the UDP datagrams of a pcap file (Ethernet, raw IP or
// Linux cooked captures, either byte order, micro- or nanosecond stamps).
func readPcapUDP(path string) ([]udpPayload, error) {
	link, frames, err := pcapfile.Read(path)
	if err != nil {
		return nil, err
	}
	var out []udpPayload
	for _, f := range frames {
		pkt := f.Data
		var ethertype uint16
		switch link {
		case pcapfile.LinkEthernet:
			if len(pkt) < 14 {
				continue
			}
			ethertype, pkt = binary.BigEndian.Uint16(pkt[12:]), pkt[14:]
		case pcapfile.LinkLinuxSLL:
			if len(pkt) < 16 {
				continue
			}
			ethertype, pkt = binary.BigEndian.Uint16(pkt[14:]), pkt[16:]
		case pcapfile.LinkRaw:
			if len(pkt) > 0 && pkt[0]>>4 == 6 {
				ethertype = 0x86dd
			} else {
				ethertype = 0x0800
			}
		default:
			return nil, fmt.Errorf("%s: link type %d not supported", path, link)
		}
		var src, dst netip.Addr
		var l4 []byte
		switch {
		case ethertype == 0x0800 && len(pkt) >= 20 && pkt[9] == 17:
			ihl := int(pkt[0]&0xf) * 4
			src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
			if len(pkt) < ihl {
				continue
			}
			l4 = pkt[ihl:]
		case ethertype == 0x86dd && len(pkt) >= 40 && pkt[6] == 17:
			src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
			l4 = pkt[40:]
		default:
			continue
		}
		if len(l4) < 8 {
			continue
		}
		ulen := int(binary.BigEndian.Uint16(l4[4:]))
		if ulen < 8 || ulen > len(l4) {
			continue
		}
		out = append(out, udpPayload{
			src:  netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:])),
			dst:  netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:])),
			data: l4[8:ulen],
		})
	}
	return out, nil
}
