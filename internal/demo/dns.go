package demo

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// demoDomain holds the demo's names (example.net is reserved for
// documentation, like the addresses).
const demoDomain = "demo.example.net."

// zone maps lower-case fully qualified names to their addresses.
type zone map[string][]netip.Addr

// planZone names the plan's servers.
func planZone(p Plan) zone {
	z := zone{}
	add := func(name string, aps []netip.AddrPort) {
		for _, ap := range aps {
			z[name+"."+demoDomain] = append(z[name+"."+demoDomain], ap.Addr())
		}
	}
	add("api", p.API)
	add("ns", p.DNS)
	add("backup", p.Backup)
	add("metrics", p.Metrics)
	add("www", p.Webapp)
	return z
}

// names lists the zone's names, sorted.
func (z zone) names() []string {
	out := make([]string, 0, len(z))
	for n := range z {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// answer appends to buf the response to the DNS query msg: the zone's A or
// AAAA records for the name, NXDOMAIN for a name outside the zone,
// NOTIMP for other opcodes, FORMERR for a query without a question. It
// fails only on input not worth answering (not a DNS query).
func (z zone) answer(msg, buf []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, fmt.Errorf("dns query: %w", err)
	}
	if h.Response {
		return nil, errors.New("dns query: a response, not a query")
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, Authoritative: true, RecursionDesired: h.RecursionDesired}
	q, err := p.Question()
	if err != nil {
		rh.RCode = dnsmessage.RCodeFormatError
		b := dnsmessage.NewBuilder(buf, rh)
		return b.Finish()
	}
	if h.OpCode != 0 {
		rh.RCode = dnsmessage.RCodeNotImplemented
	}
	addrs, known := z[strings.ToLower(q.Name.String())]
	if !known && rh.RCode == dnsmessage.RCodeSuccess {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(buf, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if rh.RCode != dnsmessage.RCodeSuccess || q.Class != dnsmessage.ClassINET {
		return b.Finish()
	}
	rr := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rr, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// buildQuery appends to buf a recursive query for name's A record (or AAAA
// when aaaa).
func buildQuery(buf []byte, id uint16, name string, aaaa bool) ([]byte, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, err
	}
	t := dnsmessage.TypeA
	if aaaa {
		t = dnsmessage.TypeAAAA
	}
	b := dnsmessage.NewBuilder(buf, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// checkAnswer checks that msg answers query id: NOERROR or NXDOMAIN.
func checkAnswer(msg []byte, id uint16) error {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return fmt.Errorf("dns answer: %w", err)
	}
	switch {
	case !h.Response || h.ID != id:
		return fmt.Errorf("dns answer: id %d, want a response to %d", h.ID, id)
	case h.RCode != dnsmessage.RCodeSuccess && h.RCode != dnsmessage.RCodeNameError:
		return fmt.Errorf("dns answer: %v", h.RCode)
	}
	return nil
}
