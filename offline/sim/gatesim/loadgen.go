package gatesim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
)

// LoadOptions configure one run of the raw load generator (Load).
type LoadOptions struct {
	Target   string // base URL, http only (the station LAN service)
	Gate     string
	Key      app.GateKey
	Rate     float64       // open loop: requests per second
	Duration time.Duration // measured time
	Warmup   time.Duration // closed loop only: sent but not counted
	Conns    int           // closed loop: connections = outstanding requests; open loop: initial pool
	Closed   bool
	// Card returns the card number for request i (or "qr:<token>").
	Card func(i int) string
}

// LoadResult is what Load measured. Latencies are from each request's
// intended send time (open loop) to its response being read and its
// signature checked; Lateness is how late the generator itself put the
// request on the wire (its own jitter, already included in Latencies).
type LoadResult struct {
	Sent, OK, Errors, BadSig, Non200 int64
	Decisions                        map[string]int64
	Latencies                        []time.Duration // sorted
	Lateness                         []time.Duration // sorted (open loop)
	Elapsed                          time.Duration
	FirstError                       string
}

// Rate returns answered requests per second over the measured time.
func (r *LoadResult) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// Percentile returns the p-th percentile (0..100) of the latencies.
func (r *LoadResult) Percentile(p float64) time.Duration { return pct(r.Latencies, p) }

// LatenessPercentile is the p-th percentile (0..100) of how late the open
// loop sent its requests against their intended send times.
func (r *LoadResult) LatenessPercentile(p float64) time.Duration { return pct(r.Lateness, p) }

