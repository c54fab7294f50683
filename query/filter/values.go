package filter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostflow/hostflow/flow"
)

// symbol is a named value of an enumerated filter type.
type symbol struct {
	name  string // canonical spelling, used when printing a filter
	value uint64
}

// protocols are the IP protocol names accepted for Proto (case-insensitive),
// IANA keywords as in /etc/protocols, lower-cased. Aliases follow the
// canonical name with the same number.
var protocols = []symbol{
	{"icmp", 1}, {"igmp", 2}, {"ipencap", 4}, {"ipip", 4}, {"tcp", 6}, {"egp", 8}, {"udp", 17},
	{"ipv6", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44}, {"rsvp", 46}, {"gre", 47}, {"esp", 50},
	{"ah", 51}, {"ipv6-icmp", 58}, {"icmpv6", 58}, {"ipv6-nonxt", 59}, {"ipv6-opts", 60},
	{"eigrp", 88}, {"ospf", 89}, {"etherip", 97}, {"pim", 103}, {"vrrp", 112}, {"l2tp", 115},
	{"isis", 124}, {"sctp", 132}, {"udplite", 136}, {"mpls-in-ip", 137}, {"ethernet", 143},
}

var etypes = []symbol{{"IPv4", 0x0800}, {"IPv6", 0x86dd}}

var boundaries = []symbol{
	{"undefined", uint64(flow.BoundaryUndefined)},
	{"external", uint64(flow.BoundaryExternal)},
	{"internal", uint64(flow.BoundaryInternal)},
}

var directions = []symbol{
	{"undefined", uint64(flow.DirectionUndefined)},
	{"ingress", uint64(flow.DirectionIngress)},
	{"egress", uint64(flow.DirectionEgress)},
}

// symbols returns the named values of a filter type (nil for free-form types).
func symbols(ft flow.FilterType) []symbol {
	switch ft {
	case flow.FilterProto:
		return protocols
	case flow.FilterEType:
		return etypes
	case flow.FilterBoundary:
		return boundaries
	case flow.FilterDirection:
		return directions
	}
	return nil
}

func lookupSymbol(ft flow.FilterType, word string) (symbol, bool) {
	for _, s := range symbols(ft) {
		if strings.EqualFold(s.name, word) {
			return s, true
		}
	}
	return symbol{}, false
}

// Value is one right-hand value of a condition. IP values are prefixes (a
// single address is a full-length prefix) in the form the user wrote them
// (IPv4 stays IPv4); they are mapped to IPv6 when rendered to SQL.
type Value struct {
	Uint   uint64
	Str    string
	Prefix netip.Prefix
	// Name is the symbolic spelling of an enumerated value (tcp, IPv4,
	// external), kept so that a printed filter reads like the input.
	Name string
}

// bitsOf is the width of a column's unsigned values.
func bitsOf(k flow.Kind) int {
	switch k {
	case flow.KindUInt8, flow.KindBoundary, flow.KindDirection:
		return 8
	case flow.KindUInt16:
		return 16
	case flow.KindUInt32, flow.KindDateTime:
		return 32
	}
	return 64
}

// expectedValue says, for error messages and completion, what a column's
// values look like.
func expectedValue(c *flow.Column) string {
	switch c.Filter {
	case flow.FilterIP:
		return "an IP address or subnet"
	case flow.FilterString:
		return "a quoted string"
	case flow.FilterASN:
		return "an AS number (AS64500 or 64500)"
	case flow.FilterProto:
		return "a protocol name (tcp, udp, icmp, ...) or number (0-255)"
	case flow.FilterEType:
		return "IPv4 or IPv6"
	case flow.FilterBoundary:
		return "external, internal or undefined"
	case flow.FilterDirection:
		return "ingress, egress or undefined"
	}
	return "an unsigned integer (0-" + strconv.FormatUint(maxUint(c.Kind), 10) + ")"
}

func maxUint(k flow.Kind) uint64 {
	b := bitsOf(k)
	if b == 64 {
		return ^uint64(0)
	}
	return 1<<b - 1
}

// parseValue reads one value token for column c. It returns ok=false when
// the token is not a value of that type.
func parseValue(c *flow.Column, t token) (Value, bool) {
	switch c.Filter {
	case flow.FilterIP:
		if t.kind != tkWord {
			return Value{}, false
		}
		return parseIP(t.text)
	case flow.FilterString:
		if t.kind != tkString {
			return Value{}, false
		}
		return Value{Str: t.text}, true
	case flow.FilterProto, flow.FilterEType, flow.FilterBoundary, flow.FilterDirection:
		// Names may be bare or quoted ('external' is common in Akvorado URLs).
		if t.kind != tkWord && t.kind != tkString {
			return Value{}, false
		}
		if s, ok := lookupSymbol(c.Filter, t.text); ok {
			return Value{Uint: s.value, Name: s.name}, true
		}
		if t.kind == tkString || c.Filter == flow.FilterBoundary || c.Filter == flow.FilterDirection {
			return Value{}, false
		}
		if c.Filter == flow.FilterProto {
			return parseUint(t.text, flow.KindUInt8) // IP protocol numbers are 8-bit
		}
	case flow.FilterASN:
		if t.kind != tkWord {
			return Value{}, false
		}
		text := t.text
		if len(text) > 2 && strings.EqualFold(text[:2], "AS") {
			text = text[2:]
		}
		return parseUint(text, c.Kind)
	}
	if t.kind != tkWord {
		return Value{}, false
	}
	return parseUint(t.text, c.Kind)
}

func parseUint(text string, k flow.Kind) (Value, bool) {
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return Value{}, false
		}
	}
	v, err := strconv.ParseUint(text, 10, bitsOf(k))
	if err != nil {
		return Value{}, false
	}
	return Value{Uint: v}, true
}

func parseIP(text string) (Value, bool) {
	if strings.Contains(text, "/") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return Value{}, false
		}
		return Value{Prefix: p.Masked()}, true
	}
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" {
		return Value{}, false
	}
	return Value{Prefix: netip.PrefixFrom(a, a.BitLen())}, true
}

// SymbolName returns the canonical name of value v of an enumerated filter
// type (6 → tcp for Proto, 0x0800 → IPv4 for EType), for labels that can be
// pasted back into a filter.
func SymbolName(ft flow.FilterType, v uint64) (string, bool) {
	for _, s := range symbols(ft) {
		if s.value == v {
			return s.name, true
		}
	}
	return "", false
}
