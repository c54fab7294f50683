//go:build !notailnet

package tailnet

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hostflow/hostflow/agent/exporter"
)

// BenchmarkDatagrams measures what gets through tsnet: b.N datagrams of
// 1232 bytes from an agent node to a collector node over the direct path
// (127.0.0.1), paced by the tailnet transport at each rate, each write
// with a 100 ms deadline. Reported: datagrams offered (the pacer's actual
// rate) and delivered per second, loss and failed writes. Run with a
// fixed count, e.g. -benchtime=50000x.
func BenchmarkDatagrams(b *testing.B) {
	controlURL := startControl(b)
	col := startNode(b, controlURL, "collector", nil, nil)
	agent := startNode(b, controlURL, "agent", nil, nil)
	waitPeer(b, agent, col.Addrs()[0])
	port := uint16(7000)
	for _, fam := range []struct {
		name string
		addr netip.Addr
	}{{"ipv4", col.Addrs()[0]}, {"ipv6", col.Addrs()[1]}} {
		for _, rate := range []int{5000, 10000, 20000} {
			b.Run(fmt.Sprintf("%s/rate=%d", fam.name, rate), func(b *testing.B) {
				port++
				pcs, err := col.ListenPacket(port)
				if err != nil {
					b.Fatal(err)
				}
				var got atomic.Int64
				for _, pc := range pcs {
					defer pc.Close()
					go func() {
						buf := make([]byte, 2048)
						for {
							if _, _, err := pc.ReadFrom(buf); err != nil {
								return
							}
							got.Add(1)
						}
					}()
				}
				c, err := exporter.Tailnet{Node: agent, MaxRate: rate}.Dial(b.Context(), netip.AddrPortFrom(fam.addr, port).String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				payload := make([]byte, exporter.TailnetMaxDatagram)
				// Warm the path: the first handshake can take seconds.
				for got.Load() == 0 {
					_ = c.Write(payload, time.Now().Add(100*time.Millisecond))
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(200 * time.Millisecond)
				got.Store(0)
				failed := 0
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if err := c.Write(payload, time.Now().Add(100*time.Millisecond)); err != nil {
						failed++
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				// Stragglers: wait until the count stops moving.
				for last := int64(-1); last != got.Load(); {
					last = got.Load()
					time.Sleep(200 * time.Millisecond)
				}
				n := got.Load()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "offered/s")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "delivered/s")
				b.ReportMetric(100*float64(int64(b.N)-n)/float64(b.N), "loss_%")
				b.ReportMetric(float64(failed), "failed_writes")
			})
		}
	}
}
