package filter

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// storeValues stands in for the store's distinct-values lookup: a fixed
// table filtered by prefix, as the store's implementation does.
type storeValues map[string][]string

func (s storeValues) Values(_ context.Context, column, prefix string) ([]string, error) {
	if column == "Broken" {
		return nil, errors.New("boom")
	}
	var out []string
	for _, v := range s[column] {
		if strings.HasPrefix(strings.ToLower(v), strings.ToLower(prefix)) {
			out = append(out, v)
		}
	}
	return out, nil
}

func TestComplete(t *testing.T) {
	vs := storeValues{"ExporterName": {"edge-1", "edge-2", "core-1"}, "SrcAddr": {"192.0.2.1"}}
	cases := []struct {
		in         string // | marks the cursor (end when absent)
		start      int
		want       []string // candidates, in order (a prefix of the list when wantPrefix)
		wantPrefix bool
	}{
		{"|", 0, []string{"ExporterAddress", "ExporterName"}, true},
		{"Src|", 0, []string{"SrcAddr", "SrcNetMask", "SrcAS"}, true},
		{"srcpo|", 0, []string{"SrcPort"}, false},
		{"SrcPort |", 8, []string{"=", "!=", "<", "<=", ">", ">=", "IN", "NOTIN"}, false},
		{"SrcAddr |", 8, []string{"=", "!=", "<<", "!<<", "IN", "NOTIN"}, false},
		{"InIfName |", 9, []string{"=", "!=", "LIKE", "ILIKE", "UNLIKE", "IUNLIKE", "IN", "NOTIN"}, false},
		{"InIfName I|", 9, []string{"ILIKE", "IUNLIKE", "IN"}, false},
		{"SrcPort <|", 8, []string{"<", "<="}, false},
		{"Proto = |", 8, []string{"icmp", "igmp", "ipencap"}, true},
		{"Proto = ud|", 8, []string{"udp", "udplite"}, false},
		{"Proto IN (tcp, |", 15, []string{"icmp"}, true},
		{"EType = |", 8, []string{"IPv4", "IPv6"}, false},
		{"InIfBoundary != e|", 16, []string{"external"}, false},
		{"FlowDirection = |", 16, []string{"undefined", "ingress", "egress"}, false},
		{"ExporterName = |", 15, []string{"'edge-1'", "'edge-2'", "'core-1'", "ExporterGroup"}, true},
		{"ExporterName = 'ed|", 15, []string{"'edge-1'", "'edge-2'"}, false},
		{`ExporterName = "ed|`, 15, []string{"'edge-1'", "'edge-2'"}, false},
		{"ExporterName LIKE |", 18, []string{"'edge-1'", "'edge-2'", "'core-1'"}, false},
		{"SrcAddr = 19|", 10, []string{"192.0.2.1"}, false},
		{"SrcPort < |", 10, []string{"DstPort", "InIf", "OutIf"}, true},
		{"SrcPort IN |", 11, []string{"("}, false},
		{"SrcPort IN (80 |", 15, []string{",", ")"}, false},
		{"SrcPort = 80 |", 13, []string{"AND", "OR"}, false},
		{"(SrcPort = 80 |", 14, []string{"AND", "OR", ")"}, false},
		{"SrcPort = 80 an|", 13, []string{"AND"}, false},
		{"SrcPort = 80 AND NOT |", 21, []string{"ExporterAddress"}, true},
		{"SrcPort = 80 AND (|", 18, []string{"ExporterAddress"}, true},
		{"SrcPort = 80 AND |DstPort = 1", 17, []string{"ExporterAddress"}, true},
		{"Bogus |", 6, nil, false},
		{"SrcPort LIKE |", 13, nil, false},
		{"SrcPort ; |", 10, nil, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			src, cursor := c.in, strings.Index(c.in, "|")
			if cursor >= 0 {
				src = c.in[:cursor] + c.in[cursor+1:]
			}
			got, err := Complete(context.Background(), schema, src, cursor, vs)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, cand := range got.Candidates {
				texts = append(texts, cand.Text)
			}
			if c.wantPrefix && len(texts) > len(c.want) {
				texts = texts[:len(c.want)]
			}
			if !slices.Equal(texts, c.want) {
				t.Errorf("candidates:\n-got  %q\n+want %q", texts, c.want)
			}
			if got.Start != c.start || got.End != cursor {
				t.Errorf("range = [%d, %d), want [%d, %d)", got.Start, got.End, c.start, cursor)
			}
		})
	}
}

func TestCompleteKindsAndErrors(t *testing.T) {
	got, err := Complete(context.Background(), schema, "SrcAS", 5, nil)
	if err != nil || len(got.Candidates) != 1 || got.Candidates[0].Kind != KindColumn || got.Candidates[0].Detail != "Src AS" {
		t.Errorf("Complete(SrcAS) = %+v, %v", got, err)
	}
	if _, err := Complete(context.Background(), schema, "HostName = ", 11, storeValues{}); err != nil {
		t.Errorf("empty store: %v", err)
	}
	// Store errors surface to the caller.
	bad := storeValues{}
	if _, err := Complete(context.Background(), schema, "ExporterName = ", 15, failing{bad}); err == nil {
		t.Error("store error was swallowed")
	}
	// A cursor out of range means the end.
	if got, _ := Complete(context.Background(), schema, "SrcPort ", 999, nil); got.End != 8 {
		t.Errorf("cursor clamp: %+v", got)
	}
}

type failing struct{ storeValues }

func (failing) Values(context.Context, string, string) ([]string, error) {
	return nil, errors.New("boom")
}
