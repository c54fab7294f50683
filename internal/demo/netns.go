package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces live (as with `ip netns`), so
// `ip netns exec hostflow-demo ...` works on the demo's namespace.
const netnsDir = "/run/netns"

// peerName is the namespace end of the veth.
const peerName = "eth0"

// network is the demo's namespace, veth pair, addresses and routes.
type network struct {
	ns    string // namespace name
	iface string // host end of the veth
	lay   *layout
}

func (n *network) path() string { return filepath.Join(netnsDir, n.ns) }

// remove deletes the host end of the veth (its peer, addresses and routes
// go with it) and the named namespace. Missing pieces are not errors: it
// also cleans up after a run that was killed.
func (n *network) remove() error {
	var errs []error
	if l, err := netlink.LinkByName(n.iface); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete link %s: %w", n.iface, err))
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		errs = append(errs, fmt.Errorf("link %s: %w", n.iface, err))
	}
	p := n.path()
	// EINVAL: the file exists but is not a mount (a half-created namespace).
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
	}
	return errors.Join(errs...)
}

// exists reports whether the namespace or the host link is present.
func (n *network) exists() bool {
	_, errNs := os.Stat(n.path())
	_, errLink := netlink.LinkByName(n.iface)
	return errNs == nil || errLink == nil
}

// setup creates the namespace and the veth, assigns the link and peer
// addresses and routes the layout's prefixes from the host into the
// namespace. IPv6 is best effort: when the host has it disabled, the
// layout is cut down to IPv4 and ipv6 is false. On error the caller
// removes what was made.
func (n *network) setup() (ipv6 bool, err error) {
	if err := createNamedNetns(n.ns); err != nil {
		return false, fmt.Errorf("create namespace %s: %w", n.ns, err)
	}
	nsh, err := netns.GetFromPath(n.path())
	if err != nil {
		return false, fmt.Errorf("open namespace %s: %w", n.ns, err)
	}
	defer nsh.Close()
	in, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return false, fmt.Errorf("netlink in namespace %s: %w", n.ns, err)
	}
	defer in.Close()

	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.iface}, PeerName: peerName, PeerNamespace: netlink.NsFd(nsh)}
	if err := netlink.LinkAdd(veth); err != nil {
		return false, fmt.Errorf("create veth %s: %w", n.iface, err)
	}
	host, err := netlink.LinkByName(n.iface)
	if err != nil {
		return false, fmt.Errorf("veth %s: %w", n.iface, err)
	}
	peer, err := in.LinkByName(peerName)
	if err != nil {
		return false, fmt.Errorf("veth peer in %s: %w", n.ns, err)
	}
	// The alias is what the agent reports as the interface description.
	if err := netlink.LinkSetAlias(host, "hostflow demo: namespace "+n.ns); err != nil {
		return false, fmt.Errorf("alias %s: %w", n.iface, err)
	}
	lo, err := in.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("lo in %s: %w", n.ns, err)
	}
	for _, l := range []struct {
		h    *netlink.Handle
		link netlink.Link
	}{{nil, host}, {in, peer}, {in, lo}} {
		up := netlink.LinkSetUp
		if l.h != nil {
			up = l.h.LinkSetUp
		}
		if err := up(l.link); err != nil {
			return false, fmt.Errorf("set %s up: %w", l.link.Attrs().Name, err)
		}
	}
	if err := netlink.AddrAdd(host, nlAddr(n.lay.host4)); err != nil {
		return false, fmt.Errorf("address %s on %s: %w", n.lay.host4, n.iface, err)
	}
	if err := in.AddrAdd(peer, nlAddr(n.lay.ns4)); err != nil {
		return false, fmt.Errorf("address %s in %s: %w", n.lay.ns4, n.ns, err)
	}
	ipv6 = n.setupIPv6(host, peer, in) == nil
	if !ipv6 {
		n.lay.ipv4Only()
	}
	for _, a := range n.lay.peers() {
		if err := in.AddrAdd(peer, nlAddr(netip.PrefixFrom(a, a.BitLen()))); err != nil {
			return false, fmt.Errorf("address %s in %s: %w", a, n.ns, err)
		}
	}
	for _, dst := range n.lay.routes {
		via, src := n.lay.ns4.Addr(), n.lay.host4.Addr()
		if !dst.Addr().Is4() {
			via, src = n.lay.ns6.Addr(), n.lay.host6.Addr()
		}
		r := &netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipNet(dst), Gw: via.AsSlice(), Src: src.AsSlice()}
		if err := netlink.RouteAdd(r); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return ipv6, fmt.Errorf("route %s: this host already routes it (another hostflow demo, or a network using a documentation range)", dst)
			}
			return ipv6, fmt.Errorf("route %s via %s: %w", dst, via, err)
		}
	}
	return ipv6, nil
}

