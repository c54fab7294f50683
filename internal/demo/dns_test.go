package demo

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

func testZone(t testing.TB) zone {
	t.Helper()
	l, err := allocate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return planZone(l.plan)
}

// describe renders a DNS answer as one line: rcode, question, answers.
func describe(msg []byte) string {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return "unparsable: " + err.Error()
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return "bad questions: " + err.Error()
	}
	out := fmt.Sprintf("id=%d response=%v aa=%v rd=%v %v", h.ID, h.Response, h.Authoritative, h.RecursionDesired, h.RCode)
	for _, q := range qs {
		out += fmt.Sprintf(" q=%s/%v", q.Name, q.Type)
	}
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		switch rh.Type {
		case dnsmessage.TypeA:
			r, _ := p.AResource()
			out += fmt.Sprintf(" A=%v", netip.AddrFrom4(r.A))
		case dnsmessage.TypeAAAA:
			r, _ := p.AAAAResource()
			out += fmt.Sprintf(" AAAA=%v", netip.AddrFrom16(r.AAAA))
		default:
			_ = p.SkipAnswer()
		}
	}
	return out
}

func TestAnswer(t *testing.T) {
	z := testZone(t)
	query := func(id uint16, name string, aaaa bool) []byte {
		q, err := buildQuery(nil, id, name, aaaa)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	withOpcode := func(msg []byte, op int) []byte {
		out := append([]byte(nil), msg...)
		out[2] = out[2]&^0x78 | byte(op)<<3
		return out
	}
	noQuestion := []byte{0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	response := append([]byte(nil), query(7, "api."+demoDomain, false)...)
	response[2] |= 0x80
	for _, c := range []struct {
		name string
		msg  []byte
		want string // describe(answer), or "error: ..." prefix
	}{
		{"A", query(1, "api."+demoDomain, false), "id=1 response=true aa=true rd=true RCodeSuccess q=api.demo.example.net./TypeA A=198.51.100.10"},
		{"AAAA", query(2, "api."+demoDomain, true), "id=2 response=true aa=true rd=true RCodeSuccess q=api.demo.example.net./TypeAAAA AAAA=2001:db8:100::10"},
		{"mixed case", query(3, "BackUp.Demo.Example.NET.", false), "id=3 response=true aa=true rd=true RCodeSuccess q=BackUp.Demo.Example.NET./TypeA A=203.0.113.20"},
		{"webapp on the link", query(4, "www."+demoDomain, true), "id=4 response=true aa=true rd=true RCodeSuccess q=www.demo.example.net./TypeAAAA AAAA=fd48:6f73:7466::1"},
		{"unknown name", query(5, "nx-1."+demoDomain, false), "id=5 response=true aa=true rd=true RCodeNameError q=nx-1.demo.example.net./TypeA"},
		{"other opcode", withOpcode(query(6, "api."+demoDomain, false), 2), "id=6 response=true aa=true rd=true RCodeNotImplemented q=api.demo.example.net./TypeA"},
		{"no question", noQuestion, "id=4660 response=true aa=true rd=true RCodeFormatError"},
		{"a response", response, "error: dns query: a response, not a query"},
		{"truncated header", []byte{1, 2, 3}, "error: dns query: "},
		{"empty", nil, "error: dns query: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := z.answer(c.msg, nil)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
				if !strings.HasPrefix(got, c.want) {
					t.Errorf("error %q, want prefix %q", got, c.want)
				}
				return
			}
			got = describe(out)
			if diff := cmp.Diff(got, c.want); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	z := testZone(t)
	ask := func(id uint16, name string) []byte {
		q, err := buildQuery(nil, id, name, false)
		if err != nil {
			t.Fatal(err)
		}
		a, err := z.answer(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	q, _ := buildQuery(nil, 9, "api."+demoDomain, false)
	servfail := ask(10, "api."+demoDomain)
	servfail[3] = servfail[3]&^0x0f | 2
	for _, c := range []struct {
		name    string
		msg     []byte
		id      uint16
		wantErr string
	}{
		{"answer", ask(1, "ns."+demoDomain), 1, ""},
		{"NXDOMAIN is an answer", ask(2, "nx."+demoDomain), 2, ""},
		{"other id", ask(3, "ns."+demoDomain), 4, "dns answer: id 3, want a response to 4"},
		{"a query", q, 9, "dns answer: id 9, want a response to 9"},
		{"SERVFAIL", servfail, 10, "dns answer: RCodeServerFailure"},
		{"garbage", []byte{0xff}, 1, "dns answer: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkAnswer(c.msg, c.id)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}

// FuzzAnswer: the DNS server never panics, and what it answers parses and
// echoes the query's id.
func FuzzAnswer(f *testing.F) {
	for i, name := range []string{"api." + demoDomain, "nx." + demoDomain, "www." + demoDomain} {
		q, _ := buildQuery(nil, uint16(i), name, i%2 == 1)
		f.Add(q)
	}
	f.Add([]byte{0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0})
	z := testZone(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 1500 {
			return // one datagram
		}
		out, err := z.answer(msg, make([]byte, 0, 512))
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(out)
		if err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if !h.Response || len(msg) < 2 || h.ID != uint16(msg[0])<<8|uint16(msg[1]) {
			t.Fatalf("answer header %+v for query id %x", h, msg[:min(2, len(msg))])
		}
	})
}
