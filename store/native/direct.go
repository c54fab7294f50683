package native

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
)

// Reading a field through its accessor costs one or more indirect calls per
// column; with ~75 columns that dominates encoding. The encoder therefore
// resolves, once, which struct field each accessor returns (by probing it
// with records whose fields hold distinct values) and then loads that field
// straight from memory. Accessors that compute their value (no single field
// matches) keep being called.

type source uint8

const (
	srcCall source = iota // call the accessor
	srcU8
	srcU16
	srcU32
	srcU64
	srcF32
	srcString
	srcAddr
)

type direct struct {
	src source
	off uintptr
}

var addrType = reflect.TypeFor[netip.Addr]()

// resolve finds the field of T that f's accessor returns.
func resolve[T any](f *Field[T]) direct {
	rt := reflect.TypeFor[T]()
	if rt.Kind() != reflect.Struct {
		return direct{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var candidates []int
	// Two rounds of distinct random values: the matching field must track
	// the accessor both times.
	for round := 0; round < 2; round++ {
		var rec T
		v := reflect.ValueOf(&rec).Elem()
		for i := 0; i < rt.NumField(); i++ {
			fv := v.Field(i)
			if !fv.CanSet() {
				continue
			}
			switch {
			case fv.Type() == addrType:
				var a [16]byte
				for j := range a {
					a[j] = byte(rng.Uint32())
				}
				fv.Set(reflect.ValueOf(netip.AddrFrom16(a)))
			case fv.Kind() >= reflect.Uint8 && fv.Kind() <= reflect.Uint64:
				fv.SetUint(rng.Uint64())
			case fv.Kind() == reflect.Float32:
				fv.SetFloat(float64(rng.Float32()))
			case fv.Kind() == reflect.String:
				fv.SetString(string(rune('a'+rng.IntN(26))) + string(rune('a'+rng.IntN(26))) + string(rune('a'+i%26)) + string(rune('a'+i/26)))
			}
		}
		var matches []int
		for i := 0; i < rt.NumField(); i++ {
			fv := v.Field(i)
			if !fv.CanSet() {
				continue
			}
			switch {
			case f.Addr != nil && fv.Type() == addrType:
				if f.Addr(&rec) == fv.Interface().(netip.Addr) {
					matches = append(matches, i)
				}
			case f.Str != nil && fv.Kind() == reflect.String:
				if f.Str(&rec) == fv.String() {
					matches = append(matches, i)
				}
			case f.Uint != nil && fv.Kind() >= reflect.Uint8 && fv.Kind() <= reflect.Uint64 && fv.Type() != addrType:
				if f.Uint(&rec) == fv.Uint() {
					matches = append(matches, i)
				}
			case f.Float != nil && fv.Kind() == reflect.Float32:
				if f.Float(&rec) == fv.Float() && !math.IsNaN(fv.Float()) {
					matches = append(matches, i)
				}
			}
		}
		if round == 0 {
			candidates = matches
		} else {
			candidates = intersect(candidates, matches)
		}
	}
	if len(candidates) != 1 {
		return direct{}
	}
	sf := rt.Field(candidates[0])
	d := direct{off: sf.Offset}
	switch {
	case sf.Type == addrType:
		d.src = srcAddr
	case sf.Type.Kind() == reflect.String:
		d.src = srcString
	case sf.Type.Kind() == reflect.Float32:
		d.src = srcF32
	case sf.Type.Kind() == reflect.Uint8:
		d.src = srcU8
	case sf.Type.Kind() == reflect.Uint16:
		d.src = srcU16
	case sf.Type.Kind() == reflect.Uint32:
		d.src = srcU32
	case sf.Type.Kind() == reflect.Uint64:
		d.src = srcU64
	default:
		return direct{}
	}
	return d
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}
