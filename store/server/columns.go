package server

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/transport"
)

// columnValues converts a Native column into the slice clickhouse-go's
// column of type target accepts.
func columnValues(c *native.Column, rows int, target string) (any, error) {
	d := c.Data
	le := binary.LittleEndian
	switch {
	case c.Type == "String":
		out := make([]string, 0, rows)
		err := c.Strings(func(_ int, s []byte) { out = append(out, string(s)) })
		return out, err
	case c.Type == "IPv6":
		if strings.HasPrefix(target, "FixedString(16)") {
			return fixed(d, 16, rows), nil
		}
		out := make([]netip.Addr, rows)
		for i := range out {
			out[i] = netip.AddrFrom16([16]byte(d[16*i : 16*i+16]))
		}
		return out, nil
	case strings.HasPrefix(c.Type, "FixedString("):
		return fixed(d, c.Width, rows), nil
	case strings.HasPrefix(c.Type, "Enum8("), c.Type == "Int8":
		out := make([]int8, rows)
		for i := range out {
			out[i] = int8(d[i])
		}
		return out, nil
	case c.Type == "UInt8":
		return append([]uint8(nil), d[:rows]...), nil
	case c.Type == "UInt16":
		out := make([]uint16, rows)
		for i := range out {
			out[i] = le.Uint16(d[2*i:])
		}
		return out, nil
	case c.Type == "UInt32":
		out := make([]uint32, rows)
		for i := range out {
			out[i] = le.Uint32(d[4*i:])
		}
		return out, nil
	case c.Type == "UInt64":
		out := make([]uint64, rows)
		for i := range out {
			out[i] = le.Uint64(d[8*i:])
		}
		return out, nil
	case c.Type == "Float32":
		out := make([]float32, rows)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(d[4*i:]))
		}
		return out, nil
	case c.Type == "DateTime":
		out := make([]time.Time, rows)
		for i := range out {
			out[i] = time.Unix(int64(le.Uint32(d[4*i:])), 0)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnsupported, c.Type)
}

func fixed(d []byte, w, rows int) [][]byte {
	out := make([][]byte, rows)
	for i := range out {
		out[i] = d[w*i : w*i+w : w*i+w]
	}
	return out
}

// readRows reads every row, normalizing values to transport.Result's types.
func readRows(rows driver.Rows) (*transport.Result, error) {
	types := rows.ColumnTypes()
	res := &transport.Result{Columns: make([]transport.Column, len(types))}
	for i, ct := range types {
		res.Columns[i] = transport.Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := make([]any, len(dest))
		for i := range dest {
			row[i] = normalize(reflect.ValueOf(dest[i]).Elem())
			if s, ok := row[i].(string); ok {
				row[i] = transport.TrimPadding(res.Columns[i].Type, s)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

func normalize(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC()
	case netip.Addr:
		return x
	case net.IP:
		a, _ := netip.AddrFromSlice(x)
		return a
	case string:
		return x
	}
	switch v.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return v.Uint()
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return v.Int()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
