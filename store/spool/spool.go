// Package spool keeps Native blocks on disk while the store cannot take
// them, and gives them back oldest first. One file per block:
//
//	"HFSPOOL1" | uvarint(len(table)) table | uvarint(rows) | uint32 CRC-32C(block) | block
//
// Files are written to a temporary name, fsynced and renamed, so a crash
// leaves either a whole block or nothing. The spool is bounded in bytes:
// adding a block that does not fit evicts the oldest blocks first.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hostflow/hostflow/store/native"
)

const (
	magic  = "HFSPOOL1"
	suffix = ".block"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one spooled block.
type Entry struct {
	Seq   uint64
	Table string
	Rows  int
	Size  int64
	path  string
}

// Spool is a directory of blocks. Safe for concurrent use.
type Spool struct {
	dir string
	max int64

	mu      sync.Mutex
	entries []Entry // by Seq
	bytes   int64
	next    uint64
}

// Open opens (creating it) the spool directory holding at most maxBytes.
// Leftover temporary files from a crash are removed; unreadable headers are
// reported by Read later, not here, so opening stays fast.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, max: maxBytes}
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(path)
			continue
		}
		seqText, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		table, rows, _ := readHeader(path)
		s.entries = append(s.entries, Entry{Seq: seq, Table: table, Rows: rows, Size: info.Size(), path: path})
		s.bytes += info.Size()
		if seq >= s.next {
			s.next = seq + 1
		}
	}
	sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].Seq < s.entries[j].Seq })
	return s, nil
}

// Dir is the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Len is the number of blocks.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes is the size of the spooled blocks.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// ErrTooLarge is returned for a block bigger than the whole spool.
var ErrTooLarge = errors.New("spool: block larger than the spool")

// Put writes b for table and returns the entries evicted to make room.
func (s *Spool) Put(table string, b *native.Block) ([]Entry, error) {
	head := []byte(magic)
	head = binary.AppendUvarint(head, uint64(len(table)))
	head = append(head, table...)
	head = binary.AppendUvarint(head, uint64(b.Rows))
	payload := b.AppendTo(make([]byte, 0, b.Size()))
	size := int64(len(head) + 4 + len(payload))
	if size > s.max {
		return nil, ErrTooLarge
	}
	s.mu.Lock()
	seq := s.next
	s.next++
	var evicted []Entry
	for s.bytes+size > s.max && len(s.entries) > 0 {
		e := s.entries[0]
		s.entries = s.entries[1:]
		s.bytes -= e.Size
		os.Remove(e.path)
		evicted = append(evicted, e)
	}
	// Reserve the space now so concurrent writers do not overshoot.
	s.bytes += size
	s.mu.Unlock()

	path := filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, suffix))
	err := writeFile(path, head, crc32.Checksum(payload, castagnoli), payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bytes -= size
		return evicted, fmt.Errorf("spool: %w", err)
	}
	e := Entry{Seq: seq, Table: table, Rows: b.Rows, Size: size, path: path}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Seq > seq })
	s.entries = append(s.entries, Entry{})
	copy(s.entries[i+1:], s.entries[i:])
	s.entries[i] = e
	return evicted, nil
}

func writeFile(path string, head []byte, crc uint32, payload []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	head = binary.LittleEndian.AppendUint32(head, crc)
	_, err = f.Write(head)
	if err == nil {
		_, err = f.Write(payload)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Oldest returns the oldest entry.
func (s *Spool) Oldest() (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 {
		return Entry{}, false
	}
	return s.entries[0], true
}

// Head returns up to n of the oldest entries, oldest first.
func (s *Spool) Head(n int) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.entries[:min(n, len(s.entries))]...)
}

// Read loads and checks an entry's block. A corrupt entry gives an error;
// the caller removes it.
func (s *Spool) Read(e Entry) (string, *native.Block, error) {
	data, err := os.ReadFile(e.path)
	if err != nil {
		return "", nil, fmt.Errorf("spool: %w", err)
	}
	return decodeFile(data)
}

func decodeFile(data []byte) (string, *native.Block, error) {
	table, rows, off, err := parseHeader(data)
	if err != nil {
		return "", nil, err
	}
	if len(data)-off < 4 {
		return "", nil, errors.New("spool: truncated header")
	}
	crc := binary.LittleEndian.Uint32(data[off:])
	payload := data[off+4:]
	if crc32.Checksum(payload, castagnoli) != crc {
		return "", nil, errors.New("spool: checksum mismatch")
	}
	b, err := native.Decode(payload)
	if err != nil {
		return "", nil, fmt.Errorf("spool: %w", err)
	}
	if b.Rows != rows {
		return "", nil, fmt.Errorf("spool: header says %d rows, block has %d", rows, b.Rows)
	}
	return table, b, nil
}

func parseHeader(data []byte) (table string, rows, off int, err error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return "", 0, 0, errors.New("spool: not a spool file")
	}
	off = len(magic)
	n, k := binary.Uvarint(data[off:])
	if k <= 0 || n > 256 || uint64(len(data)-off-k) < n {
		return "", 0, 0, errors.New("spool: bad table name")
	}
	off += k
	table = string(data[off : off+int(n)])
	off += int(n)
	r, k := binary.Uvarint(data[off:])
	if k <= 0 || r > 1<<31 {
		return "", 0, 0, errors.New("spool: bad row count")
	}
	return table, int(r), off + k, nil
}

func readHeader(path string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	table, rows, _, err := parseHeader(buf[:n])
	return table, rows, err
}

// Remove deletes an entry (after it was written to the store, or found
// corrupt).
func (s *Spool) Remove(e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.entries {
		if s.entries[i].Seq == e.Seq {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			s.bytes -= e.Size
			if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("spool: %w", err)
			}
			return nil
		}
	}
	return nil
}
