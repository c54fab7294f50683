package sflow

// hostflow's enterprise records. Their layouts are documented for other
// implementers in docs/sflow-records.md; keep the two in step. New fields may
// only be appended (decoders ignore a longer tail, as the spec requires).

// UIDUnknown is ProcessInfo.UID when the owner is unknown (0 is root).
const UIDUnknown uint32 = 0xFFFFFFFF

// Maximum string lengths of hostflow's records. The encoder truncates longer
// values to these; the decoder accepts any length that fits in the record.
const (
	MaxCommLen      = 16  // TASK_COMM_LEN
	MaxExeLen       = 255 // NAME_MAX: the basename only
	MaxCgroupLen    = 256
	MaxUnitLen      = 256
	MaxContainerLen = 128
	MaxUserLen      = 64
	MaxIfNameLen    = 64 // IFNAMSIZ is 16; altnames reach 128, longer is truncated
	MaxIfAliasLen   = 256
	MaxIfKindLen    = 32
)

// ProcessInfo is hostflow's flow record <enterprise>:1: the local process
// that owned the sampled packet's socket. Strings are empty when unknown.
type ProcessInfo struct {
	PID       uint32 // 0 unknown
	UID       uint32 // UIDUnknown when unknown
	Comm      []byte // kernel task name (≤ 16)
	Exe       []byte // executable basename (≤ 255)
	Cgroup    []byte // cgroup v2 path (≤ 256)
	Unit      []byte // systemd unit (≤ 256)
	Container []byte // container ID (≤ 128)
	User      []byte // user name of UID (≤ 64)

	raw []byte // the record's body, when decoded
}

// Raw returns the record's body as Decode read it (a sub-slice of the
// datagram, like the strings), or nil if p was not decoded. Equal bodies
// are equal records, so a collector can recognise a process it has seen
// with one comparison instead of one per string. Raw is not updated when
// fields are changed.
func (p *ProcessInfo) Raw() []byte { return p.raw }

// IfKind is the kind of an interface in InterfaceInfo.
type IfKind uint32

// Interface kinds. Other covers everything not listed; InterfaceInfo.KindName
// then says what it is (the rtnetlink IFLA_INFO_KIND, e.g. "vxlan").
const (
	IfKindUnknown   IfKind = 0
	IfKindOther     IfKind = 1
	IfKindPhysical  IfKind = 2
	IfKindLoopback  IfKind = 3
	IfKindTun       IfKind = 4 // tun/tap, including tailscale0
	IfKindBridge    IfKind = 5
	IfKindVeth      IfKind = 6
	IfKindVLAN      IfKind = 7
	IfKindBond      IfKind = 8
	IfKindWireGuard IfKind = 9
)

var ifKindNames = [...]string{"unknown", "other", "physical", "loopback", "tun", "bridge", "veth", "vlan", "bond", "wireguard"}

// String is the kind's lower-case name ("other" for values beyond the list).
func (k IfKind) String() string {
	if int(k) < len(ifKindNames) {
		return ifKindNames[k]
	}
	return "other"
}

// InterfaceInfo is hostflow's counter record <enterprise>:2, sent in each
// interface's counter sample: what a collector would otherwise have to learn
// from SNMP.
type InterfaceInfo struct {
	IfIndex     uint32
	Kind        IfKind
	MTU         uint32
	MasterIndex uint32 // ifIndex of the bridge/bond it is enslaved to, 0 none
	Name        []byte // ifName (≤ 64)
	Alias       []byte // ifAlias, the operator's description (≤ 256)
	KindName    []byte // driver or link kind, e.g. "tun", "virtio_net" (≤ 32)
}