// setupIPv6 adds the IPv6 link addresses, or removes what it added and
// fails (IPv6 disabled on the host or in the namespace).
func (n *network) setupIPv6(host, peer netlink.Link, in *netlink.Handle) error {
	if !n.lay.host6.IsValid() {
		return errors.New("no IPv6 in the layout")
	}
	h6, p6 := nlAddr(n.lay.host6), nlAddr(n.lay.ns6)
	if err := netlink.AddrAdd(host, h6); err != nil {
		return err
	}
	if err := in.AddrAdd(peer, p6); err != nil {
		_ = netlink.AddrDel(host, h6)
		return err
	}
	return nil
}

// nlAddr is an address with its prefix length; IPv6 ones skip duplicate
// address detection so they are usable at once.
func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if !p.Addr().Is4() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// prefixesInUse lists what the host already reaches: the destination of
// every route in every table and every interface address with its subnet.
func prefixesInUse() ([]netip.Prefix, error) {
	var routes []netlink.Route
	var err error
	for range 3 { // a dump interrupted by a concurrent change is retried
		routes, err = netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	add := func(n *net.IPNet) {
		if n == nil {
			return
		}
		a, ok := netip.AddrFromSlice(n.IP)
		ones, _ := n.Mask.Size()
		if ok {
			out = append(out, netip.PrefixFrom(a.Unmap(), ones).Masked(), netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	for i := range routes {
		add(routes[i].Dst)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for i := range addrs {
		add(addrs[i].IPNet)
	}
	return out, nil
}

// enterNetns switches the calling (locked) thread into the namespace at path.
func enterNetns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", path, err)
	}
	return nil
}

// createNamedNetns creates a network namespace and bind-mounts it at
// /run/netns/name, like `ip netns add`. Creating one switches the calling
// thread into it, so this runs off the main thread, then switches back; if
// switching back fails the thread ends rather than run other goroutines in
// the wrong namespace.
func createNamedNetns(name string) error {
	var err error
	offMainThread(func() bool {
		orig, e := netns.Get()
		if e != nil {
			err = e
			return true
		}
		defer orig.Close()
		created, e := netns.NewNamed(name)
		if restore := netns.Set(orig); restore != nil {
			err = errors.Join(e, fmt.Errorf("return to the host namespace: %w", restore))
			return false
		}
		if e == nil {
			created.Close()
		}
		err = e
		return true
	})
	return err
}

// offMainThread runs f on a goroutine locked to a thread other than the
// process's main one, and waits for it. Only there may a thread change
// network namespace: /proc/self (and so /proc/net/*, which the agent
// reads) shows the main thread's namespaces, and Go never ends the main
// thread, so a goroutine exiting locked there would leave it in the demo
// namespace for good. f returns whether the thread may run other
// goroutines again; if not, it ends with the goroutine.
func offMainThread(f func() (reusable bool)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread: the goroutine started below, unable to
			// run on it, gets another one.
			offMainThread(f)
			runtime.UnlockOSThread()
			return
		}
		if f() {
			runtime.UnlockOSThread()
		}
	}()
	<-done
}
