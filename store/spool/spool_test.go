package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hostflow/hostflow/store/native"
)

func block(rows int, fill byte) *native.Block {
	return &native.Block{Rows: rows, Columns: []native.Column{
		{Name: "a", Type: "UInt64", Width: 8, Data: bytes.Repeat([]byte{fill}, 8*rows)},
	}}
}

func TestPutReadRemoveInOrder(t *testing.T) {
	s, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Put("db.t", block(10+i, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		e, ok := s.Oldest()
		if !ok {
			t.Fatalf("empty after %d reads", i)
		}
		table, b, err := s.Read(e)
		if err != nil {
			t.Fatal(err)
		}
		if table != "db.t" || b.Rows != 10+i || b.Columns[0].Data[0] != byte(i) {
			t.Errorf("block %d: table %s rows %d first byte %d", i, table, b.Rows, b.Columns[0].Data[0])
		}
		if err := s.Remove(e); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("after removing everything: %d blocks, %d bytes", s.Len(), s.Bytes())
	}
}

func TestFullSpoolEvictsOldest(t *testing.T) {
	s, err := Open(t.TempDir(), 3000)
	if err != nil {
		t.Fatal(err)
	}
	var evicted []Entry
	for i := range 5 {
		ev, err := s.Put("t", block(100, byte(i))) // ~830 bytes each
		if err != nil {
			t.Fatal(err)
		}
		evicted = append(evicted, ev...)
	}
	if s.Bytes() > 3000 {
		t.Errorf("spool holds %d bytes, bound 3000", s.Bytes())
	}
	if len(evicted) != 2 || evicted[0].Seq != 0 || evicted[1].Seq != 1 || evicted[0].Rows != 100 {
		t.Errorf("evicted %+v, want the two oldest", evicted)
	}
	e, _ := s.Oldest()
	if _, b, _ := s.Read(e); b.Columns[0].Data[0] != 2 {
		t.Errorf("oldest left is block %d, want 2", b.Columns[0].Data[0])
	}
	if _, err := s.Put("t", block(1000, 0)); err != ErrTooLarge {
		t.Errorf("oversized block: %v", err)
	}
}

func TestReopenAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 1<<20)
	s.Put("t", block(5, 1))
	s.Put("t", block(6, 2))
	os.WriteFile(filepath.Join(dir, "00000000000000000009.block.tmp"), []byte("half"), 0o640)
	// Flip a payload byte of the second block.
	path := filepath.Join(dir, "00000000000000000001.block")
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 0xff
	os.WriteFile(path, data, 0o640)

	s2, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 2 {
		t.Fatalf("reopened with %d blocks, want 2", s2.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000009.block.tmp")); !os.IsNotExist(err) {
		t.Error("temporary file left after reopen")
	}
	e, _ := s2.Oldest()
	if _, b, err := s2.Read(e); err != nil || b.Rows != 5 {
		t.Fatalf("first block: %v", err)
	}
	s2.Remove(e)
	e, _ = s2.Oldest()
	if _, _, err := s2.Read(e); err == nil {
		t.Error("corrupt block read without error")
	}
	// New blocks continue the sequence.
	s2.Put("t", block(1, 3))
	if s2.entries[len(s2.entries)-1].Seq != 2 {
		t.Errorf("sequence restarted at %d", s2.entries[len(s2.entries)-1].Seq)
	}
}

func FuzzSpoolFile(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(dir, 1<<20)
	s.Put("db.flows", block(3, 7))
	e, _ := s.Oldest()
	data, _ := os.ReadFile(e.path)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		table, b, err := decodeFile(data)
		if err != nil {
			return
		}
		if b.Rows < 0 || len(table) > 256 {
			t.Fatalf("accepted %d rows, table of %d bytes", b.Rows, len(table))
		}
	})
}
