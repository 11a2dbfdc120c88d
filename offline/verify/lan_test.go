package verify

import (
	"bufio"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stationdesk/app"
)

// attack is the hostile-LAN load a gate vendor reported: n connections from several
// source addresses of 127.0.0.0/8 (none of them the gates' 127.0.0.1)
// that each send one unauthenticated GET /healthz and then idle (with
// mixed, every other one sends nothing at all). Whenever the server cuts one, it is
// re-opened after a pause, so the pressure lasts until stop is called.
type attack struct {
	stop    func()
	wg      sync.WaitGroup
	dials   atomic.Int64
	holding atomic.Int64
}

func startAttack(t testing.TB, addr string, n, sources int, mixed bool) *attack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &attack{}
	a.stop = func() { cancel(); a.wg.Wait() }
	for i := 0; i < n; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}
		healthz := !mixed || i%2 == 0
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			d := net.Dialer{LocalAddr: src, Timeout: 2 * time.Second}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				a.dials.Add(1)
				if healthz {
					_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: station\r\n\r\n"))
				}
				a.holding.Add(1)
				// Idle: read only to notice when the server hangs up.
				done := make(chan struct{})
				go func() { _, _ = io.Copy(io.Discard, c); close(done) }()
				select {
				case <-ctx.Done():
				case <-done:
				}
				a.holding.Add(-1)
				c.Close()
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
	}
	return a
}

// serveFixture runs the fixture's server under the connection guard on a
// real loopback listener and returns its base URL.
func serveFixture(t testing.TB, f *fixture) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + l.Addr().String()
}

// TestIdleConnectionAttackLeavesGatesServed is finding 1: 600 connections
// from other devices on the LAN, idling after an unauthenticated request
// or sending nothing, must not keep signed gates from being answered. It
// asserts correctness only (every signed request answered, signed, with
// the right decision); the latency figures are BenchmarkSignedUnderAttack.
func TestIdleConnectionAttackLeavesGatesServed(t *testing.T) {
	cases := []struct {
		name  string
		lim   ConnLimits
		mixed bool
	}{
		{"DefaultLimits", ConnLimits{}, false},
		{"DefaultLimitsSilentConnectionsToo", ConnLimits{}, true},
		// A cap below the attack's size: admitting gates now depends on
		// shedding the attackers' connections, not on the per-address limit.
		{"CapBelowAttackSheds", ConnLimits{Max: 100, PerIP: 100}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, app.ModeEnforce)
			f.srv.cfg.Conn = tc.lim
			url := serveFixture(t, f)
			f.http.URL = url
			a := startAttack(t, strings.TrimPrefix(url, "http://"), 600, 10, tc.mixed)
			defer a.stop()
			deadline := time.Now().Add(20 * time.Second)
			for a.dials.Load() < 600 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
			}
			if a.dials.Load() < 600 {
				t.Fatalf("attack opened only %d connections", a.dials.Load())
			}
			// Two gates, each on its own keep-alive client, as gates run.
			kh, err := f.keys.Add("gate-02")
			if err != nil {
				t.Fatal(err)
			}
			k2, _ := app.ParseGateKey(kh)
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for g, key := range map[string]app.GateKey{"gate-01": f.key, "gate-02": k2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := &http.Client{Timeout: 5 * time.Second}
					for i := 0; i < 40; i++ {
						card := riders[i%2].card
						req := f.request(t, cardBody(card), signOpts{gate: g, key: &key})
						resp, err := client.Do(req)
						if err != nil {
							errs <- fmt.Errorf("%s request %d: %w", g, i, err)
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						sig := resp.Header.Get(app.HeaderRespSig)
						want := map[string]string{riders[0].card: `"decision":"allow"`, riders[1].card: `"decision":"deny"`}[card]
						if resp.StatusCode != 200 || !strings.Contains(string(b), want) || !validRespSig(key, req.Header.Get(app.HeaderNonce), 200, b, sig) {
							errs <- fmt.Errorf("%s request %d: %d %s", g, i, resp.StatusCode, b)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestUnauthenticatedConnectionsAreNotKeptAlive: health checks, 401s and
// 404s close the connection; a correctly signed request keeps it.
func TestUnauthenticatedConnectionsAreNotKeptAlive(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	url := serveFixture(t, f)
	f.http.URL = url
	addr := strings.TrimPrefix(url, "http://")
	roundTrip := func(raw string) (*http.Response, bool) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		// Closed by the server: the next read sees EOF at once.
		_, err = br.ReadByte()
		return resp, err == io.EOF
	}
	for _, raw := range []string{
		"GET /healthz HTTP/1.1\r\nHost: s\r\n\r\n",
		"GET /nothing HTTP/1.1\r\nHost: s\r\n\r\n",
		"POST /v1/verify HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	} {
		resp, closed := roundTrip(raw)
		if !closed || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%q: %d content-type %q, closed %v", strings.SplitN(raw, "\r\n", 2)[0], resp.StatusCode, resp.Header.Get("Content-Type"), closed)
		}
	}
	// Signed: the same connection answers a second request.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		req := f.request(t, cardBody(riders[0].card), signOpts{})
		req.Host = "s"
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("signed request %d on one connection: %v", i+1, err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("signed request %d: %d close=%v", i+1, resp.StatusCode, resp.Close)
		}
	}
}

// TestPerAddressLimitShedsOldestIdle: one address cannot hold more than
// PerIP connections; at the limit its oldest idle connection goes, and
// another address is untouched.
func TestPerAddressLimitShedsOldestIdle(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	f.srv.cfg.Conn = ConnLimits{PerIP: 4, FirstRequest: time.Minute}
	url := serveFixture(t, f)
	addr := strings.TrimPrefix(url, "http://")
	dial := func(ip byte) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closed := func(c net.Conn) chan struct{} {
		ch := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, c); close(ch) }()
		return ch
	}
	other := dial(9)
	otherClosed := closed(other)
	var first chan struct{}
	for i := 0; i < 4; i++ {
		ch := closed(dial(3))
		if i == 0 {
			first = ch
		}
	}
	// Wait until the server has admitted all five before the sixth.
	for deadline := time.Now().Add(10 * time.Second); f.srv.conns.open.Load() < 5; {
		if time.Now().After(deadline) {
			t.Fatalf("open %d", f.srv.conns.open.Load())
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the deadline decides
	}
	dial(3)
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("the oldest connection of the address at its limit was not shed")
	}
	select {
	case <-otherClosed:
		t.Fatal("another address's connection was shed")
	default:
	}
	if f.srv.conns.shedIP.Load() != 1 {
		t.Fatalf("shed per ip %d", f.srv.conns.shedIP.Load())
	}
}

