package sflow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// u32s builds wire bytes from 32-bit words.
func u32s(words ...uint32) []byte {
	var b []byte
	for _, w := range words {
		b = appendU32(b, w)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// header4 is a datagram header from 192.0.2.1 announcing n samples.
func header4(n uint32) []byte { return AppendDatagramHeader(nil, agent4, 0, 1, 0, n) }

func TestDecodeErrors(t *testing.T) {
	goodCounter := u32s(uint32(FormatCounterSampleExpanded), 16, 1, 0, 1, 0) // no records
	cases := []struct {
		name   string
		in     []byte
		is     error
		substr string
	}{
		{"empty", nil, ErrTruncated, "offset 0: version: need 4 bytes, 0 left"},
		{"version 4", u32s(4, 1, 0x01020304), ErrVersion, "version 4"},
		{"agent address type 3", u32s(5, 3, 0, 0, 0, 0), ErrAddressType, "offset 4: agent address: type 3"},
		{"IPv6 agent truncated", u32s(5, 2, 0, 0), ErrTruncated, "agent address: need 16 bytes, 8 left"},
		{"sample count lies", u32s(5, 1, 0, 0, 1, 0, 1000000000), ErrTruncated, "sample count"},
		{"sample length lies", cat(header4(1), u32s(1, 0xFFFFFFF0)), ErrTruncated,
			"sample 0: offset 36: sample data: need 4294967280 bytes, 0 left"},
		{"flow sample shorter than its fixed part", cat(header4(1), u32s(uint32(FormatFlowSampleExpanded), 8, 1, 2)),
			ErrTruncated, "sample 0 (0:3): offset 36: expanded flow sample fields: need 40 bytes, 8 left"},
		{"counter sample record count lies", cat(header4(1), u32s(uint32(FormatCounterSample), 12, 1, 3, 0x7FFFFFFF)),
			ErrTruncated, "record count: need 17179869176 bytes, 0 left"},
		{"record length beyond its sample", cat(header4(1), u32s(uint32(FormatCounterSample), 20, 1, 3, 1, 1, 100)),
			ErrTruncated, "record 0: offset 56: record data: need 100 bytes, 0 left"},
		{"sampled header length beyond its record", cat(header4(1),
			u32s(uint32(FormatFlowSample), 32+8+20, 1, 3, 100, 1000, 0, 1, 2, 1),
			u32s(uint32(FormatSampledHeader), 20, 1, 64, 4, 128, 0)), ErrTruncated,
			"record 0 (0:1): offset 92: header: need 128 bytes, 4 left"},
		{"AS path segment count lies", cat(header4(1),
			u32s(uint32(FormatFlowSample), 32+8+20, 1, 3, 100, 1000, 0, 1, 2, 1),
			u32s(uint32(FormatExtendedGateway), 20, 0, 1, 2, 3, 1000000)), ErrTruncated,
			"record 0 (0:1003): offset 96: as path segment count: need 8000000 bytes, 0 left"},
		{"adapter MAC count lies", cat(header4(1),
			u32s(uint32(FormatCounterSample), 12+8+12, 1, 3, 1),
			u32s(uint32(FormatHostAdapters), 12, 1, 2, 0xFFFFFFFF)), ErrTruncated, "adapter MAC count"},
		{"bad next hop type", cat(header4(1),
			u32s(uint32(FormatFlowSample), 32+8+12, 1, 3, 100, 1000, 0, 1, 2, 1),
			u32s(uint32(FormatExtendedRouter), 12, 9, 24, 24)), ErrAddressType, "next hop: type 9"},
		{"second sample bad, first kept", cat(header4(2), goodCounter, u32s(uint32(FormatFlowSample), 4, 1)),
			ErrTruncated, "sample 1 (0:1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			var dg Datagram
			err := d.Decode(tc.in, &dg)
			if err == nil {
				t.Fatalf("no error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %q", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not say %q", err, tc.substr)
			}
		})
	}
}

// TestDecodeKeepsSamplesBeforeError: the samples before a bad one survive.
func TestDecodeKeepsSamplesBeforeError(t *testing.T) {
	in := cat(header4(2), u32s(uint32(FormatCounterSampleExpanded), 16, 7, 0, 3, 0), u32s(uint32(FormatFlowSample), 4, 1))
	var d Decoder
	var dg Datagram
	if err := d.Decode(in, &dg); err == nil {
		t.Fatal("no error")
	}
	want := []CounterSample{{Expanded: true, SequenceNumber: 7, SourceIndex: 3}}
	if diff := cmp.Diff(dg.CounterSamples, want, cmpOpts); diff != "" {
		t.Errorf("counter samples (-got +want):\n%s", diff)
	}
	if len(dg.FlowSamples) != 0 {
		t.Errorf("%d flow samples, want the bad one dropped", len(dg.FlowSamples))
	}
}

// TestDecodeEveryTruncation cuts golden datagrams at every length: each cut
// must be a clean ErrTruncated error, never a panic or a silent success.
func TestDecodeEveryTruncation(t *testing.T) {
	for _, name := range []string{"all-expanded-ipv6.hex", "all-compact-ipv4.hex"} {
		full := readGolden(t, name)
		var d Decoder
		var dg Datagram
		if err := d.Decode(full, &dg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for n := range len(full) {
			err := d.Decode(full[:n], &dg)
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut at %d: error %v, want ErrTruncated", name, n, err)
			}
		}
	}
}

// TestDecodeUnknown: unknown samples and records are skipped by length and
// listed; known records after them are still decoded.
func TestDecodeUnknown(t *testing.T) {
	discard := u32s(1, 3, 5, 0, 0, 2)
	vendorRecord := u32s(0xdeadbeef, 0x01020304)
	in := cat(header4(3),
		u32s(uint32(FormatDiscardedPacket), uint32(len(discard))), discard,
		u32s(uint32(FormatFlowSample), 32+16+24, 1, 3, 100, 1000, 0, 1, 2, 2),
		u32s(uint32(MakeFormat(4413, 7)), 8), vendorRecord,
		u32s(uint32(FormatExtendedSwitch), 16, 10, 1, 20, 2),
		u32s(uint32(FormatCounterSample), 12+16+16+16, 1, 3, 3),
		u32s(uint32(FormatPortName), 5+3), []byte{0, 0, 0, 1, 'x', 0, 0, 0}, // unpadded
		u32s(uint32(MakeFormat(0, 1043)), 5), []byte{0, 0, 0, 0, 42, 0, 0, 0}, // 5 bytes, padded
		u32s(uint32(FormatHostParent), 8, 2, 1),
	)

	var d Decoder
	var dg Datagram
	if err := d.Decode(in, &dg); err != nil {
		t.Fatal(err)
	}
	want := Datagram{AgentAddress: agent4, SequenceNumber: 1,
		UnknownSamples: []Unknown{{Format: FormatDiscardedPacket, Data: discard}},
		FlowSamples: []FlowSample{{SequenceNumber: 1, SourceIndex: 3, SamplingRate: 100, SamplePool: 1000,
			Input: 1, Output: 2, Has: HasSwitch, Switch: ExtendedSwitch{SrcVLAN: 10, SrcPriority: 1, DstVLAN: 20, DstPriority: 2},
			Unknown: []Unknown{{Format: MakeFormat(4413, 7), Data: vendorRecord}}}},
		CounterSamples: []CounterSample{{SequenceNumber: 1, SourceIndex: 3, Has: HasPortName | HasHostParent,
			PortName: []byte{0, 0, 0, 1, 'x'}[4:], HostParent: HostParent{ContainerType: 2, ContainerIndex: 1},
			Unknown: []Unknown{{Format: MakeFormat(0, 1043), Data: []byte{0, 0, 0, 0, 42}}}}},
	}
	if diff := cmp.Diff(&dg, &want, cmpOpts); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestDecodeExtendedRecords: records longer than their known layout (fields
// appended by a later spec) decode, and the tail is skipped.
func TestDecodeExtendedRecords(t *testing.T) {
	var generic []byte
	g := genericCounters()
	generic = appendGeneric(generic, &g)
	cpu := make([]byte, 68) // the pre-2014 host_cpu
	copy(cpu[12:], u32s(3, 400, 8))
	in := cat(header4(1),
		u32s(uint32(FormatCounterSampleExpanded), 16+8+88+8+8+68, 1, 0, 3, 2),
		u32s(uint32(FormatGenericInterface), 88+8), generic, u32s(0xAAAAAAAA, 0xBBBBBBBB),
		u32s(uint32(FormatHostCPU), 68), cpu,
	)
	var d Decoder
	var dg Datagram
	if err := d.Decode(in, &dg); err != nil {
		t.Fatal(err)
	}
	want := []CounterSample{{Expanded: true, SequenceNumber: 1, SourceIndex: 3, Has: HasGeneric | HasHostCPU,
		Generic: g, HostCPU: HostCPU{ProcRun: 3, ProcTotal: 400, CPUNum: 8}}}
	if diff := cmp.Diff(dg.CounterSamples, want, cmpOpts); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestEnterprise: hostflow's records follow the configured enterprise; a
// decoder configured otherwise lists them as unknown.
func TestEnterprise(t *testing.T) {
	const ent = 54321
	dg := Datagram{AgentAddress: agent4, FlowSamples: []FlowSample{{Expanded: true, Has: HasProcess, Process: processRecord()}}}
	e := Encoder{Enterprise: ent}
	b, err := e.AppendDatagram(nil, &dg)
	if err != nil {
		t.Fatal(err)
	}
	var got Datagram
	d := Decoder{Enterprise: ent}
	if err := d.Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&got, &dg, cmpOpts); diff != "" {
		t.Errorf("configured enterprise (-got +want):\n%s", diff)
	}
	var def Decoder
	if err := def.Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	s := got.FlowSamples[0]
	if s.Has != 0 || len(s.Unknown) != 1 || s.Unknown[0].Format != MakeFormat(ent, HostflowFormatProcess) {
		t.Errorf("default decoder: Has %b, Unknown %v; want the record listed as unknown %d:1", s.Has, s.Unknown, ent)
	}
}

// TestDecodeReuse: decoding into a used Datagram leaves nothing from the
// previous datagram, and does not allocate.
func TestDecodeReuse(t *testing.T) {
	big := readGolden(t, "all-expanded-ipv6.hex")
	small := Datagram{AgentAddress: agent4, SequenceNumber: 2,
		FlowSamples:    []FlowSample{{Has: HasSwitch, Switch: ExtendedSwitch{SrcVLAN: 1}}},
		CounterSamples: []CounterSample{{Has: HasGeneric, Generic: genericCounters()}}}
	var e Encoder
	smallBytes, err := e.AppendDatagram(nil, &small)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	var dg Datagram
	for range 2 {
		if err := d.Decode(big, &dg); err != nil {
			t.Fatal(err)
		}
		if err := d.Decode(smallBytes, &dg); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&dg, &small, cmpOpts); diff != "" {
			t.Fatalf("after reuse (-got +want):\n%s", diff)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = d.Decode(big, &dg)
		_ = d.Decode(smallBytes, &dg)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode of a reused Datagram, want 0", allocs)
	}
}

func TestDataFormat(t *testing.T) {
	f := MakeFormat(DefaultEnterprise, HostflowFormatProcess)
	if f.Enterprise() != DefaultEnterprise || f.Format() != 1 || f.String() != "1048575:1" {
		t.Errorf("MakeFormat(%d, 1) = %#x: %d:%d %q", DefaultEnterprise, uint32(f), f.Enterprise(), f.Format(), f)
	}
	if a := netip.MustParseAddr("::ffff:192.0.2.1"); DatagramHeaderLen(a) != 40 {
		t.Errorf("an IPv4-mapped agent is sent as IPv6: header %d bytes, want 40", DatagramHeaderLen(a))
	}
}

// TestDecodeWhole: the records decoded straight from their bytes
// (decodeWhole) read the same as through the cursor (decode), whole or cut
// anywhere, and are refused exactly when the cursor finds them short.
func TestDecodeWhole(t *testing.T) {
	long := ProcessInfo{PID: 1, UID: 2, Comm: []byte("abc"), Exe: []byte("abcde"), Cgroup: []byte("/a/b/c.scope"),
		Unit: []byte("c.scope"), Container: []byte("0123456789abcdef0"), User: []byte("u")}
	processes := []ProcessInfo{processRecord(), long, {UID: UIDUnknown}}
	headers := []SampledHeader{flowSampleAll(true).SampledHeader,
		{Protocol: HeaderIPv4, FrameLength: 1500, Header: tcpHeader(61)}, {Protocol: HeaderEthernet, FrameLength: 64, Stripped: 4}}
	var bodies [][]byte
	for _, p := range processes {
		bodies = append(bodies, recordBody(t, FlowSample{Has: HasProcess, Process: p}))
	}
	for _, h := range headers {
		bodies = append(bodies, recordBody(t, FlowSample{Has: HasSampledHeader, SampledHeader: h}))
	}
	for i, body := range bodies {
		// Every cut, the whole body, and the body with an extension after it.
		for n := 0; n <= len(body)+1; n++ {
			b := append(body[:len(body):len(body)], 0xAA, 0xBB, 0xCC, 0xDD)[:n]
			var f failure
			var whole, cur ProcessInfo
			var wholeH, curH SampledHeader
			c := newCursor(b, &f)
			var ok bool
			if i < len(processes) {
				ok = whole.decodeWhole(b)
				cur.decode(&c)
			} else {
				ok = wholeH.decodeWhole(b)
				curH.decode(&c)
			}
			err := c.err()
			if ok != (err == nil) {
				t.Fatalf("body %d cut at %d of %d: decodeWhole says %v, the cursor %v", i, n, len(body), ok, err)
			}
			if !ok {
				continue
			}
			if diff := cmp.Diff(whole, cur, cmp.AllowUnexported(ProcessInfo{})); diff != "" {
				t.Errorf("body %d cut at %d: process (-decodeWhole +decode):\n%s", i, n, diff)
			}
			if diff := cmp.Diff(wholeH, curH); diff != "" {
				t.Errorf("body %d cut at %d: sampled header (-decodeWhole +decode):\n%s", i, n, diff)
			}
			if n == len(body) && i < len(processes) {
				if diff := cmp.Diff(whole, processes[i], cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(ProcessInfo{})); diff != "" {
					t.Errorf("body %d: process (-decoded +encoded):\n%s", i, diff)
				}
				if !bytes.Equal(whole.Raw(), b) {
					t.Errorf("body %d: Raw() = %x, want the body %x", i, whole.Raw(), b)
				}
			}
		}
	}
}

// recordBody is the body of the one record of s, as the encoder writes it.
func recordBody(t *testing.T, s FlowSample) []byte {
	t.Helper()
	s.Expanded = true
	var e Encoder
	b, err := e.AppendFlowSample(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	const at = 8 + 40 + 4 + 8 // sample format and length, fields, record count, record format and length
	return b[at : at+int(binary.BigEndian.Uint32(b[at-4:]))]
}
