// Package agent is hostflow's host agent: it samples packets on the host's
// interfaces in the kernel (agent/sampler), attributes them to processes
// (agent/procmap), polls interface and host counters (agent/counters) and
// sends everything as sFlow v5 (agent/exporter).
package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hostflow/hostflow/agent/counters"
	"github.com/hostflow/hostflow/agent/exporter"
	"github.com/hostflow/hostflow/agent/procmap"
	"github.com/hostflow/hostflow/agent/sampler"
	"github.com/hostflow/hostflow/internal/daemon"
	"github.com/hostflow/hostflow/packet"
	"github.com/hostflow/hostflow/sflow"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the agent's collaborators.
type Deps struct {
	Reporter *daemon.Reporter
	// Transport carries datagrams to collectors (nil: plain UDP).
	Transport exporter.Transport
	// Addrs lists the addresses agent-interface and the automatic agent
	// address choose from (nil: the host's interfaces); an embedded
	// tailnet transport supplies its node's.
	Addrs func() ([]exporter.IfAddr, error)
}

// Agent wires samplers, counters, process attribution and the exporter.
type Agent struct {
	cfg  Config
	deps Deps
	r    *daemon.Reporter

	exp   *exporter.Exporter
	procs *procmap.Map
	// procMetrics are registered by New, the map opened by Start.
	procMetrics *procmap.Metrics
	links       *counters.Links
	stats       *counters.Stats // sample_pool reads
	host        *counters.Host

	samples  chan sampler.Sample
	ctx      context.Context
	cancel   context.CancelFunc
	loopWG   sync.WaitGroup
	workerWG sync.WaitGroup

	nflog    *sampler.NFLOG
	mu       sync.Mutex
	samplers map[int]*tap // by ifIndex
	linkList []counters.Link
	// tapFailed: selected interfaces the last rescan could not sample, for
	// the health check.
	tapFailed map[string]error

	queueDrops  prometheus.Counter
	notIP       prometheus.Counter
	attributed  *prometheus.CounterVec
	tapErrors   prometheus.Counter
	pollErrors  prometheus.Counter
	sampledPkts *prometheus.CounterVec
}

// tap is one sampled interface.
type tap struct {
	s      *sampler.Sampler
	name   string
	rate   uint32
	link   sampler.LinkType
	excl   []netip.AddrPort
	polled time.Time
}

// New validates cfg and builds an inert agent.
func New(cfg Config, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Reporter == nil {
		return nil, errors.New("agent: a reporter is required")
	}
	r := deps.Reporter.Sub("agent")
	exp, err := exporter.New(cfg.Config, exporter.Deps{Reporter: r, Transport: deps.Transport, Addrs: deps.Addrs})
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, deps: deps, r: r, exp: exp, links: counters.NewLinks(nil, ""), host: counters.NewHost(),
		samplers: map[int]*tap{}}
	if cfg.Process.Enabled {
		a.procMetrics = procmap.NewMetrics(r)
	}
	a.queueDrops = r.Counter("queue_drops_total", "Samples dropped because the attribution queue was full.")
	a.notIP = r.Counter("non_ip_samples_total", "Samples on IP-only (tun) devices that were not IP.")
	a.attributed = r.CounterVec("attributed_samples_total", "Flow samples by process attribution outcome.", "outcome")
	a.tapErrors = r.Counter("tap_errors_total", "Interfaces that could not be sampled.")
	a.pollErrors = r.Counter("poll_errors_total", "Counter polls that failed (in part).")
	a.sampledPkts = r.CounterVec("samples_total", "Flow samples taken, by interface.", "interface")
	r.RegisterHealth("sampling", a.health)
	return a, nil
}

// health fails while a selected interface cannot be sampled (a missing
// capability, most often): the agent keeps running for the others.
func (a *Agent) health() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tapFailed) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(a.tapFailed))
	return fmt.Errorf("cannot sample %d interface(s): %s: %w", len(names), names[0], a.tapFailed[names[0]])
}

// Start opens process attribution and the exporter, samples the selected
// interfaces and starts polling counters.
func (a *Agent) Start(ctx context.Context) error {
	a.ctx, a.cancel = context.WithCancel(ctx)
	if a.cfg.Process.Enabled {
		m, err := procmap.New(a.cfg.Process, procmap.Deps{Metrics: a.procMetrics})
		if err != nil {
			// Attribution is an extra: without sock_diag the agent still samples.
			a.r.Logger().Warn("process attribution disabled", "error", err)
		} else {
			a.procs = m
		}
	}
	stats, err := counters.NewStats()
	if err != nil {
		a.closeProcs()
		return err
	}
	a.stats = stats
	if err := a.exp.Start(a.ctx); err != nil {
		a.closeProcs()
		return err
	}
	a.samples = make(chan sampler.Sample, a.cfg.QueueSize)
	if err := a.rescan(); err != nil {
		_ = a.exp.Stop()
		a.closeProcs()
		return err
	}
	if err := a.startNFLOG(); err != nil {
		a.stopSamplers()
		_ = a.exp.Stop()
		a.closeProcs()
		return err
	}
	a.workerWG.Add(1)
	go a.worker()
	a.loopWG.Add(1)
	go a.loop()
	return nil
}

