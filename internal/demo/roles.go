package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of the generated traffic. Together the roles average roughly
// 200 kbit/s with peaks near 400 kbit/s (a backup upload during busy
// requests): enough to fill the console at 1:10 sampling, too little to
// matter on any machine.
const (
	ioTimeout   = 5 * time.Second
	maxPage     = 16 << 10  // largest HTTP answer
	maxUpload   = 64 << 10  // largest HTTP request body accepted
	maxBackup   = 4 << 20   // largest backup accepted by the sink
	backupRate  = 20 << 10  // bytes per second of a backup upload (160 kbit/s)
	backupSinks = 4         // concurrent backup connections the sink serves
	fillerSize  = maxUpload // payload bytes, shared by every sender
)

// filler returns deterministic, incompressible-looking payload bytes.
func filler() []byte {
	b := make([]byte, fillerSize)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// reason classifies a network error for the errors counter.
func reason(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, unix.ECONNREFUSED):
		return "refused"
	case errors.As(err, &op) && op.Op == "dial":
		return "dial"
	}
	return "io"
}

// runWebapp serves pages on the host side of the veth; the namespace's web
// users call it, so its flows are inbound.
func runWebapp(ctx context.Context, p *peer) error {
	lns, err := listenTCP(p.plan.Webapp)
	if err != nil {
		return err
	}
	p.ready()
	return serveHTTP(ctx, lns, pageHandler(p))
}

// runAPIClient calls the namespace's API servers about twice a second,
// mostly GETs, some POSTs with a body, over a small keep-alive pool that
// is dropped every 20 s or so (new connections, new source ports; not more
// often: the agent attributes a new connection after a /proc scan, so
// connections of a few packets often stay unattributed).
func runAPIClient(ctx context.Context, p *peer) error {
	if len(p.plan.API) == 0 {
		return errors.New("no API server in the plan")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 15 * time.Second, DisableCompression: true,
		ResponseHeaderTimeout: ioTimeout, DialContext: (&net.Dialer{Timeout: ioTimeout}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: ioTimeout}
	payload := filler()
	paths := []string{"/v1/orders", "/v1/users", "/v1/catalog", "/v1/search"}
	p.ready()
	for sleep(ctx, p.between(250*time.Millisecond, 750*time.Millisecond)) == nil {
		target := p.plan.API[p.intn(len(p.plan.API))]
		url := fmt.Sprintf("http://%s%s?size=%d", target, paths[p.intn(len(paths))], 512+p.intn(8<<10))
		method, upload := http.MethodGet, 0
		if p.intn(5) == 0 {
			method, upload = http.MethodPost, 1<<10+p.intn(3<<10)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload[:upload]))
		if err != nil {
			return err
		}
		n, err := fetch(client, req)
		if err != nil {
			if ctx.Err() == nil {
				p.fail(reason(err), err)
			}
			continue
		}
		p.done(upload + n)
		if p.intn(40) == 0 {
			tr.CloseIdleConnections()
		}
	}
	return nil
}

// fetch runs req and reads the answer, which must be 200 OK.
func fetch(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	return drain(resp, req)
}

// runBackup uploads 256–768 KiB to a backup sink a few seconds after start,
// then every 30–60 s, paced at backupRate.
func runBackup(ctx context.Context, p *peer) error {
	if len(p.plan.Backup) == 0 {
		return errors.New("no backup server in the plan")
	}
	payload := filler()
	t := p.tempo
	p.ready()
	wait := p.between(t.backupFirst[0], t.backupFirst[1])
	for sleep(ctx, wait) == nil {
		target := p.plan.Backup[p.intn(len(p.plan.Backup))]
		size := t.backupSize[0] + p.intn(t.backupSize[1]-t.backupSize[0])
		if err := upload(ctx, target, size, payload); err != nil {
			if ctx.Err() == nil {
				p.fail(reason(err), err)
			}
		} else {
			p.done(size)
		}
		wait = p.between(t.backupEvery[0], t.backupEvery[1])
	}
	return nil
}

// upload sends an 8-byte length then size bytes, 1/10 of backupRate every
// 100 ms, and checks the 8-byte count the sink answers.
func upload(ctx context.Context, target netip.AddrPort, size int, payload []byte) error {
	d := net.Dialer{Timeout: ioTimeout}
	conn, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(size))
	_ = conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := conn.Write(hdr[:]); err != nil {
		return err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for sent := 0; sent < size; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		n := min(backupRate/10, size-sent, len(payload))
		_ = conn.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := conn.Write(payload[:n]); err != nil {
			return err
		}
		sent += n
	}
	_ = conn.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("backup acknowledgement from %s: %w", target, err)
	}
	if got := binary.BigEndian.Uint64(hdr[:]); got != uint64(size) {
		return fmt.Errorf("backup to %s: sink acknowledged %d of %d bytes", target, got, size)
	}
	return nil
}

