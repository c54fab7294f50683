package enrich

import (
	"net/netip"

	"github.com/hostflow/hostflow/flow"
)

// Enrich fills the metadata, classification, AS, GeoIP and network fields
// of recs in place; fields the decoder already set are kept (except the AS
// numbers, chosen by as-providers). Safe for concurrent use.
func (en *Enricher) Enrich(recs []flow.Record) {
	if len(recs) == 0 {
		return
	}
	now := en.clock.Load()
	addrs := addrLookup{c: en.cache()}
	var (
		ex         *exporterState
		info       *exporterInfo
		ifs        ifaceMemo
		lastAddr   netip.Addr
		lastSub    uint32
		noEx, noIf int
	)
	for i := range recs {
		r := &recs[i]
		// Records come in runs from one exporter (one datagram): resolve
		// the exporter once per run.
		if i == 0 || r.ExporterAddress != lastAddr || r.SubAgentID != lastSub {
			countMissing(ex, noEx, noIf)
			noEx, noIf = 0, 0
			lastAddr, lastSub = r.ExporterAddress, r.SubAgentID
			if ex = en.exporter(lastAddr, lastSub, now); ex != nil {
				info, ifs = ex.info.Load(), ifaceMemo{}
			}
		}
		if ex != nil {
			if info.missing {
				noEx++
			}
			fillExporter(r, info)
			if ii := ifs.get(en, ex, r.InIf, 0); ii != nil {
				if ii.missing {
					noIf++
				}
				fillIface(ii, &r.InIfName, &r.InIfDescription, &r.InIfSpeed, &r.InIfKind,
					&r.InIfConnectivity, &r.InIfProvider, &r.InIfBoundary)
			}
			if ii := ifs.get(en, ex, r.OutIf, 1); ii != nil {
				if ii.missing {
					noIf++
				}
				fillIface(ii, &r.OutIfName, &r.OutIfDescription, &r.OutIfSpeed, &r.OutIfKind,
					&r.OutIfConnectivity, &r.OutIfProvider, &r.OutIfBoundary)
			}
		}
		if a := addrs.get(r.SrcAddr, 0); a != nil {
			r.SrcAS = en.pickAS(r.SrcAS, a.asn)
			fillAddr(a, &r.SrcCountry, &r.SrcGeoCity, &r.SrcNetName, &r.SrcNetRole, &r.SrcNetSite,
				&r.SrcNetRegion, &r.SrcNetTenant)
		}
		if a := addrs.get(r.DstAddr, 1); a != nil {
			r.DstAS = en.pickAS(r.DstAS, a.asn)
			fillAddr(a, &r.DstCountry, &r.DstGeoCity, &r.DstNetName, &r.DstNetRole, &r.DstNetSite,
				&r.DstNetRegion, &r.DstNetTenant)
		}
	}
	countMissing(ex, noEx, noIf)
	if addrs.lookups > addrs.misses {
		en.addrHit.Add(float64(addrs.lookups - addrs.misses))
	}
	if addrs.misses > 0 {
		en.addrMiss.Add(float64(addrs.misses))
	}
}

// ifaceMemo remembers the last input and output interfaces of a run of
// flows from one exporter (a host's flows mostly use its uplink).
type ifaceMemo struct {
	idx [2]uint32
	ii  [2]*ifaceInfo
}

// get returns the interface info for ifIndex, resolving it on first sight;
// nil for no interface (0) and for the device itself (internal). side is 0
// for input, 1 for output.
func (m *ifaceMemo) get(en *Enricher, ex *exporterState, ifIndex uint32, side int) *ifaceInfo {
	if ifIndex == 0 || ifIndex == flow.IfIndexInternal {
		return nil
	}
	if m.ii[side] != nil && m.idx[side] == ifIndex {
		return m.ii[side]
	}
	ii := ex.lookup(ifIndex)
	if ii == nil {
		ii = en.iface(ex, ifIndex)
	}
	m.idx[side], m.ii[side] = ifIndex, ii
	return ii
}

