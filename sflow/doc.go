// Package sflow encodes and decodes sFlow version 5 datagrams
// (https://sflow.org/sflow_version_5.txt, https://sflow.org/sflow_host.txt).
//
// Decoding fills a caller-owned, reused Datagram with no allocation in
// steady state:
//
//	var d sflow.Decoder // zero value: hostflow records under DefaultEnterprise
//	var dg sflow.Datagram
//	for {
//		n, _ := conn.Read(buf)
//		if err := d.Decode(buf[:n], &dg); err != nil { ... }
//		for i := range dg.FlowSamples { s := &dg.FlowSamples[i]; ... }
//	}
//
// Variable-length fields ([]byte strings, sampled header bytes) are
// sub-slices of the input buffer: they are valid only until that buffer is
// reused. Copy what must outlive it.
//
// Each sample carries one typed struct per known record plus a bitmask (Has)
// of the records actually present; unknown records and samples are skipped
// by their length and listed (format and raw bytes) rather than failing the
// datagram. Records longer than their known layout are accepted (the spec
// lets enterprises append fields) and the tail is ignored.
//
// Counter values are exposed exactly as sent: 0xFFFFFFFF (or all ones for
// 64-bit counters) means "unavailable" in sFlow and is not translated.
//
// Encoding appends samples to byte slices (AppendFlowSample,
// AppendCounterSample); a Packer fills datagrams up to a maximum size,
// numbers them and hands each one to a callback.
//
// The package depends on nothing but the standard library.
package sflow

import "fmt"

// Version is the only sFlow version this package reads and writes.
const Version = 5

// DefaultEnterprise is the SMI enterprise number under which hostflow's own
// records (ProcessInfo, InterfaceInfo) are encoded unless configured
// otherwise. It is 0xFFFFF, the highest 20-bit value an sFlow data_format can
// carry: IANA has assigned private enterprise numbers only up to the tens of
// thousands, so this value is not anyone's. Sites owning a PEN can configure
// it on both ends (Decoder.Enterprise, PackerConfig.Enterprise).
const DefaultEnterprise uint32 = 0xFFFFF

// MaxEnterprise is the largest enterprise number a data_format can carry.
const MaxEnterprise uint32 = 1<<20 - 1

// DataFormat is an sFlow data_format: enterprise << 12 | format.
type DataFormat uint32

// MakeFormat builds a DataFormat. The enterprise is truncated to 20 bits and
// the format to 12.
func MakeFormat(enterprise, format uint32) DataFormat {
	return DataFormat((enterprise&MaxEnterprise)<<12 | format&0xFFF)
}

// Enterprise is the 20-bit SMI enterprise number.
func (f DataFormat) Enterprise() uint32 { return uint32(f) >> 12 }

// Format is the 12-bit format number within the enterprise.
func (f DataFormat) Format() uint32 { return uint32(f) & 0xFFF }

// String renders the format as "enterprise:format".
func (f DataFormat) String() string { return fmt.Sprintf("%d:%d", f.Enterprise(), f.Format()) }

// Sample formats (enterprise 0).
const (
	FormatFlowSample            DataFormat = 1
	FormatCounterSample         DataFormat = 2
	FormatFlowSampleExpanded    DataFormat = 3
	FormatCounterSampleExpanded DataFormat = 4
	FormatDiscardedPacket       DataFormat = 5 // not decoded: listed in Datagram.UnknownSamples
)

// Flow record formats (enterprise 0), plus hostflow's (see ProcessInfo).
const (
	FormatSampledHeader    DataFormat = 1
	FormatSampledEthernet  DataFormat = 2
	FormatSampledIPv4      DataFormat = 3
	FormatSampledIPv6      DataFormat = 4
	FormatExtendedSwitch   DataFormat = 1001
	FormatExtendedRouter   DataFormat = 1002
	FormatExtendedGateway  DataFormat = 1003
	FormatExtendedUser     DataFormat = 1004
	FormatExtendedURL      DataFormat = 1005
	FormatExtendedSocketV4 DataFormat = 2100
	FormatExtendedSocketV6 DataFormat = 2101
	FormatExtendedTCPInfo  DataFormat = 2209
)

// Counter record formats (enterprise 0).
const (
	FormatGenericInterface DataFormat = 1
	FormatEthernet         DataFormat = 2
	FormatVLAN             DataFormat = 5
	FormatProcessor        DataFormat = 1001
	FormatPortName         DataFormat = 1005
	FormatHostDescr        DataFormat = 2000
	FormatHostAdapters     DataFormat = 2001
	FormatHostParent       DataFormat = 2002
	FormatHostCPU          DataFormat = 2003
	FormatHostMemory       DataFormat = 2004
	FormatHostDiskIO       DataFormat = 2005
	FormatHostNetIO        DataFormat = 2006
	FormatMIB2IP           DataFormat = 2007
	FormatMIB2ICMP         DataFormat = 2008
	FormatMIB2TCP          DataFormat = 2009
	FormatMIB2UDP          DataFormat = 2010
)

// Format numbers of hostflow's records within its enterprise.
const (
	HostflowFormatProcess   uint32 = 1 // flow record: ProcessInfo
	HostflowFormatInterface uint32 = 2 // counter record: InterfaceInfo
)
