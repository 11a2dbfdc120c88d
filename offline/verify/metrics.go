package verify

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
)

// latency histogram bucket upper bounds in seconds (Prometheus convention).
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5}

type metrics struct {
	// known holds the counters of every decision × reason × mode of the
	// closed sets (no map, no key string per answer); decisions holds any
	// value outside them.
	known     [3][16][3]atomic.Int64
	decisions sync.Map // "decision|reason|mode" -> *atomic.Int64
	rejects   sync.Map // reason -> *atomic.Int64
	buckets   []atomic.Int64
	count     atomic.Int64
	sumMicros atomic.Int64
}

func newMetrics() *metrics { return &metrics{buckets: make([]atomic.Int64, len(latencyBuckets))} }

func counter(m *sync.Map, k string) *atomic.Int64 {
	if v, ok := m.Load(k); ok {
		return v.(*atomic.Int64)
	}
	v, _ := m.LoadOrStore(k, new(atomic.Int64))
	return v.(*atomic.Int64)
}

var (
	metricDecisions = [3]app.GateDecision{app.DecisionAllow, app.DecisionDeny, app.DecisionManual}
	metricModes     = [3]app.GateMode{app.ModeOff, app.ModeTest, app.ModeEnforce}
)

func indexOf[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

func (m *metrics) decision(a app.GateAnswer) {
	d, r, mo := indexOf(metricDecisions[:], a.Decision), indexOf(app.Reasons, a.Reason), indexOf(metricModes[:], a.Mode)
	if d >= 0 && r >= 0 && r < 16 && mo >= 0 {
		m.known[d][r][mo].Add(1)
		return
	}
	counter(&m.decisions, string(a.Decision)+"|"+string(a.Reason)+"|"+string(a.Mode)).Add(1)
}

// decisionCounts returns every non-zero decision counter by
// "decision|reason|mode".
func (m *metrics) decisionCounts() map[string]int64 {
	out := map[string]int64{}
	for d := range m.known {
		for r := range m.known[d] {
			for mo := range m.known[d][r] {
				if v := m.known[d][r][mo].Load(); v > 0 {
					out[string(metricDecisions[d])+"|"+string(app.Reasons[r])+"|"+string(metricModes[mo])] = v
				}
			}
		}
	}
	m.decisions.Range(func(k, v any) bool { out[k.(string)] += v.(*atomic.Int64).Load(); return true })
	return out
}

func (m *metrics) reject(reason string) { counter(&m.rejects, reason).Add(1) }

func (m *metrics) latency(d time.Duration) {
	s := d.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			m.buckets[i].Add(1)
		}
	}
	m.count.Add(1)
	m.sumMicros.Add(d.Microseconds())
}

// Gauges are read at scrape time.
type Gauges struct {
	CacheAge    func() time.Duration
	CacheSeq    func() uint64
	SyncLag     func() time.Duration // time since the last successful sync step
	OutboxDepth func() int64
	ClockSkew   func() (time.Duration, bool) // central minus station; false when unknown
}

func sortedKeys(m *sync.Map) []string {
	var ks []string
	m.Range(func(k, _ any) bool { ks = append(ks, k.(string)); return true })
	sort.Strings(ks)
	return ks
}

func (m *metrics) write(w io.Writer, g Gauges) {
	fmt.Fprintln(w, "# HELP stationdesk_verify_requests_total Answered verify requests by decision, reason and mode.")
	fmt.Fprintln(w, "# TYPE stationdesk_verify_requests_total counter")
	counts := m.decisionCounts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var d, r, mo string
		fmt.Sscanf(replaceBar(k), "%s %s %s", &d, &r, &mo)
		fmt.Fprintf(w, "stationdesk_verify_requests_total{decision=%q,reason=%q,mode=%q} %d\n", d, r, mo, counts[k])
	}
	fmt.Fprintln(w, "# HELP stationdesk_verify_rejected_total Requests refused before an answer (auth, size, format).")
	fmt.Fprintln(w, "# TYPE stationdesk_verify_rejected_total counter")
	for _, k := range sortedKeys(&m.rejects) {
		v, _ := m.rejects.Load(k)
		fmt.Fprintf(w, "stationdesk_verify_rejected_total{reason=%q} %d\n", k, v.(*atomic.Int64).Load())
	}
	fmt.Fprintln(w, "# HELP stationdesk_verify_latency_seconds Time from request read to answer written.")
	fmt.Fprintln(w, "# TYPE stationdesk_verify_latency_seconds histogram")
	for i, b := range latencyBuckets {
		fmt.Fprintf(w, "stationdesk_verify_latency_seconds_bucket{le=\"%g\"} %d\n", b, m.buckets[i].Load())
	}
	fmt.Fprintf(w, "stationdesk_verify_latency_seconds_bucket{le=\"+Inf\"} %d\n", m.count.Load())
	fmt.Fprintf(w, "stationdesk_verify_latency_seconds_sum %g\n", float64(m.sumMicros.Load())/1e6)
	fmt.Fprintf(w, "stationdesk_verify_latency_seconds_count %d\n", m.count.Load())
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	if g.CacheAge != nil {
		gauge("stationdesk_gate_cache_age_seconds", "Age of the gate cache (since the newest fully applied manifest).", g.CacheAge().Seconds())
	}
	if g.CacheSeq != nil {
		gauge("stationdesk_gate_cache_seq", "Applied change sequence of the gate cache.", float64(g.CacheSeq()))
	}
	if g.SyncLag != nil {
		gauge("stationdesk_sync_lag_seconds", "Time since the last successful sync step.", g.SyncLag().Seconds())
	}
	if g.ClockSkew != nil {
		if d, ok := g.ClockSkew(); ok {
			gauge("stationdesk_clock_skew_seconds", "Central's clock minus the station's at the last manifest.", d.Seconds())
		}
	}
	if g.OutboxDepth != nil {
		gauge("stationdesk_gate_outbox_depth", "Gate events not yet uploaded to central.", float64(g.OutboxDepth()))
	}
}

func replaceBar(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '|' {
			b[i] = ' '
		}
	}
	return string(b)
}