// Stop stops sampling, flushes and closes everything, in the order data
// flows: no more rescans, then samplers, then the worker, then the exporter.
func (a *Agent) Stop() error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.loopWG.Wait()
	errs := []error{a.stopSamplers()}
	close(a.samples)
	a.workerWG.Wait()
	errs = append(errs, a.exp.Stop())
	a.closeProcs()
	return errors.Join(errs...)
}

// stopSamplers stops every packet source.
func (a *Agent) stopSamplers() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for idx, t := range a.samplers {
		errs = append(errs, t.s.Stop())
		delete(a.samplers, idx)
	}
	if a.nflog != nil {
		errs = append(errs, a.nflog.Stop())
		a.nflog = nil
	}
	return errors.Join(errs...)
}

// startNFLOG starts the netfilter log source when configured.
func (a *Agent) startNFLOG() error {
	if a.cfg.NFLOG.Group == 0 {
		return nil
	}
	var src *sampler.NFLOG
	src, err := sampler.NewNFLOG(sampler.NFLOGConfig{Group: a.cfg.NFLOG.Group, Rate: a.cfg.NFLOG.Rate,
		SnapLen: uint32(a.cfg.HeaderBytes)}, a.handler("nflog", func() { src.AddDrops(1) }))
	if err != nil {
		return err
	}
	if err := src.Start(a.ctx); err != nil {
		return err
	}
	a.mu.Lock()
	a.nflog = src
	a.mu.Unlock()
	a.r.Logger().Info("sampling", "nflog-group", a.cfg.NFLOG.Group, "rate", a.cfg.NFLOG.Rate)
	return nil
}

// closeProcs releases the netlink sockets of attribution and counters.
func (a *Agent) closeProcs() {
	if a.procs != nil {
		_ = a.procs.Close()
	}
	if a.stats != nil {
		_ = a.stats.Close()
	}
}

// loop rescans interfaces and polls counters. Each data source's first poll
// comes within a few seconds (at a random point, so a fleet started together
// does not report in lockstep), so that a collector names the host and its
// interfaces right away; the next ones every interval, with ±5 % jitter.
func (a *Agent) loop() {
	defer a.loopWG.Done()
	rescan := time.NewTicker(a.cfg.Rescan)
	defer rescan.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var hostNext time.Time
	if a.cfg.Polling > 0 {
		hostNext = time.Now().Add(a.firstPoll())
	}
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-rescan.C:
			if err := a.rescan(); err != nil {
				a.r.Limited("rescan", "interface rescan failed", "error", err)
			}
		case now := <-tick.C:
			if a.cfg.Polling > 0 {
				a.poll(now, &hostNext)
			}
		}
	}
}

func randDuration(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d))) + 1 }

// firstPollWindow bounds the delay of a data source's first counter sample.
const firstPollWindow = 5 * time.Second

func (a *Agent) firstPoll() time.Duration { return randDuration(min(a.cfg.Polling, firstPollWindow)) }

func (a *Agent) nextPoll(now time.Time) time.Time {
	j := int64(a.cfg.Polling) / 20
	return now.Add(a.cfg.Polling + time.Duration(rand.Int64N(2*j+1)-j))
}

