package packet

import (
	"syscall"
	"testing"
	"time"
)

// benchParse also reports process CPU time per parse (cpu-ns/op): on a
// shared machine wall-clock ns/op includes waiting for a core.
func benchParse(b *testing.B, link LinkType, data []byte) {
	var h Header
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	cpu0 := processCPU()
	for b.Loop() {
		if err := Parse(link, data, &h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A 128-byte sampled header, as hsflowd and the hostflow agent send.
func BenchmarkParseEthernetIPv4TCP(b *testing.B) {
	ip := v4{id: 1, df: true, ttl: 64, proto: 6, src: "192.0.2.1", dst: "198.51.100.7", payloadSize: 1400}
	data := cat(eth(macA, macB), u16(0x0800), ip.bytes(), tcp(40000, 443, 0x018), zeros(74))
	benchParse(b, LinkEthernet, data[:128])
}

func BenchmarkParseEthernetVLANIPv6UDP(b *testing.B) {
	ip := v6{payloadSize: 1200, next: 17, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}
	data := cat(eth(macA, macB), tag(0x8100, 0, 10), u16(0x86dd), ip.bytes(), udp(5000, 443, 1192), zeros(60))
	benchParse(b, LinkEthernet, data[:128])
}

func BenchmarkParseRawIPv6ExtTCP(b *testing.B) {
	ip := v6{payloadSize: 1200, next: 0, hlim: 64, src: "2001:db8::1", dst: "2001:db8::2"}
	data := cat(ip.bytes(), ext6(44, 0), frag6(6, 0, true, 5), tcp(40000, 443, 0x010), zeros(60))
	benchParse(b, LinkIP, data[:128])
}
