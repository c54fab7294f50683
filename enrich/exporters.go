package enrich

import (
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/enrich/metadata"
)

// exporterInfo is the resolved (providers merged, rules applied) exporter
// metadata that flows get. Immutable once published.
type exporterInfo struct {
	metadata.Exporter
	missing bool // no provider knows a name
}

// ifaceInfo is the resolved metadata of one interface. Immutable.
type ifaceInfo struct {
	metadata.Interface
	missing bool
}

// noIface is used when an exporter already has max-interfaces entries.
var noIface = &ifaceInfo{missing: true}

// ifaceShards splits each exporter's interfaces in copy-on-write maps, so
// adding an interface copies 1/16 of them: an exporter announcing n
// ifIndexes costs O(n²/16) copies instead of O(n²).
const ifaceShards = 16

// emptyIfaces is the initial, never modified, map of every shard.
var emptyIfaces = map[uint32]*ifaceInfo{}

// exporterState holds what flows of one exporter get. Readers load the
// atomic pointers without locking; writers (first sight of an interface,
// provider changes) serialize on mu and publish copies.
type exporterState struct {
	key      metadata.Key
	mu       sync.Mutex
	info     atomic.Pointer[exporterInfo]
	ifaces   [ifaceShards]atomic.Pointer[map[uint32]*ifaceInfo]
	nIfaces  int          // entries in ifaces; written under mu
	lastUsed atomic.Int64 // coarse clock, seconds

	// counters of flows lacking metadata; label values are bounded by
	// metrics-max-exporters (beyond, they share exporter="other").
	noExporter, noIface prometheus.Counter
	labelled            bool
}

const shardCount = 64

// shard is a part of the exporter table. All sub-agents of one address are
// in the same shard, so changes keyed by address scan one shard.
type shard struct {
	mu        sync.RWMutex
	exporters map[metadata.Key]*exporterState
}

func shardOf(a netip.Addr) int {
	hi, lo := split(a)
	h := (hi ^ lo) * 0x9E3779B97F4A7C15
	return int(h >> 58) // top 6 bits: 64 shards
}

