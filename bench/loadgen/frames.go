package main

import "encoding/binary"

// maxHeader is the sampled header length agents send by default (hsflowd,
// the hostflow agent): the first 128 bytes of the frame.
const maxHeader = 128

// appendFrame appends the first bytes of the Ethernet frame f describes, as
// an sFlow agent samples it: Ethernet, IPv4 or IPv6, TCP or UDP, then zero
// payload, cut at maxHeader bytes or at the end of the frame (FCS
// excluded). Lengths in the headers match f.frameLen; the IPv4 header
// checksum is valid.
func appendFrame(b []byte, f *flowSpec, srcMAC, dstMAC uint64) []byte {
	start := len(b)
	l2 := int(f.frameLen) - 4 // without the FCS
	b = binary.BigEndian.AppendUint16(b, uint16(dstMAC>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(dstMAC))
	b = binary.BigEndian.AppendUint16(b, uint16(srcMAC>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(srcMAC))
	ipLen := l2 - 14
	if f.src.Is4() {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := len(b)
		b = append(b, 0x45, f.tos)
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen))
		b = binary.BigEndian.AppendUint16(b, f.ipID)
		b = binary.BigEndian.AppendUint16(b, 0x4000) // DF
		b = append(b, f.ttl, f.proto, 0, 0)
		s, d := f.src.As4(), f.dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[ip+10:], ipChecksum(b[ip:ip+20]))
		ipLen -= 20
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		b = binary.BigEndian.AppendUint32(b, 6<<28|uint32(f.tos)<<20|f.flowLabel)
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen-40))
		b = append(b, f.proto, f.ttl)
		s, d := f.src.As16(), f.dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		ipLen -= 40
	}
	b = binary.BigEndian.AppendUint16(b, f.sport)
	b = binary.BigEndian.AppendUint16(b, f.dport)
	if f.proto == 6 {
		b = binary.BigEndian.AppendUint32(b, uint32(f.ipID)*7919)
		b = binary.BigEndian.AppendUint32(b, uint32(f.ipID)*104729)
		b = append(b, 5<<4, f.tcpFlags)
		b = binary.BigEndian.AppendUint16(b, 0xffff) // window
		b = append(b, 0, 0, 0, 0)                    // checksum, urgent pointer
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen))
		b = append(b, 0, 0) // checksum: optional over IPv4, not verified by collectors
	}
	want := min(maxHeader, l2)
	for len(b)-start < want {
		b = append(b, 0)
	}
	return b
}

// ipChecksum is the Internet checksum (RFC 1071) of an IPv4 header whose
// checksum field is zero.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