// rescan lists interfaces and starts or stops samplers to match the
// selection; a tap whose rate or link changed is restarted.
func (a *Agent) rescan() error {
	links, err := a.links.List()
	if err != nil {
		return err
	}
	excl := a.exp.Destinations()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.linkList = links
	a.tapFailed = map[string]error{}
	want := map[int]bool{}
	for i := range links {
		l := &links[i]
		if !a.cfg.selected(l.Name, l.Sampleable()) {
			continue
		}
		want[l.Index] = true
		rate := a.cfg.Sampling.Rate(l.Name, rateSpeed(l))
		lt := sampler.LinkEthernet
		if l.EncapType == "none" || l.EncapType == "rawip" {
			lt = sampler.LinkIP
		}
		if t, ok := a.samplers[l.Index]; ok {
			if t.rate == rate && t.link == lt && t.name == l.Name && slices.Equal(t.excl, excl) {
				continue
			}
			_ = t.s.Stop()
			delete(a.samplers, l.Index)
			a.exp.ResetSource(sflow.SourceIfIndex, uint32(l.Index))
		}
		t, err := a.startTap(l, rate, lt, excl)
		if err != nil {
			a.tapErrors.Inc()
			a.tapFailed[l.Name] = err
			a.r.Limited("tap", "cannot sample interface", "interface", l.Name, "error", err)
			continue
		}
		a.samplers[l.Index] = t
		a.r.Logger().Info("sampling", "interface", l.Name, "ifindex", l.Index, "rate", rate, "kind", l.Kind.String(), "gso_sizes", t.s.VNetHeader())
	}
	for idx, t := range a.samplers {
		if !want[idx] {
			_ = t.s.Stop()
			delete(a.samplers, idx)
			a.exp.ResetSource(sflow.SourceIfIndex, uint32(idx))
			a.r.Logger().Info("stopped sampling", "interface", t.name)
		}
	}
	return nil
}

// rateSpeed is the link speed used to choose the sampling rate: that of
// hardware (and bonds and VLANs over it). Virtual devices report fictitious
// speeds (veth 10G; tun 10M or 10G), which would sample tailscale0 at
// 1:10000: they count as unknown and get the default rate.
func rateSpeed(l *counters.Link) uint64 {
	switch l.Kind {
	case sflow.IfKindPhysical, sflow.IfKindBond, sflow.IfKindVLAN:
		return l.Speed
	}
	return 0
}

