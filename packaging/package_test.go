// Package packaging holds the .deb and systemd files; its test builds the
// package and installs it into a fresh Debian root.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func cacheDir() string {
	if d := os.Getenv("HOSTFLOW_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "hostflow")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "hostflow")
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freshRoot returns a Debian 12 minbase root with systemd (for
// systemd-analyze), made once with debootstrap and cached as a tarball.
func freshRoot(t *testing.T) string {
	t.Helper()
	tarball := filepath.Join(cacheDir(), "rootfs", "bookworm-minbase-systemd.tar")
	if _, err := os.Stat(tarball); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			t.Skip("debootstrap not installed (scripts/setup.sh test installs it)")
		}
		build := filepath.Join(t.TempDir(), "build")
		run(t, "", nil, "debootstrap", "--variant=minbase", "--include=systemd", "bookworm", build, "http://deb.debian.org/debian")
		if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "", nil, "tar", "-C", build, "-cf", tarball+".tmp", ".")
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "tar", "-C", root, "-xf", tarball)
	return root
}

func TestDebInstallsIntoFreshRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chroot, dpkg); CI runs as root")
	}
	nfpm := filepath.Join(cacheDir(), "bin", "nfpm")
	if _, err := os.Stat(nfpm); err != nil {
		t.Skip("nfpm not installed (scripts/setup.sh test installs it)")
	}
	repo, _ := filepath.Abs("..")
	work := t.TempDir()
	// nfpm reads bin/hostflow relative to the repository.
	run(t, repo, []string{"CGO_ENABLED=0"}, "go", "build", "-o", filepath.Join(work, "hostflow"), "./cmd/hostflow")
	cfg := strings.ReplaceAll(readFile(t, filepath.Join(repo, "packaging", "nfpm.yaml")), "src: bin/hostflow", "src: "+filepath.Join(work, "hostflow"))
	cfgPath := filepath.Join(work, "nfpm.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, repo, []string{"VERSION=0.0.0~test"}, nfpm, "package", "-f", cfgPath, "-p", "deb", "-t", work)
	deb := filepath.Join(work, "hostflow_0.0.0~test_amd64.deb")

	root := freshRoot(t)
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp", "hostflow.deb"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "chroot", root, "dpkg", "-i", "/tmp/hostflow.deb")
	out := run(t, "", nil, "chroot", root, "/usr/bin/hostflow", "version")
	if !strings.HasPrefix(out, "hostflow ") {
		t.Errorf("hostflow version in the root: %q", out)
	}
	for _, f := range []string{"/lib/systemd/system/hostflow-agent.service", "/lib/systemd/system/hostflow-collector.service",
		"/etc/hostflow/agent.yaml", "/etc/hostflow/collector.yaml", "/usr/lib/sysctl.d/60-hostflow.conf",
		"/usr/share/doc/hostflow/architecture.md"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	// The shipped example configurations are valid.
	for _, f := range []string{"/etc/hostflow/agent.yaml", "/etc/hostflow/collector.yaml"} {
		run(t, "", nil, "chroot", root, "/usr/bin/hostflow", "config", "check", f)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	run(t, "", nil, "systemd-analyze", "verify", "--root="+root,
		"/lib/systemd/system/hostflow-agent.service", "/lib/systemd/system/hostflow-collector.service")
	run(t, "", nil, "chroot", root, "dpkg", "-r", "hostflow")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hostflow")); err == nil {
		t.Error("dpkg -r left /usr/bin/hostflow")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