// exporter returns the state of an exporter, creating and resolving it on
// first sight; nil when the address is invalid or the table is full.
func (en *Enricher) exporter(addr netip.Addr, subAgent uint32, now int64) *exporterState {
	if !addr.IsValid() {
		return nil
	}
	k := metadata.MakeKey(addr, subAgent)
	sh := &en.shards[shardOf(k.Addr)]
	sh.mu.RLock()
	ex := sh.exporters[k]
	sh.mu.RUnlock()
	if ex != nil {
		if ex.lastUsed.Load() != now {
			ex.lastUsed.Store(now)
		}
		return ex
	}
	if en.nExporters.Load() >= int64(en.cfg.MaxExporters) {
		// Full: refuse without the write lock (a flood of new addresses must
		// not serialize the workers).
		en.refusedExporter.Inc()
		return nil
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ex = sh.exporters[k]; ex != nil {
		return ex
	}
	if en.nExporters.Load() >= int64(en.cfg.MaxExporters) {
		en.refusedExporter.Inc()
		return nil
	}
	ex = &exporterState{key: k}
	ex.lastUsed.Store(now)
	for i := range ex.ifaces {
		ex.ifaces[i].Store(&emptyIfaces)
	}
	en.labelMetrics(ex)
	ex.mu.Lock()
	en.resolveExporter(ex)
	ex.mu.Unlock()
	sh.exporters[k] = ex
	en.nExporters.Add(1)
	return ex
}

// metricLabel is the exporter label of k: its address, with the sFlow
// sub-agent when not 0 (agents behind one address are distinct exporters).
func metricLabel(k metadata.Key) string {
	if k.SubAgent == 0 {
		return k.Addr.String()
	}
	return k.Addr.String() + "#" + strconv.FormatUint(uint64(k.SubAgent), 10)
}

// labelMetrics binds the exporter's missing-metadata counters.
func (en *Enricher) labelMetrics(ex *exporterState) {
	label := "other"
	if en.labelled.Add(1) <= int64(en.cfg.MetricsMaxExporters) {
		label = metricLabel(ex.key)
		ex.labelled = true
	} else {
		en.labelled.Add(-1)
	}
	ex.noExporter = en.missing.WithLabelValues(label, "exporter")
	ex.noIface = en.missing.WithLabelValues(label, "interface")
}

// resolveExporter recomputes the exporter info. Called with ex.mu held.
func (en *Enricher) resolveExporter(ex *exporterState) *exporterInfo {
	e, _ := en.chain.Exporter(ex.key)
	en.classifier.Exporter(ex.key.Addr, &e)
	info := &exporterInfo{Exporter: e, missing: e.Name == ""}
	ex.info.Store(info)
	en.resolves.WithLabelValues("exporter").Inc()
	return info
}

func (en *Enricher) resolveIface(ex *exporterState, e *exporterInfo, ifIndex uint32) *ifaceInfo {
	i, _ := en.chain.Interface(ex.key, ifIndex)
	en.classifier.Interface(ex.key.Addr, &e.Exporter, &i)
	en.resolves.WithLabelValues("interface").Inc()
	return &ifaceInfo{Interface: i, missing: i.Name == ""}
}

// lookup returns the published info of ifIndex, nil when not resolved yet.
func (ex *exporterState) lookup(ifIndex uint32) *ifaceInfo {
	return (*ex.ifaces[ifIndex%ifaceShards].Load())[ifIndex]
}

// iface returns the interface info for ifIndex, resolving it on first
// sight (slow path, outside the per-flow budget).
func (en *Enricher) iface(ex *exporterState, ifIndex uint32) *ifaceInfo {
	if ii := ex.lookup(ifIndex); ii != nil {
		return ii
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ii := ex.lookup(ifIndex); ii != nil {
		return ii
	}
	if ex.nIfaces >= en.cfg.MaxInterfaces {
		en.refused.WithLabelValues("interface").Inc()
		return noIface
	}
	if en.nIfaces.Add(1) > int64(en.cfg.MaxTotalInterfaces) {
		en.nIfaces.Add(-1)
		en.refused.WithLabelValues("total_interfaces").Inc()
		return noIface
	}
	ii := en.resolveIface(ex, ex.info.Load(), ifIndex)
	sh := &ex.ifaces[ifIndex%ifaceShards]
	m := *sh.Load()
	next := make(map[uint32]*ifaceInfo, len(m)+1)
	for k, v := range m {
		next[k] = v
	}
	next[ifIndex] = ii
	sh.Store(&next)
	ex.nIfaces++
	return ii
}

// onChange recomputes the entries a provider change concerns. Providers
// call it without holding their locks.
func (en *Enricher) onChange(c metadata.Change) {
	addr := c.Addr.Unmap()
	sh := &en.shards[shardOf(addr)]
	var targets []*exporterState
	sh.mu.RLock()
	for k, ex := range sh.exporters {
		if c.Matches(k) {
			targets = append(targets, ex)
		}
	}
	sh.mu.RUnlock()
	for _, ex := range targets {
		ex.mu.Lock()
		info := ex.info.Load()
		all := c.AllInterfaces
		if c.Exporter {
			info = en.resolveExporter(ex)
			all = true // interface rules may match on exporter attributes
		}
		for i := range ex.ifaces {
			m := *ex.ifaces[i].Load()
			if len(m) == 0 || (!all && !slices.ContainsFunc(c.IfIndexes, func(idx uint32) bool {
				return idx%ifaceShards == uint32(i)
			})) {
				continue
			}
			next := make(map[uint32]*ifaceInfo, len(m))
			for idx, ii := range m {
				if all || c.Concerns(idx) {
					ii = en.resolveIface(ex, info, idx)
				}
				next[idx] = ii
			}
			ex.ifaces[i].Store(&next)
		}
		ex.mu.Unlock()
	}
}

// expire forgets exporters without flows since before limit (coarse clock).
func (en *Enricher) expire(limit int64) {
	var gone []metadata.Key
	for i := range en.shards {
		sh := &en.shards[i]
		sh.mu.Lock()
		for k, ex := range sh.exporters {
			if ex.lastUsed.Load() >= limit {
				continue
			}
			delete(sh.exporters, k)
			en.nExporters.Add(-1)
			ex.mu.Lock()
			en.nIfaces.Add(-int64(ex.nIfaces))
			ex.mu.Unlock()
			if ex.labelled {
				label := metricLabel(k)
				en.missing.DeleteLabelValues(label, "exporter")
				en.missing.DeleteLabelValues(label, "interface")
				en.labelled.Add(-1)
			}
			gone = append(gone, k)
		}
		sh.mu.Unlock()
	}
	for _, k := range gone {
		en.expired.Inc()
		if !en.knows(k.Addr) {
			for _, p := range en.chain {
				if f, ok := p.(metadata.Forgetter); ok {
					f.Forget(k.Addr)
				}
			}
		}
	}
}

// knows reports whether any sub-agent of addr is still in the table.
func (en *Enricher) knows(addr netip.Addr) bool {
	sh := &en.shards[shardOf(addr)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for k := range sh.exporters {
		if k.Addr == addr {
			return true
		}
	}
	return false
}
