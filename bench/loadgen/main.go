// Command loadgen offers a collector a steady load of realistic sFlow v5 or
// NetFlow v9 datagrams over UDP, paced at a number of flows per second, for
// a bounded time, and reports exactly what it sent.
//
// sFlow: datagrams of at most 1232 bytes built with the sflow package from
// several agents (IPv4 and IPv6 agent addresses), each a run of expanded
// flow samples with a 128-byte sampled Ethernet/IPv4 or IPv6/TCP or UDP
// header (varied addresses, ports, sizes), hostflow's process record on a
// share of them, and now and then an interface or host counter sample.
// NetFlow v9: per exporter (source ID), a template packet for an IPv4 and an
// IPv6 template, sent first and refreshed periodically, and data packets of
// about 28 IPv4/IPv6 records (1400 bytes).
//
// Datagrams are built once into a pool and cycled; the send loop only
// writes each datagram's sequence number and clocks (consecutive per
// stream, as a real exporter would) and sends batches with sendmmsg from
// several sockets bound to distinct loopback source addresses (distinct
// exporters to the collector).
//
//	go build -o /tmp/loadgen ./bench/loadgen
//	taskset -c 0 /tmp/loadgen -proto sflow -dst 127.0.0.1:6343 -rate 500000 -duration 10s
//
// The last line on standard output is the report, key=value pairs:
//
//	proto=sflow target=500000 elapsed=10.000 datagrams=… flows=… rate=… counters=… packets=… bytes=… templates=… errors=… cpu=…
//
// flows are flow samples (sFlow) or flow records (NetFlow) in datagrams the
// kernel accepted; rate is flows per second over the sending time; cpu is
// the generator's own CPU time (user + system), which on loopback includes
// part of the kernel's delivery work (see docs/benchmarks.md).
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"
)

const (
	protoSFlow   = "sflow"
	protoNetFlow = "netflow"
)

// maxDuration bounds a run: the generator is a benchmark tool on shared
// machines, never a daemon.
const maxDuration = 10 * time.Minute

type options struct {
	proto         string
	dst           netip.AddrPort
	src           netip.Addr
	rate          float64
	duration      time.Duration
	sockets       int
	poolSize      int
	batch         int
	seed          uint64
	streams       int
	processShare  float64
	counterEvery  int
	ipv6Share     float64
	maxSize       int
	templateEvery time.Duration
	hosts         int
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	o := &options{}
	dst := fs.String("dst", "127.0.0.1:6343", "collector address (host:port)")
	src := fs.String("src", "", "first source address; socket i binds to it plus i (default 127.0.0.2 for an IPv4 destination, ::1 for IPv6)")
	fs.StringVar(&o.proto, "proto", protoSFlow, "sflow or netflow (NetFlow v9)")
	fs.Float64Var(&o.rate, "rate", 100_000, "flows per second to offer (0: as fast as possible)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (at most 10m)")
	fs.IntVar(&o.sockets, "sockets", 4, "sending sockets, each its own source address")
	fs.IntVar(&o.poolSize, "pool", 8192, "pre-built data datagrams, cycled")
	fs.IntVar(&o.batch, "batch", 64, "largest number of datagrams per sendmmsg call")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the generated flows")
	fs.IntVar(&o.streams, "streams", 8, "sFlow agents or NetFlow exporters (source IDs), spread over the sockets")
	fs.Float64Var(&o.processShare, "process-share", 0.5, "sFlow: share of flow samples carrying hostflow's process record")
	fs.IntVar(&o.counterEvery, "counter-every", 50, "sFlow: an interface counter sample every this many flow samples per agent (a host sample every 5 of them); 0 none")
	fs.Float64Var(&o.ipv6Share, "ipv6-share", 0.3, "share of IPv6 flows")
	fs.IntVar(&o.maxSize, "max-size", 0, "datagram size limit in bytes (default 1232 for sFlow, 1400 for NetFlow)")
	fs.DurationVar(&o.templateEvery, "template-interval", time.Second, "NetFlow: template refresh interval")
	fs.IntVar(&o.hosts, "hosts", 256, "local addresses in the generated flows")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.dst, err = netip.ParseAddrPort(*dst); err != nil {
		return nil, fmt.Errorf("-dst: %w", err)
	}
	o.dst = netip.AddrPortFrom(o.dst.Addr().Unmap(), o.dst.Port())
	switch {
	case *src != "":
		if o.src, err = netip.ParseAddr(*src); err != nil {
			return nil, fmt.Errorf("-src: %w", err)
		}
	case o.dst.Addr().Is4():
		o.src = netip.AddrFrom4([4]byte{127, 0, 0, 2})
	default:
		o.src = netip.IPv6Loopback()
	}
	if o.src.Is4() != o.dst.Addr().Is4() {
		return nil, fmt.Errorf("-src %s and -dst %s are not the same address family", o.src, o.dst)
	}
	switch {
	case o.proto != protoSFlow && o.proto != protoNetFlow:
		return nil, fmt.Errorf("-proto must be sflow or netflow, not %q", o.proto)
	case o.rate < 0:
		return nil, fmt.Errorf("-rate must not be negative")
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("-duration must be between 0 and %s", maxDuration)
	case o.sockets < 1 || o.sockets > 64:
		return nil, fmt.Errorf("-sockets must be between 1 and 64")
	case o.batch < 1 || o.batch > 1024:
		return nil, fmt.Errorf("-batch must be between 1 and 1024")
	case o.streams < o.sockets:
		return nil, fmt.Errorf("-streams (%d) must be at least -sockets (%d)", o.streams, o.sockets)
	case o.poolSize < o.sockets*o.batch || o.poolSize > 1<<20:
		return nil, fmt.Errorf("-pool must be between sockets × batch (%d) and %d", o.sockets*o.batch, 1<<20)
	case o.hosts < 1 || o.hosts > 65535:
		return nil, fmt.Errorf("-hosts must be between 1 and 65535")
	case o.processShare < 0 || o.processShare > 1, o.ipv6Share < 0 || o.ipv6Share > 1:
		return nil, fmt.Errorf("shares must be between 0 and 1")
	}
	if o.maxSize == 0 {
		o.maxSize = 1232
		if o.proto == protoNetFlow {
			o.maxSize = 1400
		}
	}
	return o, nil
}

