// Package gatesim is a signing load generator for the gate verify service
// (`stationdesk gatesim`), the gate contract's conformance run
// (Conformance) and the simulated gate of demo mode (DemoGate); the
// `make bench` command around its load is offline/sim/gatebench. It sends signed POST /v1/verify requests open loop at a fixed
// rate — latency is measured from each request's scheduled send time, so a
// slow server cannot hide its queueing (no coordinated omission) — checks
// every response signature, and prints latency percentiles and decision
// counts. Card numbers come from a file (one per line) or the synthetic
// city; they are never printed.
package gatesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
)

// Options for one load run.
type Options struct {
	Target   string // base URL, e.g. http://127.0.0.1:8443
	Gate     string
	Key      app.GateKey
	Rate     float64 // requests per second
	Duration time.Duration
	Cards    []string // card numbers (or "qr:<token>")
	// Closed > 0 runs closed loop with that many workers instead (saturation).
	Closed int
	Client *http.Client
}

// Result of a run.
type Result struct {
	Sent, OK, Errors, BadSig int64
	Decisions                map[string]int64
	Latencies                []time.Duration // sorted
	Elapsed                  time.Duration
}

// Percentile returns the p-th percentile (0..100).
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies)-1) * p / 100)
	return r.Latencies[i]
}

// Rate returns completed requests per second.
func (r *Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// Summary is a one-line report.
func (r *Result) Summary() string {
	ds := make([]string, 0, len(r.Decisions))
	for k, v := range r.Decisions {
		ds = append(ds, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(ds)
	return fmt.Sprintf("sent %d ok %d errors %d badsig %d | %.0f req/s | p50 %s p90 %s p99 %s p99.9 %s max %s | %s",
		r.Sent, r.OK, r.Errors, r.BadSig, r.Rate(), fmtDur(r.Percentile(50)), fmtDur(r.Percentile(90)), fmtDur(r.Percentile(99)),
		fmtDur(r.Percentile(99.9)), fmtDur(r.Percentile(100)), strings.Join(ds, " "))
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }

// NewClient returns an HTTP client with a keep-alive pool sized for load.
func NewClient() *http.Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type sample struct {
	lat      time.Duration
	decision string
	ok       bool
	badSig   bool
}

// Run performs one load run.
func Run(ctx context.Context, o Options) (*Result, error) {
	if len(o.Cards) == 0 {
		return nil, fmt.Errorf("gatesim: no cards")
	}
	if o.Client == nil {
		o.Client = NewClient()
	}
	var mu sync.Mutex
	res := &Result{Decisions: map[string]int64{}}
	var seq atomic.Int64
	record := func(s sample) {
		mu.Lock()
		res.Sent++
		if s.ok {
			res.OK++
			res.Latencies = append(res.Latencies, s.lat)
			res.Decisions[s.decision]++
		} else {
			res.Errors++
		}
		if s.badSig {
			res.BadSig++
		}
		mu.Unlock()
	}
	one := func(sched time.Time) {
		i := seq.Add(1)
		s := send(ctx, o, o.Cards[int(i)%len(o.Cards)], "g"+strconv.FormatInt(i, 36)+"-"+randHex(4))
		s.lat = time.Since(sched)
		record(s)
	}
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	if o.Closed > 0 {
		for w := 0; w < o.Closed; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && ctx.Err() == nil {
					one(time.Now())
				}
			}()
		}
	} else {
		interval := time.Duration(float64(time.Second) / o.Rate)
		for i := 0; ; i++ {
			sched := start.Add(time.Duration(i) * interval)
			if !sched.Before(end) || ctx.Err() != nil {
				break
			}
			if d := time.Until(sched); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() { defer wg.Done(); one(sched) }()
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func send(ctx context.Context, o Options, card, reqID string) sample {
	var body []byte
	if tok, ok := strings.CutPrefix(card, "qr:"); ok {
		body = []byte(`{"qr":"` + tok + `"}`)
	} else {
		body = []byte(`{"card":"` + card + `"}`)
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	nonce := randHex(16)
	mac := app.GateRequestMAC(o.Key, "POST", "/v1/verify", o.Gate, ts, nonce, reqID, body)
	req, err := http.NewRequestWithContext(ctx, "POST", o.Target+"/v1/verify", bytes.NewReader(body))
	if err != nil {
		return sample{}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set(app.HeaderGateID, o.Gate)
	h.Set(app.HeaderTimestamp, ts)
	h.Set(app.HeaderNonce, nonce)
	h.Set(app.HeaderRequestID, reqID)
	h.Set(app.HeaderSignature, hex.EncodeToString(mac))
	resp, err := o.Client.Do(req)
	if err != nil {
		return sample{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return sample{}
	}
	sig, _ := hex.DecodeString(resp.Header.Get(app.HeaderRespSig))
	s := sample{ok: true}
	if !bytes.Equal(sig, app.GateResponseMAC(o.Key, nonce, resp.StatusCode, b)) {
		s.badSig, s.ok = true, false
		return s
	}
	var a struct{ Decision, Reason string }
	_ = json.Unmarshal(b, &a)
	s.decision = a.Decision + "/" + a.Reason
	return s
}