// addrLookup is the address side of one Enrich call: the cache, a memo of
// the last source and destination answers (one side of consecutive flows
// is often the same address: the host itself, a busy server), and counts.
type addrLookup struct {
	c               *addrCache
	memo            [2]addrMemo
	lookups, misses int
}

// get returns the answer for a (nil when a is invalid); side is 0 for
// sources and 1 for destinations.
func (l *addrLookup) get(a netip.Addr, side int) *addrInfo {
	if !a.IsValid() {
		return nil
	}
	switch a {
	case l.memo[side].addr:
		return l.memo[side].info
	case l.memo[1-side].addr:
		return l.memo[1-side].info
	}
	info, hit := l.c.lookup(a)
	l.lookups++
	if !hit {
		l.misses++
	}
	l.memo[side] = addrMemo{a, info}
	return info
}

// addrMemo remembers an address answer within one Enrich call.
type addrMemo struct {
	addr netip.Addr
	info *addrInfo
}

func countMissing(ex *exporterState, noEx, noIf int) {
	if ex == nil {
		return
	}
	if noEx > 0 {
		ex.noExporter.Add(float64(noEx))
	}
	if noIf > 0 {
		ex.noIface.Add(float64(noIf))
	}
}

// set fills an empty field; it skips the store when there is nothing to
// write.
func set(dst *string, v string) {
	if v != "" && *dst == "" {
		*dst = v
	}
}

func fillExporter(r *flow.Record, e *exporterInfo) {
	set(&r.ExporterName, e.Name)
	set(&r.ExporterGroup, e.Group)
	set(&r.ExporterRole, e.Role)
	set(&r.ExporterSite, e.Site)
	set(&r.ExporterRegion, e.Region)
	set(&r.ExporterTenant, e.Tenant)
	set(&r.HostName, e.HostName)
}

func fillIface(i *ifaceInfo, name, descr *string, speed *uint32, kind, conn, prov *string, boundary *uint8) {
	set(name, i.Name)
	set(descr, i.Description)
	if *speed == 0 {
		*speed = i.Speed
	}
	set(kind, i.Kind)
	set(conn, i.Connectivity)
	set(prov, i.Provider)
	if *boundary == 0 {
		*boundary = i.Boundary
	}
}

func fillAddr(a *addrInfo, country, city, name, role, site, region, tenant *string) {
	set(country, a.country)
	set(city, a.city)
	set(name, a.net.Name)
	set(role, a.net.Role)
	set(site, a.net.Site)
	set(region, a.net.Region)
	set(tenant, a.net.Tenant)
}

// asProvider is an as-providers entry, compiled.
type asProvider uint8

const (
	asFlow asProvider = iota
	asFlowExceptPrivate
	asGeoIP
)

func compileASProviders(names []string) []asProvider {
	out := make([]asProvider, len(names))
	for i, n := range names {
		switch n {
		case ASFlowExceptPrivate:
			out[i] = asFlowExceptPrivate
		case ASGeoIP:
			out[i] = asGeoIP
		}
	}
	return out
}

// pickAS applies as-providers: the first non-zero candidate wins.
func (en *Enricher) pickAS(fromFlow, fromGeo uint32) uint32 {
	for _, p := range en.asProv {
		switch p {
		case asFlow:
			if fromFlow != 0 {
				return fromFlow
			}
		case asFlowExceptPrivate:
			if fromFlow != 0 && !privateAS(fromFlow) {
				return fromFlow
			}
		case asGeoIP:
			if fromGeo != 0 {
				return fromGeo
			}
		}
	}
	return 0
}

// privateAS reports AS numbers that say nothing about where traffic goes:
// AS_TRANS, documentation, private use and reserved ranges (RFC 6996,
// RFC 5398, RFC 7300).
func privateAS(as uint32) bool {
	return as == 23456 || (as >= 64496 && as <= 131071) || as >= 4200000000
}
