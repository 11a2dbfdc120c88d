package verify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Connection-level defence. The station LAN is hostile: any device on the
// gate VLAN can open connections without a key. A plain capped listener
// (Accept blocking while max connections are open) let 600 connections
// that each sent one unauthenticated GET /healthz and then idled lock every
// gate out for the idle timeout. The guard below keeps signed gates served
// whatever unauthenticated peers do:
//
//   - Accept never blocks. At the global cap the oldest connection that is
//     not in the middle of a request is closed to make room — one that never
//     authenticated first, an idle authenticated one only when there is no
//     other; a new connection is refused only when every open one is busy.
//   - Each source address may hold at most PerIP connections; at that limit
//     the same shedding applies within the address, so one device cannot
//     take the slots of others.
//   - A connection must deliver its first complete request within
//     FirstRequest (http.Server ReadHeaderTimeout and ReadTimeout), so
//     connections that send nothing or dribble a header are cut quickly.
//   - Keep-alive only for connections that authenticated: every answer to
//     a request that did not pass the gate signature check (health, metrics,
//     401, 404, …) carries Connection: close.
//
// The state machine follows net/http's ConnState hook: a connection is
// "new" until its first request is read, "active" while a request is
// handled and "idle" between requests. New and idle connections can be
// shed; active ones never are (a gate waiting for its answer keeps it).

// connState is the guard's view of one connection.
type connState uint8

const (
	connNew connState = iota
	connActive
	connIdle
)

// ConnLimits configures the guard (zero values: defaults).
type ConnLimits struct {
	Max          int           // open connections in total (default 512)
	PerIP        int           // open connections per source address (default 16)
	FirstRequest time.Duration // time to deliver the first (and every) complete request (default 2 s)
	Idle         time.Duration // keep-alive of authenticated connections (default 60 s)
}

func (l ConnLimits) withDefaults() ConnLimits {
	if l.Max <= 0 {
		l.Max = 512
	}
	if l.PerIP <= 0 {
		l.PerIP = 16
	}
	if l.PerIP > l.Max {
		l.PerIP = l.Max
	}
	if l.FirstRequest <= 0 {
		l.FirstRequest = 2 * time.Second
	}
	if l.Idle <= 0 {
		l.Idle = 60 * time.Second
	}
	return l
}

// guardListener admits connections under ConnLimits. Its Accept hands the
// server a *guardedConn (wrapped in TLS when configured, then in
// jsonErrConn so net/http's own plain-text error answers become JSON).
type guardListener struct {
	net.Listener
	lim ConnLimits
	tls *tls.Config
	met *connMetrics

	mu    sync.Mutex
	conns map[*guardedConn]struct{}
	perIP map[string]int
	seq   uint64
}

type connMetrics struct {
	open     atomic.Int64
	accepted atomic.Int64
	shedCap  atomic.Int64 // closed to make room under the global cap
	shedIP   atomic.Int64 // closed to make room under the per-address limit
	refused  atomic.Int64 // new connections closed because every slot was busy
}

func newGuardListener(l net.Listener, lim ConnLimits, tc *tls.Config, met *connMetrics) *guardListener {
	return &guardListener{Listener: l, lim: lim.withDefaults(), tls: tc, met: met, conns: map[*guardedConn]struct{}{}, perIP: map[string]int{}}
}

// guardedConn is a TCP connection under the guard.
type guardedConn struct {
	net.Conn
	g      *guardListener
	ip     string
	seq    uint64    // admission order
	state  connState // guarded by g.mu
	authed atomic.Bool
	once   sync.Once
}

// Close releases the connection's slot (once) and closes it.
func (c *guardedConn) Close() error {
	c.once.Do(func() { c.g.remove(c) })
	return c.Conn.Close()
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// Accept returns the next admitted connection; it never waits for a slot.
func (g *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gc := g.admit(c)
		if gc == nil {
			continue
		}
		var out net.Conn = gc
		if g.tls != nil {
			out = tls.Server(gc, g.tls)
		}
		return &jsonErrConn{Conn: out, gc: gc}, nil
	}
}

// admit registers c, shedding another connection when a limit is reached;
// it returns nil (c closed) when c itself cannot be admitted.
func (g *guardListener) admit(c net.Conn) *guardedConn {
	ip := hostOf(c.RemoteAddr())
	var victims []*guardedConn
	g.mu.Lock()
	if g.perIP[ip] >= g.lim.PerIP {
		v := g.victimLocked(ip)
		if v == nil {
			g.mu.Unlock()
			g.met.refused.Add(1)
			c.Close()
			return nil
		}
		g.detachLocked(v)
		victims = append(victims, v)
		g.met.shedIP.Add(1)
	}
	if len(g.conns) >= g.lim.Max {
		v := g.victimLocked("")
		if v == nil {
			g.mu.Unlock()
			g.met.refused.Add(1)
			c.Close()
			for _, v := range victims {
				v.Conn.Close()
			}
			return nil
		}
		g.detachLocked(v)
		victims = append(victims, v)
		g.met.shedCap.Add(1)
	}
	g.seq++
	gc := &guardedConn{Conn: c, g: g, ip: ip, seq: g.seq}
	g.conns[gc] = struct{}{}
	g.perIP[ip]++
	g.mu.Unlock()
	g.met.accepted.Add(1)
	g.met.open.Add(1)
	for _, v := range victims {
		// Closing outside the lock: the server goroutine of the victim
		// sees the error and ends; its Close finds the slot already freed.
		v.Conn.Close()
	}
	return gc
}