// runResolver asks the namespace's DNS servers for A and AAAA records, two
// to three times a second, now and then for a name that does not exist.
func runResolver(ctx context.Context, p *peer) error {
	conns, err := dialUDP(p.plan.DNS)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	names := planZone(p.plan).names()
	q, buf := make([]byte, 0, 512), make([]byte, 512)
	p.ready()
	for sleep(ctx, p.between(250*time.Millisecond, 750*time.Millisecond)) == nil {
		conn := conns[p.intn(len(conns))]
		name := names[p.intn(len(names))]
		if p.intn(8) == 0 {
			name = fmt.Sprintf("nx-%d.%s", p.intn(1000), demoDomain)
		}
		id := uint16(p.intn(1 << 16))
		q, err = buildQuery(q[:0], id, name, p.intn(2) == 0)
		if err != nil {
			return err
		}
		n, err := exchange(conn, q, buf)
		if err == nil {
			err = checkAnswer(buf[:n], id)
		}
		if err != nil {
			p.fail(reason(err), err)
			continue
		}
		p.done(len(q) + n)
	}
	return nil
}

// exchange sends q on a connected UDP socket and reads one answer.
func exchange(conn net.Conn, q, buf []byte) (int, error) {
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(q); err != nil {
		return 0, err
	}
	return conn.Read(buf)
}

// runMetricsPush sends a batch of statsd lines about once a second.
func runMetricsPush(ctx context.Context, p *peer) error {
	conns, err := dialUDP(p.plan.Metrics)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	var batch []byte
	p.ready()
	for sleep(ctx, p.between(800*time.Millisecond, 1200*time.Millisecond)) == nil {
		batch = fmt.Appendf(batch[:0], "demo.api.requests:%d|c\ndemo.api.latency_ms:%d|ms\ndemo.queue.depth:%d|g\n"+
			"demo.cache.hits:%d|c\ndemo.cache.misses:%d|c\n", 1+p.intn(40), 2+p.intn(250), p.intn(100), p.intn(500), p.intn(50))
		conn := conns[p.intn(len(conns))]
		_ = conn.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := conn.Write(batch); err != nil {
			p.fail(reason(err), err)
			continue
		}
		p.done(len(batch))
	}
	return nil
}

// runInternet is the world behind the veth: it serves the API, DNS, backup
// and metrics addresses and sends web users to the webapp. The demo starts
// it inside the namespace.
func runInternet(ctx context.Context, p *peer) error {
	// Sockets are closed on every return; the API listeners go with the
	// HTTP server's shutdown.
	var closers []io.Closer
	defer func() { closeAll(closers) }()
	api, err := listenTCP(p.plan.API)
	if err != nil {
		return err
	}
	closers = appendClosers(closers, api)
	backup, err := listenTCP(p.plan.Backup)
	if err != nil {
		return err
	}
	closers = appendClosers(closers, backup)
	dns, err := listenUDP(p.plan.DNS)
	if err != nil {
		return err
	}
	closers = appendClosers(closers, dns)
	metrics, err := listenUDP(p.plan.Metrics)
	if err != nil {
		return err
	}
	closers = appendClosers(closers, metrics)
	var wg sync.WaitGroup
	zone := planZone(p.plan)
	for _, c := range dns {
		wg.Go(func() { p.serveDNS(c, zone) })
	}
	for _, c := range metrics {
		wg.Go(func() { p.sink(c) })
	}
	for _, l := range backup {
		wg.Go(func() { p.serveBackup(l) })
	}
	wg.Go(func() { _ = serveHTTP(ctx, api, pageHandler(p)) })
	p.ready()
	p.webUsers(ctx)
	closeAll(closers) // ends the servers
	wg.Wait()
	return nil
}

// webUsers are visitors of the webapp, one at a time: each comes from one
// of the users' addresses and loads 3–10 pages over one keep-alive
// connection, 0.4–1.2 s apart (long enough for the agent to attribute the
// connection to the webapp).
func (p *peer) webUsers(ctx context.Context) {
	if len(p.plan.Webapp) == 0 {
		<-ctx.Done()
		return
	}
	for ctx.Err() == nil {
		target := p.plan.Webapp[p.intn(len(p.plan.Webapp))]
		var sources []netip.Addr
		for _, a := range p.plan.Users {
			if a.Is4() == target.Addr().Is4() {
				sources = append(sources, a)
			}
		}
		var src netip.Addr
		if len(sources) > 0 {
			src = sources[p.intn(len(sources))]
		}
		if err := p.visit(ctx, target, src, 3+p.intn(8)); err != nil && ctx.Err() == nil {
			p.fail(reason(err), err)
			_ = sleep(ctx, time.Second) // the webapp restarting, say: do not spin
		}
	}
}