func (a *Agent) startTap(l *counters.Link, rate uint32, lt sampler.LinkType, excl []netip.AddrPort) (*tap, error) {
	t := &tap{name: l.Name, rate: rate, link: lt, excl: excl}
	if a.cfg.Polling > 0 {
		t.polled = time.Now().Add(a.firstPoll())
	}
	s, err := sampler.New(sampler.Config{IfIndex: l.Index, IfName: l.Name, Link: lt, Rate: rate,
		SnapLen: uint32(a.cfg.HeaderBytes), MTU: uint32(max(l.MTU, 68)), Exclude: excl},
		sampler.Deps{Packets: a.stats.Packets, Handle: a.handler(l.Name, func() { t.s.AddDrops(1) })})
	if err != nil {
		return nil, err
	}
	t.s = s
	if err := s.Start(a.ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// handler returns a source's sample callback: it queues samples for the
// worker without blocking and reports those that do not fit as the
// source's drops.
func (a *Agent) handler(source string, drop func()) func(*sampler.Sample) {
	count := a.sampledPkts.WithLabelValues(source)
	return func(smp *sampler.Sample) {
		count.Inc()
		select {
		case a.samples <- *smp:
		default:
			a.queueDrops.Inc()
			drop()
		}
	}
}

// poll sends the counter samples that are due.
func (a *Agent) poll(now time.Time, hostNext *time.Time) {
	a.mu.Lock()
	var due []int
	for idx, t := range a.samplers {
		if now.After(t.polled) {
			due = append(due, idx)
			t.polled = a.nextPoll(now)
		}
	}
	a.mu.Unlock()
	hostDue := now.After(*hostNext)
	if len(due) == 0 && !hostDue {
		return
	}
	// Fresh counters for what is due.
	links, err := a.links.List()
	if err != nil {
		a.pollErrors.Inc()
		a.r.Limited("poll", "interface counters", "error", err)
		return
	}
	var cs sflow.CounterSample
	for i := range links {
		if slices.Contains(due, links[i].Index) {
			counters.FillInterface(&cs, &links[i])
			a.exp.AddCounters(&cs)
		}
	}
	if hostDue {
		*hostNext = a.nextPoll(now)
		if err := a.host.Fill(&cs, links); err != nil {
			a.pollErrors.Inc()
			a.r.Limited("poll-host", "host counters incomplete", "error", err)
		}
		if cs.Has != 0 {
			a.exp.AddCounters(&cs)
		}
	}
}

// worker turns samples into flow samples: attribution, then packing.
func (a *Agent) worker() {
	defer a.workerWG.Done()
	var fs sflow.FlowSample
	var hdr packet.Header
	var res procmap.Result
	outcomes := map[string]prometheus.Counter{}
	for _, o := range []string{"process", "socket_only", "none", "not_local"} {
		outcomes[o] = a.attributed.WithLabelValues(o)
	}
	for smp := range a.samples {
		if !a.buildFlow(&smp, &fs, &hdr) {
			a.notIP.Inc()
			continue
		}
		outcomes[a.attribute(&smp, &hdr, &fs, &res)].Inc()
		a.exp.AddFlow(&fs)
	}
}

// buildFlow fills fs from a sample: data source 0:ifIndex, direction from
// the packet socket (outgoing: output = ifIndex, input = internal; else the
// reverse), and the sampled header. A GSO/GRO aggregate of K segments is
// reported as one sample of rate N×K whose frame length is the average
// segment's, so collectors multiplying (frames × rate, bytes × rate) count
// K packets and the aggregate's wire bytes.
func (a *Agent) buildFlow(smp *sampler.Sample, fs *sflow.FlowSample, hdr *packet.Header) bool {
	*fs = sflow.FlowSample{Expanded: true, SourceType: sflow.SourceIfIndex, SourceIndex: smp.IfIndex,
		SamplePool: smp.Pool, Drops: smp.Drops, Has: sflow.HasSampledHeader}
	if smp.Direction == sampler.Out {
		fs.Input, fs.Output = sflow.IfIndexInternal, smp.IfIndex
	} else {
		fs.Input, fs.Output = smp.IfIndex, sflow.IfIndexInternal
	}
	b := smp.Bytes()
	h := &fs.SampledHeader
	h.Header = b
	link := packet.LinkEthernet
	switch {
	case smp.Link == sampler.LinkEthernet:
		h.Protocol, h.Stripped = sflow.HeaderEthernet, 4 // the FCS
	case len(b) > 0 && b[0]>>4 == 4:
		h.Protocol, link = sflow.HeaderIPv4, packet.LinkIP
	case len(b) > 0 && b[0]>>4 == 6:
		h.Protocol, link = sflow.HeaderIPv6, packet.LinkIP
	default:
		return false
	}
	segs := uint64(max(smp.Segments, 1))
	frame := (smp.WireBytes() + segs/2) / segs
	if uint64(len(b)) > frame {
		frame = uint64(len(b))
	}
	h.FrameLength = uint32(frame) + h.Stripped
	fs.SamplingRate = uint32(min(uint64(smp.Rate)*segs, math.MaxUint32))
	*hdr = packet.Header{}
	_ = packet.Parse(link, b, hdr) // a truncated header still yields what is there
	return true
}

// attribute adds the tcp_info and process records of the sample's local
// socket. The local end is the source of an outgoing packet and the
// destination of an incoming one. No extended_socket record (0:2100/2101) is
// sent: the sampled header already holds the 5-tuple and the direction says
// which end is local, and one record fewer that tshark 4.0 cannot skip keeps
// the samples decodable there.
func (a *Agent) attribute(smp *sampler.Sample, hdr *packet.Header, fs *sflow.FlowSample, res *procmap.Result) string {
	if a.procs == nil || (hdr.Proto != 6 && hdr.Proto != 17) || hdr.SrcPort == 0 || hdr.DstPort == 0 {
		return "not_local"
	}
	src := netip.AddrPortFrom(hdr.SrcAddr, hdr.SrcPort)
	dst := netip.AddrPortFrom(hdr.DstAddr, hdr.DstPort)
	tu := procmap.Tuple{Proto: hdr.Proto, Local: dst, Remote: src}
	if smp.Direction == sampler.Out {
		tu.Local, tu.Remote = src, dst
	}
	a.procs.Lookup(tu, time.Unix(0, smp.TimeNs), res)
	if !res.Socket {
		return "none"
	}
	if res.HasTCPInfo && a.cfg.TCPInfo {
		ti := &res.TCPInfo
		dir := uint32(1) // received
		if smp.Direction == sampler.Out {
			dir = 2
		}
		fs.Has |= sflow.HasTCPInfo
		fs.TCPInfo = sflow.ExtendedTCPInfo{Direction: dir, SndMSS: ti.SndMSS, RcvMSS: ti.RcvMSS, Unacked: ti.Unacked,
			Lost: ti.Lost, Retrans: ti.Retrans, PMTU: ti.PMTU, RTT: ti.RTT, RTTVar: ti.RTTVar, SndCwnd: ti.SndCwnd,
			Reordering: ti.Reordering, MinRTT: ti.MinRTT}
	}
	fs.Has |= sflow.HasProcess
	p := &fs.Process
	*p = sflow.ProcessInfo{UID: res.UID, User: res.User}
	if res.Process == nil {
		return "socket_only"
	}
	pr := res.Process
	p.PID = pr.PID
	p.Comm, p.Exe, p.Cgroup, p.Unit, p.Container = pr.Comm, pr.Exe, pr.Cgroup, pr.Unit, pr.Container
	return "process"
}

// Interfaces returns the interfaces currently sampled (name → rate).
func (a *Agent) Interfaces() map[string]uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]uint32, len(a.samplers))
	for _, t := range a.samplers {
		out[t.name] = t.rate
	}
	return out
}