// victimLocked picks the connection to shed (ip "" = any address): the
// oldest new-or-idle connection that never authenticated, else the oldest
// idle authenticated one; nil when all are handling a request.
func (g *guardListener) victimLocked(ip string) *guardedConn {
	var unauth, auth *guardedConn
	for c := range g.conns {
		if ip != "" && c.ip != ip || c.state == connActive {
			continue
		}
		if c.authed.Load() {
			if c.state == connIdle && (auth == nil || c.seq < auth.seq) {
				auth = c
			}
		} else if unauth == nil || c.seq < unauth.seq {
			unauth = c
		}
	}
	if unauth != nil {
		return unauth
	}
	return auth
}

// detachLocked frees c's slot without closing it (the caller closes);
// a second call is a no-op.
func (g *guardListener) detachLocked(c *guardedConn) {
	if _, ok := g.conns[c]; !ok {
		return
	}
	delete(g.conns, c)
	if g.perIP[c.ip]--; g.perIP[c.ip] <= 0 {
		delete(g.perIP, c.ip)
	}
	g.met.open.Add(-1)
}

func (g *guardListener) remove(c *guardedConn) {
	g.mu.Lock()
	g.detachLocked(c)
	g.mu.Unlock()
}

// connStateHook is the http.Server ConnState hook.
func (g *guardListener) connStateHook(nc net.Conn, st http.ConnState) {
	gc := guardedOf(nc)
	if gc == nil {
		return
	}
	var s connState
	switch st {
	case http.StateActive:
		s = connActive
	case http.StateIdle:
		s = connIdle
	default:
		return
	}
	g.mu.Lock()
	gc.state = s
	g.mu.Unlock()
}

func guardedOf(nc net.Conn) *guardedConn {
	if j, ok := nc.(*jsonErrConn); ok {
		return j.gc
	}
	return nil
}

type connCtxKey struct{}

// connContext is the http.Server ConnContext hook: the handler finds its
// connection to mark it authenticated.
func connContext(ctx context.Context, nc net.Conn) context.Context {
	if gc := guardedOf(nc); gc != nil {
		return context.WithValue(ctx, connCtxKey{}, gc)
	}
	return ctx
}

// markAuthenticated records that the request's connection carried a
// correctly signed request: it may be kept alive and is shed last.
func markAuthenticated(r *http.Request) {
	if gc, ok := r.Context().Value(connCtxKey{}).(*guardedConn); ok {
		gc.authed.Store(true)
	}
}

// jsonErrConn turns the few answers net/http writes by itself, before any
// handler runs (431 for headers over the limit, 400 for a request line or
// header it cannot parse, 505, …), from text/plain into the JSON error shape
// the contract promises. They are recognised by the exact header block
// net/http uses for them; a handler's answer never has it.
type jsonErrConn struct {
	net.Conn
	gc *guardedConn
}

var netHTTPErrHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

func (c *jsonErrConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && len(p) > 12 {
		if i := bytes.Index(p, netHTTPErrHeaders); i > 0 {
			code, err := strconv.Atoi(string(p[9:12]))
			if err == nil && code >= 400 {
				word := "bad_request"
				switch code {
				case http.StatusRequestHeaderFieldsTooLarge:
					word = "header_too_large"
				case http.StatusHTTPVersionNotSupported:
					word = "http_version_not_supported"
				case http.StatusNotImplemented:
					word = "not_implemented"
				}
				body := `{"error":"` + word + `"}`
				out := "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) +
					"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
				if _, err := c.Conn.Write([]byte(out)); err != nil {
					return 0, err
				}
				return len(p), nil
			}
		}
	}
	return c.Conn.Write(p)
}

func (m *connMetrics) write(w io.Writer) {
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge("stationdesk_verify_connections_open", "Open connections on the gate listener.", m.open.Load())
	counter("stationdesk_verify_connections_accepted_total", "Connections admitted on the gate listener.", m.accepted.Load())
	fmt.Fprintln(w, "# HELP stationdesk_verify_connections_shed_total Connections closed to make room for a new one, by limit.")
	fmt.Fprintln(w, "# TYPE stationdesk_verify_connections_shed_total counter")
	fmt.Fprintf(w, "stationdesk_verify_connections_shed_total{limit=\"total\"} %d\n", m.shedCap.Load())
	fmt.Fprintf(w, "stationdesk_verify_connections_shed_total{limit=\"per_ip\"} %d\n", m.shedIP.Load())
	counter("stationdesk_verify_connections_refused_total", "New connections closed at once because every slot was handling a request.", m.refused.Load())
}