func (o *options) build() (*pool, error) {
	if o.proto == protoNetFlow {
		return buildNetFlow(o.seed, o.sockets, o.poolSize, netflowOptions{
			exporters: o.streams, maxSize: o.maxSize, ipv6Share: o.ipv6Share, hosts: o.hosts})
	}
	return buildSFlow(o.seed, o.sockets, o.poolSize, sflowOptions{
		agents: o.streams, processShare: o.processShare, counterEvery: o.counterEvery,
		maxSize: o.maxSize, ipv6Share: o.ipv6Share, hosts: o.hosts})
}

// sourceAddr is socket i's source address: src plus i (IPv4), src (IPv6,
// where ::1 is the only loopback address).
func sourceAddr(src netip.Addr, i int) netip.Addr {
	if !src.Is4() {
		return src
	}
	a := src
	for range i {
		a = a.Next()
	}
	return a
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(o *options) error {
	p, err := o.build()
	if err != nil {
		return err
	}
	var all []*dgram
	for _, ds := range p.perSocket {
		all = append(all, ds...)
	}
	flows, ctrs, _, bytes := totals(all)
	perDatagram := float64(flows) / float64(len(all))
	fmt.Fprintf(os.Stderr, "loadgen: pool of %d %s datagrams, %.1f flows and %.0f bytes each on average, %d counter samples\n",
		len(all), o.proto, perDatagram, float64(bytes)/float64(len(all)), ctrs)

	pc := &pacer{rate: o.rate, duration: o.duration, templateEvery: o.templateEvery,
		batch: batchFor(o.rate, perDatagram, o.batch)}
	if o.proto != protoNetFlow {
		pc.templateEvery = 0
	}
	defer func() {
		for _, s := range pc.senders {
			s.close()
		}
	}()
	for i := range o.sockets {
		s, err := openSender(netip.AddrPortFrom(sourceAddr(o.src, i), 0), o.dst, o.batch)
		if err != nil {
			return err
		}
		s.datagrams, s.templates = p.perSocket[i], p.templates[i]
		pc.senders = append(pc.senders, s)
	}
	cpu0 := cpuTime()
	c, elapsed := pc.run()
	cpu := cpuTime() - cpu0
	if c.lastError != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %d send errors, the last: %v\n", c.errors, c.lastError)
	}
	secs := elapsed.Seconds()
	fmt.Printf("proto=%s target=%.0f elapsed=%.3f datagrams=%d flows=%d rate=%.0f counters=%d packets=%d bytes=%d templates=%d errors=%d cpu=%.3f\n",
		o.proto, o.rate, secs, c.datagrams, c.flows, float64(c.flows)/secs, c.counters, c.packets, c.bytes,
		c.templates, c.errors, cpu.Seconds())
	return nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