// visit loads pages pages on one connection from src (by hand: an
// http.Client chooses its connections, a visitor keeps one).
func (p *peer) visit(ctx context.Context, target netip.AddrPort, src netip.Addr, pages int) error {
	d := net.Dialer{Timeout: ioTimeout}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	conn, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range pages {
		if err := sleep(ctx, p.between(400*time.Millisecond, 1200*time.Millisecond)); err != nil {
			return nil
		}
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/page/%d?size=%d", target, p.intn(50), 1<<10+p.intn(12<<10)), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "hostflow-demo-user")
		req.Close = i == pages-1
		_ = conn.SetDeadline(time.Now().Add(ioTimeout))
		if err := req.Write(conn); err != nil {
			return err
		}
		n, err := readAnswer(br, req)
		if err != nil {
			return err
		}
		p.done(n)
	}
	return nil
}

// readAnswer reads the answer to req, which must be 200 OK, and its body.
func readAnswer(br *bufio.Reader, req *http.Request) (int, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return 0, err
	}
	return drain(resp, req)
}

// drain reads and closes the body (at most maxPage+1 bytes) and checks
// the status.
func drain(resp *http.Response, req *http.Request) (int, error) {
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxPage+1))
	if err != nil {
		return int(n), err
	}
	if resp.StatusCode != http.StatusOK {
		return int(n), fmt.Errorf("%s %s: %s", req.Method, req.URL, resp.Status)
	}
	return int(n), nil
}

// pageHandler reads and discards the request body (at most maxUpload) and
// answers ?size=N bytes (at most maxPage, default 1 KiB).
func pageHandler(p *peer) http.Handler {
	payload := filler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxUpload))
		if err != nil {
			p.fail("io", err)
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		size, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || size < 0 || size > maxPage {
			size = 1 << 10
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		out, _ := w.Write(payload[:size])
		p.done(int(in) + out)
	})
}

// serveHTTP serves h on every listener until ctx ends.
func serveHTTP(ctx context.Context, lns []net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ioTimeout, ReadTimeout: 2 * ioTimeout,
		WriteTimeout: 2 * ioTimeout, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// serveBackup accepts uploads (an 8-byte length, the bytes) and answers the
// count received, serving at most backupSinks connections at once.
func (p *peer) serveBackup(l net.Listener) {
	slots := make(chan struct{}, backupSinks)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			p.fail("busy", errors.New("backup sink busy"))
			conn.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			defer conn.Close()
			n, err := receiveBackup(conn)
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				// The sender stopped (and counts why, if it was an error).
				return
			case err != nil:
				p.fail(reason(err), err)
				return
			}
			p.done(n)
		})
	}
}

func receiveBackup(conn net.Conn) (int, error) {
	var hdr [8]byte
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return 0, err
	}
	size := binary.BigEndian.Uint64(hdr[:])
	if size > maxBackup {
		return 0, fmt.Errorf("backup of %d bytes from %s is over the %d limit", size, conn.RemoteAddr(), maxBackup)
	}
	// The whole upload at the pace of the sender, with slack.
	_ = conn.SetDeadline(time.Now().Add(ioTimeout + time.Duration(size/(backupRate/2))*time.Second))
	n, err := io.CopyN(io.Discard, conn, int64(size))
	if err != nil {
		return int(n), err
	}
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	_, err = conn.Write(hdr[:])
	return int(n), err
}

// serveDNS answers queries from the zone until the socket is closed.
func (p *peer) serveDNS(c net.PacketConn, z zone) {
	in, out := make([]byte, 1500), make([]byte, 0, 1500)
	for {
		n, from, err := c.ReadFrom(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.fail("io", err)
			continue
		}
		out, err = z.answer(in[:n], out[:0])
		if err != nil {
			p.fail("query", err)
			continue
		}
		if _, err := c.WriteTo(out, from); err != nil {
			p.fail(reason(err), err)
			continue
		}
		p.done(n + len(out))
	}
}

// sink counts what arrives until the socket is closed.
func (p *peer) sink(c net.PacketConn) {
	buf := make([]byte, 9216)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.fail("io", err)
			continue
		}
		p.done(n)
	}
}

func listenTCP(addrs []netip.AddrPort) ([]net.Listener, error) {
	return openAll(addrs, func(a string) (net.Listener, error) { return net.Listen("tcp", a) })
}

func listenUDP(addrs []netip.AddrPort) ([]net.PacketConn, error) {
	return openAll(addrs, func(a string) (net.PacketConn, error) { return net.ListenPacket("udp", a) })
}

// dialUDP opens a connected UDP socket to each address (connected, so
// ICMP errors come back as errors and sock_diag sees both ends).
func dialUDP(addrs []netip.AddrPort) ([]net.Conn, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no UDP server in the plan")
	}
	return openAll(addrs, func(a string) (net.Conn, error) { return net.Dial("udp", a) })
}

// openAll opens a socket for each address, or none (closing those already
// open) when one fails.
func openAll[T io.Closer](addrs []netip.AddrPort, open func(addr string) (T, error)) ([]T, error) {
	var out []T
	for _, a := range addrs {
		c, err := open(a.String())
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func closeAll[T io.Closer](cs []T) {
	for _, c := range cs {
		_ = c.Close()
	}
}

func appendClosers[T io.Closer](dst []io.Closer, src []T) []io.Closer {
	for _, c := range src {
		dst = append(dst, c)
	}
	return dst
}
