package procmap

import (
	"bufio"
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Process is the owner of a socket. Strings are byte slices, built once
// per process and shared by every sample that refers to it, so encoding a
// sample does not allocate.
type Process struct {
	PID       uint32
	Comm      []byte
	Exe       []byte // basename of the executable
	Cgroup    []byte // cgroup v2 path (or the systemd v1 hierarchy's)
	Unit      []byte // systemd unit from the cgroup path (*.service, *.scope)
	Container []byte // container ID from the cgroup path
}

// inodeScanner maps socket inodes to pids by reading /proc/<pid>/fd links.
// A full pass over every process can take long on a busy host, so it runs
// in steps of a bounded duration: a pass resumes where the previous step
// stopped, and what it finds is usable at once.
type inodeScanner struct {
	proc       string
	maxEntries int

	inodes map[uint64]inodeEntry
	gen    uint32   // pass number; entries not seen for two passes expire
	pids   []uint32 // pids of the current pass, in /proc order
	next   int      // index in pids of the next one to read
	passAt time.Time
	passes prometheus.Counter // passes started
}

type inodeEntry struct {
	pid uint32
	gen uint32
}

func newInodeScanner(proc string, maxEntries int, passes prometheus.Counter) *inodeScanner {
	return &inodeScanner{proc: proc, maxEntries: maxEntries, inodes: map[uint64]inodeEntry{}, passes: passes}
}

// lookup returns the pid owning the socket inode, if the scans found it.
func (s *inodeScanner) lookup(inode uint64) (uint32, bool) {
	e, ok := s.inodes[inode]
	return e.pid, ok
}

// step scans for at most budget, starting a new pass when the previous one
// is complete and at least minInterval old. It reports whether it scanned.
func (s *inodeScanner) step(budget, minInterval time.Duration) bool {
	now := time.Now()
	if s.next >= len(s.pids) {
		if now.Sub(s.passAt) < minInterval {
			return false
		}
		s.startPass(now)
	}
	deadline := now.Add(budget)
	for s.next < len(s.pids) {
		s.scanPID(s.pids[s.next])
		s.next++
		if s.next%16 == 0 && time.Now().After(deadline) {
			break
		}
	}
	return true
}

func (s *inodeScanner) startPass(now time.Time) {
	s.passes.Inc()
	s.gen++
	s.passAt = now
	s.pids = s.pids[:0]
	s.next = 0
	// Forget sockets not seen in the last complete pass.
	for ino, e := range s.inodes {
		if s.gen-e.gen > 2 {
			delete(s.inodes, ino)
		}
	}
	d, err := os.Open(s.proc)
	if err != nil {
		return
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		if pid, err := strconv.ParseUint(n, 10, 32); err == nil {
			s.pids = append(s.pids, uint32(pid))
		}
	}
	// Newest (highest) pids first: a socket not yet mapped most often
	// belongs to a process that just started.
	slices.SortFunc(s.pids, func(a, b uint32) int { return cmp.Compare(b, a) })
}

func (s *inodeScanner) scanPID(pid uint32) {
	dir := s.proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return // gone, or not ours to read (needs CAP_DAC_READ_SEARCH / SYS_PTRACE)
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		// "socket:[12345]"
		link, err := os.Readlink(dir + "/" + n)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		ino, err := strconv.ParseUint(link[8:len(link)-1], 10, 64)
		if err != nil {
			continue
		}
		if _, ok := s.inodes[ino]; !ok && len(s.inodes) >= s.maxEntries {
			continue
		}
		s.inodes[ino] = inodeEntry{pid: pid, gen: s.gen}
	}
}

// readProcess reads what /proc says about pid.
func readProcess(proc string, pid uint32) (*Process, bool) {
	dir := filepath.Join(proc, strconv.FormatUint(uint64(pid), 10))
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return nil, false
	}
	p := &Process{PID: pid, Comm: bytes.TrimSpace(comm)}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.Exe = []byte(filepath.Base(strings.TrimSuffix(exe, " (deleted)")))
	}
	if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		path := cgroupPath(string(cg))
		p.Cgroup, p.Unit, p.Container = []byte(path), []byte(unitOf(path)), []byte(containerOf(path))
	}
	return p, true
}

// cgroupPath picks the unified (v2, "0::") hierarchy's path, else the
// systemd v1 hierarchy's.
func cgroupPath(s string) string {
	var v1 string
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if parts[1] == "name=systemd" {
			v1 = parts[2]
		}
	}
	return v1
}

// unitOf returns the innermost systemd unit of a cgroup path: the last
// element ending in .service or .scope ("/user.slice/user-1000.slice/
// user@1000.service/app.slice/foo.service" → "foo.service").
func unitOf(cg string) string {
	parts := strings.Split(cg, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasSuffix(parts[i], ".service") || strings.HasSuffix(parts[i], ".scope") {
			return parts[i]
		}
	}
	return ""
}

// containerOf extracts a container ID (64 hex digits) from the innermost
// cgroup path element holding one: docker-<id>.scope, /docker/<id>,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope, and the
// kubepods hierarchies all follow that shape.
func containerOf(cg string) string {
	parts := strings.Split(cg, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if id := hex64(parts[i]); id != "" {
			return id
		}
	}
	return ""
}

func hex64(s string) string {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			run++
			if run == 64 && (i+1 == len(s) || !isHex(s[i+1])) {
				return s[i-63 : i+1]
			}
			continue
		}
		run = 0
	}
	return ""
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// users maps uids to names from a passwd file, re-read when it changes.
type users struct {
	path    string
	mtime   time.Time
	checked time.Time
	names   map[uint32][]byte
}

// name returns the user name of uid, or the uid in decimal.
func (u *users) name(uid uint32) []byte {
	now := time.Now()
	if now.Sub(u.checked) > 30*time.Second || u.names == nil {
		u.checked = now
		if st, err := os.Stat(u.path); err == nil && !st.ModTime().Equal(u.mtime) {
			u.mtime = st.ModTime()
			u.load()
		}
	}
	if n, ok := u.names[uid]; ok {
		return n
	}
	if len(u.names) < maxUsers {
		// Remember unknown uids too, so the answer is shared, not rebuilt.
		n := []byte(strconv.FormatUint(uint64(uid), 10))
		u.names[uid] = n
		return n
	}
	return nil
}

// maxUsers bounds the uid → name map.
const maxUsers = 1 << 16

func (u *users) load() {
	u.names = map[uint32][]byte{}
	f, err := os.Open(u.path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.SplitN(sc.Text(), ":", 4)
		if len(fs) < 3 {
			continue
		}
		if uid, err := strconv.ParseUint(fs[2], 10, 32); err == nil {
			if _, dup := u.names[uint32(uid)]; !dup {
				u.names[uint32(uid)] = []byte(fs[0])
			}
		}
	}
}
