// Package pcapfile reads classic pcap files (the format tcpdump -w
// writes), for tests that check decoders against real captures.
package pcapfile

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Link types of the files hostflow's tests read (LINKTYPE_* values).
const (
	LinkEthernet = 1
	LinkRaw      = 101
	LinkLinuxSLL = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
)

// Frame is one captured frame.
type Frame struct {
	Sec  uint32 // capture time, Unix seconds
	Data []byte // as captured (up to the snap length)
}

// Read returns the link type of the capture at path and its frames, in
// order.
func Read(path string) (link uint32, frames []Frame, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 24 {
		return 0, nil, fmt.Errorf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return 0, nil, fmt.Errorf("%s: not a pcap file", path)
	}
	link = bo.Uint32(b[20:])
	for off := 24; off < len(b); {
		if len(b) < off+16 {
			return 0, nil, fmt.Errorf("%s: short record header at %d", path, off)
		}
		sec, n := bo.Uint32(b[off:]), int(bo.Uint32(b[off+8:]))
		off += 16
		if len(b) < off+n {
			return 0, nil, fmt.Errorf("%s: short record at %d", path, off)
		}
		frames = append(frames, Frame{Sec: sec, Data: b[off : off+n]})
		off += n
	}
	return link, frames, nil
}
