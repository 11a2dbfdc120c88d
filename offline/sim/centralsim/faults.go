package centralsim

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"time"
)

// Faults are the simulator's failure switches. They apply to /v1/* only
// (never /admin). Counters ("…Next") count down by one per /v1 request that
// they hit; they are checked in the order of the fields below.
type Faults struct {
	// Latency delays every /v1 answer (before processing).
	Latency time.Duration `json:"-"`
	// LatencyMS is Latency in milliseconds (the JSON form of the admin API).
	LatencyMS int64 `json:"latency_ms"`
	// Outage closes every /v1 connection without an answer, before
	// processing (nothing is applied).
	Outage bool `json:"outage"`
	// FailNext answers the next N requests 500 before processing.
	FailNext int `json:"fail_next"`
	// ErrorRate answers this fraction (0..1) of requests 500 before
	// processing.
	ErrorRate float64 `json:"error_rate"`
	// RateLimitNext answers the next N requests 429 with Retry-After: 1.
	RateLimitNext int `json:"rate_limit_next"`
	// TruncateNext processes and commits the next N requests, then sends
	// only the first half of the JSON body (status 2xx, body cut).
	TruncateNext int `json:"truncate_next"`
	// DropAfterCommitNext processes and commits the next N requests, then
	// closes the connection without an answer.
	DropAfterCommitNext int `json:"drop_after_commit_next"`
}

func (f Faults) normalized() Faults {
	if f.Latency == 0 && f.LatencyMS > 0 {
		f.Latency = time.Duration(f.LatencyMS) * time.Millisecond
	}
	f.LatencyMS = f.Latency.Milliseconds()
	if f.ErrorRate < 0 {
		f.ErrorRate = 0
	}
	if f.ErrorRate > 1 {
		f.ErrorRate = 1
	}
	return f
}

// SetFaults replaces the fault switches.
func (s *Server) SetFaults(f Faults) {
	s.fmu.Lock()
	s.faults = f.normalized()
	s.fmu.Unlock()
}

// Faults returns the current fault switches.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

type faultAction int

const (
	faultNone faultAction = iota
	faultOutage
	faultFail
	faultRateLimit
	faultTruncate
	faultDrop
)

// takeFault decides what happens to one /v1 request and counts it down.
func (s *Server) takeFault() (time.Duration, faultAction) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	f := &s.faults
	lat := f.Latency
	switch {
	case f.Outage:
		return lat, faultOutage
	case f.FailNext > 0:
		f.FailNext--
		return lat, faultFail
	case f.ErrorRate > 0 && s.nextRand() < f.ErrorRate:
		return lat, faultFail
	case f.RateLimitNext > 0:
		f.RateLimitNext--
		return lat, faultRateLimit
	case f.TruncateNext > 0:
		f.TruncateNext--
		return lat, faultTruncate
	case f.DropAfterCommitNext > 0:
		f.DropAfterCommitNext--
		return lat, faultDrop
	}
	return lat, faultNone
}

// nextRand returns a float in [0,1) (xorshift64; the caller holds fmu).
func (s *Server) nextRand() float64 {
	x := s.rnd
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	s.rnd = x
	return float64(x>>11) / float64(1<<53)
}

// withFaults wraps a /v1 handler with the fault switches.
func (s *Server) withFaults(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	lat, act := s.takeFault()
	if lat > 0 {
		if !sleepCtx(r.Context(), lat) {
			return
		}
	}
	switch act {
	case faultOutage:
		hangUp(w)
		return
	case faultFail:
		writeError(w, errInternal())
		return
	case faultRateLimit:
		w.Header().Set("Retry-After", "1")
		writeError(w, &apiError{status: http.StatusTooManyRequests, code: "rate_limited",
			zh: "中心系统繁忙，请稍后再试。", en: "Central is busy; try again shortly."})
		return
	case faultTruncate, faultDrop:
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next(rec, r)
		if act == faultDrop {
			hangUp(w)
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		b := rec.body.Bytes()
		_, _ = w.Write(b[:len(b)/2])
		return
	}
	next(w, r)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hangUp closes the connection without writing an answer.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, like a crashed peer
	}
	_ = conn.Close()
}

// recorder buffers an answer so a fault can cut or drop it after the
// handler committed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// Hijack is not supported on a recorder.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}