// BenchmarkSignedUnderAttack prints p50/p99 of signed verify requests
// (one keep-alive gate, sequential, loopback, real cache) without and with
// the 600-connection attack running. make bench runs it.
func BenchmarkSignedUnderAttack(b *testing.B) {
	for _, n := range []int{0, 600} {
		b.Run(fmt.Sprintf("attack=%d", n), func(b *testing.B) {
			f := newFixture(b, app.ModeEnforce)
			url := serveFixture(b, f)
			f.http.URL = url
			if n > 0 {
				a := startAttack(b, strings.TrimPrefix(url, "http://"), n, 10, false)
				defer a.stop()
				for deadline := time.Now().Add(20 * time.Second); a.dials.Load() < int64(n) && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond) // benchmark set-up: poll until the attack is up
				}
			}
			client := &http.Client{Timeout: 10 * time.Second}
			lats := make([]time.Duration, 0, b.N)
			fails := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := f.request(b, cardBody(riders[i%2].card), signOpts{})
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fails++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lats = append(lats, time.Since(t0))
				if resp.StatusCode != 200 {
					fails++
				}
			}
			b.StopTimer()
			slices.Sort(lats)
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2])/1e6, "p50-ms")
				b.ReportMetric(float64(lats[(len(lats)-1)*99/100])/1e6, "p99-ms")
			}
			b.ReportMetric(float64(fails), "failed")
		})
	}
}

func validRespSig(key app.GateKey, nonce string, status int, body []byte, sigHex string) bool {
	sig, err := hex.DecodeString(sigHex)
	return err == nil && hmac.Equal(sig, app.GateResponseMAC(key, nonce, status, body))
}
