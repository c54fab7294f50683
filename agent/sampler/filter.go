package sampler

import (
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// LinkType is what a packet socket sees first on an interface.
type LinkType uint8

const (
	// LinkEthernet: a 14-byte Ethernet header precedes the network header
	// (ARPHRD_ETHER, ARPHRD_LOOPBACK).
	LinkEthernet LinkType = iota
	// LinkIP: the packet starts with the IPv4 or IPv6 header, told apart by
	// the first nibble (ARPHRD_NONE tun devices such as tailscale0 and wg0,
	// ARPHRD_RAWIP).
	LinkIP
)

// maxFilterJump is the longest forward jump a classic BPF conditional can
// encode (8-bit skip counts).
const maxFilterJump = 255

// Filter returns the classic BPF program attached to every packet socket:
// it keeps one packet in rate at random (SKF_AD_RANDOM, the kernel's
// prandom_u32, as hsflowd does), then drops the agent's own export
// datagrams (UDP to one of exclude) so the agent never samples itself, and
// truncates what it keeps to snap bytes. The random test comes first so the
// cost for the packets that are not sampled is three instructions.
func Filter(link LinkType, rate, snap uint32, exclude []netip.AddrPort) ([]bpf.RawInstruction, error) {
	if rate == 0 {
		return nil, fmt.Errorf("sampling rate 0")
	}
	var a asm
	if rate > 1 {
		a.emit(bpf.LoadExtension{Num: bpf.ExtRand})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: rate})
		a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0}, "", "drop")
	}
	var v4, v6 []netip.AddrPort
	for _, ap := range exclude {
		if a := ap.Addr().Unmap(); a.Is4() {
			v4 = append(v4, netip.AddrPortFrom(a, ap.Port()))
		} else {
			v6 = append(v6, ap)
		}
	}
	if len(v4)+len(v6) > 0 {
		l3 := uint32(0)
		switch link {
		case LinkEthernet:
			l3 = 14
			a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800}, "v4", "")
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd}, "v6", "accept")
		case LinkIP:
			a.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4}, "v4", "")
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6}, "v6", "accept")
		}
		a.label("v4")
		if len(v4) > 0 {
			a.emit(bpf.LoadAbsolute{Off: l3 + 9, Size: 1})
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17}, "", "accept")
			// Fragments other than the first carry no UDP header.
			a.emit(bpf.LoadAbsolute{Off: l3 + 6, Size: 2})
			a.jump(bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff}, "accept", "")
			a.emit(bpf.LoadMemShift{Off: l3})
			for i, ap := range v4 {
				next := fmt.Sprintf("v4-%d", i+1)
				b := ap.Addr().As4()
				a.emit(bpf.LoadAbsolute{Off: l3 + 16, Size: 4})
				a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: be32(b[:])}, "", next)
				a.emit(bpf.LoadIndirect{Off: l3 + 2, Size: 2})
				a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ap.Port())}, "drop", next)
				a.label(next)
			}
		}
		a.jumpAlways("accept")
		a.label("v6")
		if len(v6) > 0 {
			// Only a UDP header right after the fixed header is recognised:
			// the agent's own datagrams carry no extension headers.
			a.emit(bpf.LoadAbsolute{Off: l3 + 6, Size: 1})
			a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17}, "", "accept")
			for i, ap := range v6 {
				next := fmt.Sprintf("v6-%d", i+1)
				b := ap.Addr().As16()
				for w := 0; w < 4; w++ {
					a.emit(bpf.LoadAbsolute{Off: l3 + 24 + uint32(4*w), Size: 4})
					a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: be32(b[4*w:])}, "", next)
				}
				a.emit(bpf.LoadAbsolute{Off: l3 + 40 + 2, Size: 2})
				a.jump(bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ap.Port())}, "drop", next)
				a.label(next)
			}
		}
	}
	a.label("accept")
	a.emit(bpf.RetConstant{Val: snap})
	a.label("drop")
	a.emit(bpf.RetConstant{Val: 0})
	return a.assemble()
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// asm is a tiny assembler resolving symbolic jump targets: cBPF jumps are
// relative skip counts, which are error-prone to write by hand.
type asm struct {
	insns  []bpf.Instruction
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at          int
	true, false string // "" = fall through
	always      bool
}

func (a *asm) emit(i bpf.Instruction) { a.insns = append(a.insns, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.insns)
}

func (a *asm) jump(j bpf.JumpIf, ifTrue, ifFalse string) {
	a.fixups = append(a.fixups, fixup{at: len(a.insns), true: ifTrue, false: ifFalse})
	a.emit(j)
}

func (a *asm) jumpAlways(to string) {
	a.fixups = append(a.fixups, fixup{at: len(a.insns), true: to, always: true})
	a.emit(bpf.Jump{})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, to string) (int, error) {
		if to == "" {
			return 0, nil
		}
		t, ok := a.labels[to]
		if !ok {
			return 0, fmt.Errorf("bpf: undefined label %q", to)
		}
		return t - from - 1, nil
	}
	for _, f := range a.fixups {
		st, err := skip(f.at, f.true)
		if err != nil {
			return nil, err
		}
		if f.always {
			a.insns[f.at] = bpf.Jump{Skip: uint32(st)}
			continue
		}
		sf, err := skip(f.at, f.false)
		if err != nil {
			return nil, err
		}
		if st > maxFilterJump || sf > maxFilterJump {
			return nil, fmt.Errorf("bpf: filter too long (too many excluded collectors)")
		}
		j := a.insns[f.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
		a.insns[f.at] = j
	}
	return bpf.Assemble(a.insns)
}
