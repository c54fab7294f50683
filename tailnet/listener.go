package tailnet

import (
	"net"
	"sync"
)

// ConsoleListener is the console's listener on the tailnet, for
// console.Dependencies.Listener when console-only-tailnet is set. The
// console is built before the node has joined, so this listener is a
// stand-in until Start opens the real one; the node must start before the
// console.
func (n *Node) ConsoleListener() net.Listener { return &n.console }

// lateListener forwards to a listener opened later.
type lateListener struct {
	n  *Node
	mu sync.Mutex
	ln net.Listener
}

func (l *lateListener) get() net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln
}

func (l *lateListener) Accept() (net.Conn, error) {
	ln := l.get()
	if ln == nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: errNotStarted}
	}
	return ln.Accept()
}

func (l *lateListener) Close() error {
	if ln := l.get(); ln != nil {
		return ln.Close()
	}
	return nil
}

// Addr is the listener's address, or the port alone before Start.
func (l *lateListener) Addr() net.Addr {
	if ln := l.get(); ln != nil {
		return ln.Addr()
	}
	return &net.TCPAddr{Port: int(l.n.cfg.ConsolePort)}
}
