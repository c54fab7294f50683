package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ParseJSONCompact reads ClickHouse's JSONCompact output format into a
// typed Result (see Result for the value types). DateTime values must be
// printed in UTC (session_timezone=UTC).
func ParseJSONCompact(data []byte) (*Result, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Result{}, nil
	}
	var raw struct {
		Meta []Column            `json:"meta"`
		Data [][]json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	res := &Result{Columns: raw.Meta, Rows: make([][]any, 0, len(raw.Data))}
	for i, row := range raw.Data {
		if len(row) != len(raw.Meta) {
			return nil, fmt.Errorf("result: row %d has %d values for %d columns", i, len(row), len(raw.Meta))
		}
		out := make([]any, len(row))
		for j, v := range row {
			x, err := convert(raw.Meta[j].Type, v)
			if err != nil {
				return nil, fmt.Errorf("result: row %d column %s: %w", i, raw.Meta[j].Name, err)
			}
			out[j] = x
		}
		res.Rows = append(res.Rows, out)
	}
	return res, nil
}

// baseType strips LowCardinality(...) and Nullable(...).
func baseType(t string) (base string, nullable bool) {
	for {
		switch {
		case strings.HasPrefix(t, "LowCardinality(") && strings.HasSuffix(t, ")"):
			t = t[len("LowCardinality(") : len(t)-1]
		case strings.HasPrefix(t, "Nullable(") && strings.HasSuffix(t, ")"):
			t, nullable = t[len("Nullable("):len(t)-1], true
		default:
			return t, nullable
		}
	}
}

func convert(typ string, v json.RawMessage) (any, error) {
	t, _ := baseType(typ)
	if string(v) == "null" {
		return nil, nil
	}
	switch {
	case strings.HasPrefix(t, "Array(") && strings.HasSuffix(t, ")"):
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			x, err := convert(t[len("Array("):len(t)-1], it)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case strings.HasPrefix(t, "UInt"):
		return strconv.ParseUint(unquote(v), 10, 64)
	case strings.HasPrefix(t, "Int"):
		return strconv.ParseInt(unquote(v), 10, 64)
	case strings.HasPrefix(t, "Float"), strings.HasPrefix(t, "Decimal"):
		s := unquote(v)
		switch s {
		case "inf", "+inf":
			s = "+Inf"
		case "-inf":
			s = "-Inf"
		case "nan", "-nan":
			s = "NaN"
		}
		return strconv.ParseFloat(s, 64)
	case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
		return time.ParseInLocation(time.DateTime, unquote(v), time.UTC)
	case t == "Date":
		return time.ParseInLocation(time.DateOnly, unquote(v), time.UTC)
	case t == "IPv6" || t == "IPv4":
		return netip.ParseAddr(unquote(v))
	}
	// String, FixedString, Enum and anything else: the text form.
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return string(v), nil
	}
	return TrimPadding(t, s), nil
}

func unquote(v json.RawMessage) string {
	s := string(v)
	if len(s) >= 2 && s[0] == '"' {
		var out string
		if json.Unmarshal(v, &out) == nil {
			return out
		}
	}
	return s
}