// Summary is a one-line report (no card numbers).
func (r *LoadResult) Summary() string {
	ds := make([]string, 0, len(r.Decisions))
	for k, v := range r.Decisions {
		ds = append(ds, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(ds)
	s := fmt.Sprintf("sent %d ok %d errors %d non-200 %d badsig %d | %.0f req/s | p50 %s p90 %s p99 %s p99.9 %s max %s",
		r.Sent, r.OK, r.Errors, r.Non200, r.BadSig, r.Rate(), fmtDur(r.Percentile(50)), fmtDur(r.Percentile(90)), fmtDur(r.Percentile(99)),
		fmtDur(r.Percentile(99.9)), fmtDur(r.Percentile(100)))
	if len(r.Lateness) > 0 {
		s += fmt.Sprintf(" | own lateness p99 %s", fmtDur(pct(r.Lateness, 99)))
	}
	return s + " | " + strings.Join(ds, " ")
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[int(float64(len(s)-1)*p/100)]
}

// signedRequest is one ready-to-send HTTP/1.1 request.
type signedRequest struct {
	raw   []byte
	nonce string
}

type reqBuilder struct {
	host, gate string
	key        app.GateKey
	seq        atomic.Int64
	prefix     string
}

func newReqBuilder(target, gate string, key app.GateKey) (*reqBuilder, string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, "", fmt.Errorf("gatesim: target must be http://host:port (got %q)", target)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return &reqBuilder{host: u.Host, gate: gate, key: key, prefix: "L" + hex.EncodeToString(rnd[:]) + "-"}, u.Host, nil
}

// build signs a request for card with a fresh nonce and request id.
func (b *reqBuilder) build(card string, buf []byte) signedRequest {
	var body []byte
	if tok, ok := cutPrefix(card, "qr:"); ok {
		body = []byte(`{"qr":"` + tok + `"}`)
	} else {
		body = []byte(`{"card":"` + card + `"}`)
	}
	var nb [16]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	reqID := b.prefix + strconv.FormatInt(b.seq.Add(1), 36)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	mac := app.GateRequestMAC(b.key, "POST", "/v1/verify", b.gate, ts, nonce, reqID, body)
	w := buf[:0]
	w = append(w, "POST /v1/verify HTTP/1.1\r\nHost: "...)
	w = append(w, b.host...)
	w = append(w, "\r\nContent-Type: application/json\r\n"+app.HeaderGateID+": "...)
	w = append(w, b.gate...)
	w = append(w, "\r\n"+app.HeaderTimestamp+": "...)
	w = append(w, ts...)
	w = append(w, "\r\n"+app.HeaderNonce+": "...)
	w = append(w, nonce...)
	w = append(w, "\r\n"+app.HeaderRequestID+": "...)
	w = append(w, reqID...)
	w = append(w, "\r\n"+app.HeaderSignature+": "...)
	w = hex.AppendEncode(w, mac)
	w = append(w, "\r\nContent-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	return signedRequest{raw: w, nonce: nonce}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// lconn is one keep-alive connection speaking plain HTTP/1.1.
type lconn struct {
	mu sync.Mutex // guards c against the end-of-run deadline while a reader replaces it
	c  net.Conn
	br *bufio.Reader
}

func dial(host string) (*lconn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &lconn{c: c, br: bufio.NewReaderSize(c, 4096)}, nil
}

var errProto = errors.New("gatesim: unexpected response")

// readResponse reads one response; it returns the status, the body (valid
// until the next read) and the response signature header.
func (l *lconn) readResponse(body []byte) (status int, out []byte, sig []byte, closeAfter bool, err error) {
	line, err := l.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, nil, false, errProto
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, nil, false, errProto
	}
	clen := -1
	for {
		h, err := l.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		i := bytes.IndexByte(h, ':')
		if i < 0 {
			return 0, nil, nil, false, errProto
		}
		k, v := h[:i], bytes.TrimSpace(h[i+1:])
		switch {
		case asciiEqualFold(k, "Content-Length"):
			clen, err = strconv.Atoi(string(v))
			if err != nil {
				return 0, nil, nil, false, errProto
			}
		case asciiEqualFold(k, app.HeaderRespSig):
			sig = make([]byte, hex.DecodedLen(len(v)))
			if _, err := hex.Decode(sig, v); err != nil {
				sig = nil
			}
		case asciiEqualFold(k, "Connection"):
			closeAfter = asciiEqualFold(v, "close")
		case asciiEqualFold(k, "Transfer-Encoding"):
			return 0, nil, nil, false, errProto // the server always sends small bodies with a length
		}
	}
	if clen < 0 || clen > 1<<16 {
		return 0, nil, nil, false, errProto
	}
	if cap(body) < clen {
		body = make([]byte, clen)
	}
	body = body[:clen]
	if _, err := io.ReadFull(l.br, body); err != nil {
		return 0, nil, nil, false, err
	}
	return status, body, sig, closeAfter, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// outcome of one request.
type outcome struct {
	lat, late time.Duration
	decision  string
	kind      uint8 // 0 ok, 1 error, 2 bad signature, 3 non-200
	err       string
}

// check verifies the response signature and extracts the decision.
func check(key app.GateKey, nonce string, status int, body, sig []byte) outcome {
	if !bytes.Equal(sig, app.GateResponseMAC(key, nonce, status, body)) {
		return outcome{kind: 2}
	}
	if status != 200 {
		return outcome{kind: 3, err: "status " + strconv.Itoa(status) + " " + string(body)}
	}
	return outcome{decision: decisionOf(body)}
}

// decisionOf pulls "decision/reason" out of the fixed answer shape without
// a JSON decoder (the generator must stay cheap).
func decisionOf(b []byte) string {
	get := func(k string) string {
		i := bytes.Index(b, []byte(`"`+k+`":"`))
		if i < 0 {
			return "?"
		}
		r := b[i+len(k)+4:]
		j := bytes.IndexByte(r, '"')
		if j < 0 {
			return "?"
		}
		return string(r[:j])
	}
	return get("decision") + "/" + get("reason")
}

// Load runs the raw HTTP/1.1 load generator: open loop at a fixed rate
// with latency from the intended send time (no coordinated omission), or
// closed loop with Conns connections for saturation. It keeps its own cost
// low (plain keep-alive connections, no net/http client) so that, run in
// its own process on its own core, it measures the server and not itself.
// Every response signature is checked.
func Load(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if o.Card == nil {
		return nil, errors.New("gatesim: no cards")
	}
	rb, host, err := newReqBuilder(o.Target, o.Gate, o.Key)
	if err != nil {
		return nil, err
	}
	if o.Conns <= 0 {
		o.Conns = 32
	}
	if o.Closed {
		return loadClosed(ctx, o, rb, host)
	}
	return loadOpen(ctx, o, rb, host)
}

func summarise(outs []outcome, elapsed time.Duration) *LoadResult {
	r := &LoadResult{Decisions: map[string]int64{}, Elapsed: elapsed}
	for _, o := range outs {
		r.Sent++
		switch o.kind {
		case 0:
			r.OK++
			r.Latencies = append(r.Latencies, o.lat)
			r.Decisions[o.decision]++
		case 1:
			r.Errors++
		case 2:
			r.BadSig++
		case 3:
			r.Non200++
		}
		if o.late != 0 || o.kind == 0 {
			r.Lateness = append(r.Lateness, o.late)
		}
		if o.kind != 0 && r.FirstError == "" {
			r.FirstError = o.err
			if r.FirstError == "" {
				r.FirstError = [...]string{"", "error", "bad response signature", "non-200"}[o.kind]
			}
		}
	}
	slices.Sort(r.Latencies)
	slices.Sort(r.Lateness)
	return r
}

func loadOpen(ctx context.Context, o LoadOptions, rb *reqBuilder, host string) (*LoadResult, error) {
	if o.Rate <= 0 || o.Duration <= 0 {
		return nil, errors.New("gatesim: open loop needs --rate and --duration")
	}
	n := int(o.Rate * o.Duration.Seconds())
	interval := time.Duration(float64(time.Second) / o.Rate)
	outs := make([]outcome, n)
	idle := make(chan *lconn, 4096)
	for i := 0; i < min(o.Conns, 4096); i++ {
		c, err := dial(host)
		if err != nil {
			return nil, err
		}
		idle <- c
	}
	type job struct {
		i     int
		sched time.Time
		nonce string
	}
	var wg sync.WaitGroup
	// One reader goroutine per connection, fed the in-flight request.
	serve := func(c *lconn, jobs chan job) {
		defer wg.Done()
		var body []byte
		for j := range jobs {
			status, b, sig, closeAfter, err := c.readResponse(body)
			lat := time.Since(j.sched)
			if err != nil {
				outs[j.i] = outcome{kind: 1, err: err.Error(), late: outs[j.i].late}
				c.c.Close()
				// Replace the broken connection.
				nc, derr := dial(host)
				if derr != nil {
					return
				}
				c.mu.Lock()
				c.c, c.br = nc.c, nc.br
				c.mu.Unlock()
			} else {
				body = b
				oc := check(o.Key, j.nonce, status, b, sig)
				oc.lat, oc.late = lat, outs[j.i].late
				outs[j.i] = oc
				if closeAfter {
					c.c.Close()
					nc, derr := dial(host)
					if derr != nil {
						return
					}
					c.mu.Lock()
					c.c, c.br = nc.c, nc.br
					c.mu.Unlock()
				}
			}
			idle <- c
		}
	}
	conns := map[*lconn]chan job{}
	getConn := func() (*lconn, chan job, error) {
		select {
		case c := <-idle:
			return c, conns[c], nil
		default:
		}
		if len(conns) < 4096 {
			c, err := dial(host)
			if err != nil {
				return nil, nil, err
			}
			ch := make(chan job, 1)
			conns[c] = ch
			wg.Add(1)
			go serve(c, ch)
			return c, ch, nil
		}
		c := <-idle
		return c, conns[c], nil
	}
	// Register the pre-dialled connections.
	for len(idle) > 0 {
		c := <-idle
		ch := make(chan job, 1)
		conns[c] = ch
		wg.Add(1)
		go serve(c, ch)
	}
	for c := range conns {
		idle <- c
	}
	// The scheduler runs on its own OS thread and sleeps with an absolute
	// high-resolution timer (sleepUntil), because the Go runtime rounds
	// short sleeps up to about a millisecond, which would be measured as
	// the server's latency.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	preciseTimerSlack()
	buf := make([]byte, 0, 512)
	start := time.Now()
	clk := newAbsClock(start)
	var sendErr error
	for i := 0; i < n && ctx.Err() == nil; i++ {
		req := rb.build(o.Card(i), buf)
		sched := start.Add(time.Duration(i) * interval)
		clk.sleepUntil(sched)
		c, ch, err := getConn()
		if err != nil {
			sendErr = err
			break
		}
		outs[i].late = time.Since(sched)
		ch <- job{i: i, sched: sched, nonce: req.nonce}
		if _, err := c.c.Write(req.raw); err != nil {
			// The reader sees the broken connection and records the error.
			_ = c.c.SetReadDeadline(time.Now())
		}
	}
	for _, ch := range conns {
		close(ch)
	}
	// Wait for the stragglers (bounded by the read deadline). A reader
	// may be replacing its connection (the server closes after 401s).
	for c := range conns {
		c.mu.Lock()
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.mu.Unlock()
	}
	wg.Wait()
	for c := range conns {
		c.c.Close()
	}
	if sendErr != nil {
		return nil, sendErr
	}
	return summarise(outs, o.Duration), nil
}

func loadClosed(ctx context.Context, o LoadOptions, rb *reqBuilder, host string) (*LoadResult, error) {
	start := time.Now()
	from, to := start.Add(o.Warmup), start.Add(o.Warmup+o.Duration)
	var mu sync.Mutex
	var all []outcome
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, o.Conns)
	for w := 0; w < o.Conns; w++ {
		c, err := dial(host)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.c.Close()
			buf := make([]byte, 0, 512)
			var body []byte
			var mine []outcome
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(to) {
					break
				}
				req := rb.build(o.Card(int(next.Add(1))), buf)
				buf = req.raw[:0]
				if _, err := c.c.Write(req.raw); err != nil {
					errc <- err
					return
				}
				status, b, sig, closeAfter, err := c.readResponse(body)
				if err != nil {
					errc <- err
					return
				}
				body = b
				t1 := time.Now()
				if t0.Before(from) || t1.After(to) {
					continue // warm-up, or finished after the window
				}
				oc := check(o.Key, req.nonce, status, b, sig)
				oc.lat = t1.Sub(t0)
				mine = append(mine, oc)
				if closeAfter {
					errc <- errors.New("server closed a keep-alive connection")
					return
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil && ctx.Err() == nil {
		return nil, err
	}
	r := summarise(all, o.Duration)
	r.Lateness = nil
	return r, nil
}
