package gatesim

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	gsync "stationdesk/offline/sync"
	"stationdesk/offline/syncpub"
	"stationdesk/offline/syncpub/wire"
	"stationdesk/offline/verify"
)

// Bench is the `make bench` driver (`stationdesk bench` / `go run . bench`):
//
//	bench [--size N] [--rate 1000] [--duration 10s] [--dir DIR] [--pagesize]
//
// SIZE in the environment sets the default --size (default 1,000,000
// cards). It prints one line per figure of issue 6, each with what was
// measured, on loopback, everything in one process on this machine.
func Bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := 1_000_000
	if s, err := strconv.Atoi(os.Getenv("SIZE")); err == nil && s > 0 {
		def = s
	}
	size := fs.Int("size", def, "cards in the synthetic city")
	rate := fs.Float64("rate", 1000, "open-loop rate for the latency figure")
	dur := fs.Duration("duration", 10*time.Second, "duration of each load run")
	dir := fs.String("dir", "", "working folder (default: a temp folder, removed afterwards)")
	pagesize := fs.Bool("pagesize", true, "also compare page_size 1024 vs 4096")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "stationdesk-bench-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := bench(ctx, *size, *rate, *dur, *dir, *pagesize, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func writeBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

func fileSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

type constLookup struct{ f app.CacheFreshness }

func (c constLookup) Lookup(context.Context, wire.CardHash) (app.GateStatus, error) {
	return app.GateStatus{Found: true, Person: 1, Color: app.ColorGreen, LastNegative: c.f.FreshAsOf.Add(-time.Hour)}, nil
}
func (c constLookup) LookupPerson(context.Context, uint64) (app.GateStatus, error) {
	return app.GateStatus{Found: true, Person: 1, Color: app.ColorGreen}, nil
}
func (c constLookup) Freshness() app.CacheFreshness { return c.f }

func bench(ctx context.Context, n int, rate float64, dur time.Duration, dir string, pagesize bool, out io.Writer) error {
	pr := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	pr("# stationdesk bench: %d cards, GOMAXPROCS=%d, %s", n, runtime.GOMAXPROCS(0), runtime.Version())
	base := time.Now().Truncate(time.Minute)
	t := time.Now()
	src := syncpub.NewSynthetic(n, 1, base)
	pub, err := syncpub.New(ctx, syncpub.Config{Source: src, Keys: syncpub.DemoKeys()})
	if err != nil {
		return err
	}
	pr("central simulator: synthetic city of %d cards / %d persons published in %.1f s (central side, not a target)", n, syncpub.SyntheticPersons(n), time.Since(t).Seconds())
	central := httptest.NewServer(http.StripPrefix("/v1/sync", pub.Handler()))
	defer central.Close()

	// --- cold snapshot build while an old file serves ---
	livePath := filepath.Join(dir, "cache.db")
	live, err := cache.Open(ctx, livePath, cache.Options{})
	if err != nil {
		return err
	}
	defer live.Close()
	cl, err := gsync.New(gsync.Config{BaseURL: central.URL + "/v1/sync", PinnedKey: syncpub.DemoKeys().ManifestPublic, Cache: live, Dir: filepath.Join(dir, "sync"), Timeout: time.Minute})
	if err != nil {
		return err
	}
	var served atomic.Int64
	stopServe := make(chan struct{})
	var sw sync.WaitGroup
	sw.Add(1)
	go func() { // the old file keeps answering during the build
		defer sw.Done()
		var h wire.CardHash
		for {
			select {
			case <-stopServe:
				return
			default:
			}
			h[0]++
			if _, err := live.Lookup(ctx, h); err == nil {
				served.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t = time.Now()
	if err := cl.SyncOnce(ctx); err != nil {
		return fmt.Errorf("cold sync: %w", err)
	}
	build := time.Since(t)
	close(stopServe)
	sw.Wait()
	nc, np, _ := live.Counts(ctx)
	dbSize := fileSize(livePath, livePath+"-wal")
	pr("cold snapshot (download over loopback + SHA-256 + sorted insert + digest check + swap): %d cards + %d persons in %.1f s = %.0f rows/s; old file answered %d look-ups meanwhile [target 30 M ≤ 60 s]",
		nc, np, build.Seconds(), float64(nc+np)/build.Seconds(), served.Load())
	pr("database size: %.1f MiB for %d cards + %d persons = %.1f B/card [target ≤ 1.1 GiB at 30 M]", float64(dbSize)/(1<<20), nc, np, float64(dbSize)/float64(nc))

	// --- verify server on loopback ---
	keys, err := verify.OpenKeyStore(filepath.Join(dir, "gates.json"), app.SystemClock{})
	if err != nil {
		return err
	}
	kh, err := keys.Add("bench-gate")
	if err != nil {
		return err
	}
	_ = keys.SetMode(app.ModeEnforce)
	key, _ := app.ParseGateKey(kh)
	mk := func(l verify.Lookup) (*verify.Server, string, func(), error) {
		s, err := verify.New(verify.Config{Lookup: l, Trust: verify.TrustFromSync(cl), Keys: keys, Window: 30 * time.Second, NonceCache: 4_000_000})
		if err != nil {
			return nil, "", nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", nil, err
		}
		c, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.Serve(c, ln); close(done) }()
		return s, "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
	}
	_, dbURL, stopDB, err := mk(live)
	if err != nil {
		return err
	}
	defer stopDB()
	cards := make([]string, 0, 100_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100_000; i++ {
		cards = append(cards, syncpub.SyntheticCardNumber(rng.IntN(n)))
	}
	warm := Options{Target: dbURL, Gate: "bench-gate", Key: key, Rate: 500, Duration: 2 * time.Second, Cards: cards, Client: NewClient()}
	if _, err := Run(ctx, warm); err != nil {
		return err
	}

	// --- latency at 1,000 req/s open loop with deltas applying ---
	persons := syncpub.SyntheticPersons(n)
	var upserts atomic.Int64
	var applyTime atomic.Int64
	stopApply := make(chan struct{})
	var aw sync.WaitGroup
	aw.Add(1)
	wb0 := writeBytes()
	go func() {
		defer aw.Done()
		for {
			select {
			case <-stopApply:
				return
			default:
			}
			st, err := live.State(ctx)
			if err != nil {
				return
			}
			seg := wire.Segment{From: st.AppliedSeq, To: st.AppliedSeq + 10_000}
			seen := map[uint64]bool{}
			for i := uint64(1); i <= 10_000; i++ {
				p := rng.Uint64N(uint64(persons)) + 1
				if seen[p] {
					continue
				}
				seen[p] = true
				seg.Persons = append(seg.Persons, wire.Person{Person: p, Color: wire.ColorGreen, TestMin: wire.TestMinutes(time.Now().Add(-time.Hour)), Seq: st.AppliedSeq + i})
			}
			slices.SortFunc(seg.Persons, func(a, b wire.Person) int { return int(a.Person) - int(b.Person) })
			t := time.Now()
			r, err := live.ApplySegment(ctx, seg, time.Time{})
			if err != nil {
				return
			}
			applyTime.Add(int64(time.Since(t)))
			upserts.Add(int64(r.Upserts))
			time.Sleep(200 * time.Millisecond) // a realistic duty cycle: deltas arrive in batches
		}
	}()
	lat, err := Run(ctx, Options{Target: dbURL, Gate: "bench-gate", Key: key, Rate: rate, Duration: dur, Cards: cards, Client: NewClient()})
	close(stopApply)
	aw.Wait()
	if err != nil {
		return err
	}
	wb := writeBytes() - wb0
	pr("verify latency, open loop %.0f req/s for %s, %d rows, deltas applying: p50 %s p99 %s p99.9 %s max %s (ok %d, errors %d) [targets p50 ≤ 0.5 ms, p99 ≤ 2 ms, p99.9 ≤ 10 ms]",
		rate, dur, nc, fmtDur(lat.Percentile(50)), fmtDur(lat.Percentile(99)), fmtDur(lat.Percentile(99.9)), fmtDur(lat.Percentile(100)), lat.OK, lat.Errors)
	at := time.Duration(applyTime.Load())
	if u := upserts.Load(); u > 0 {
		pr("delta apply while serving: %d upserts in %.2f s of apply time = %.0f upserts/s (10 k-row segments, one tx each) [target ≥ 30,000/s]", u, at.Seconds(), float64(u)/at.Seconds())
		pr("bytes written per applied change: %.0f B (process write_bytes incl. WAL and checkpoints and gate events: %d B / %d changes) [target ≤ 1.5 KB]", float64(wb)/float64(u), wb, u)
	}
	pr("decisions in the latency run: %s", lat.Summary())

	// --- saturation: DB vs constant answer, same run ---
	sat := func(url string) (*Result, error) {
		return Run(ctx, Options{Target: url, Gate: "bench-gate", Key: key, Duration: dur / 2, Cards: cards, Closed: 32, Client: NewClient()})
	}
	rdb, err := sat(dbURL)
	if err != nil {
		return err
	}
	_, constURL, stopConst, err := mk(constLookup{f: live.Freshness()})
	if err != nil {
		return err
	}
	rc, err := sat(constURL)
	stopConst()
	if err != nil {
		return err
	}
	cores := float64(runtime.GOMAXPROCS(0))
	pr("throughput, closed loop 32 workers, server and load generator sharing %d cores: DB %.0f req/s, constant answer %.0f req/s, ratio %.0f %% [targets ≥ 12,000/s per core; ≥ 70 %% of constant]",
		int(cores), rdb.Rate(), rc.Rate(), 100*rdb.Rate()/rc.Rate())
	pr("  per core (req/s ÷ %d cores, generator's cost included — a lower bound for the server alone): DB %.0f, constant %.0f", int(cores), rdb.Rate()/cores, rc.Rate()/cores)

	// --- hot list: central commit → visible at the gates ---
	src.Generate(1, time.Now())
	_ = pub.Refresh(ctx)
	t = time.Now()
	if err := cl.HotOnce(ctx); err != nil {
		return err
	}
	pr("hot list round (fetch + verify + apply one risk change): %s; with the 10 s hot-list poll the worst case is ≈ 10 s + this [target ≤ 30 s]", fmtDur(time.Since(t)))

	if pagesize {
		if err := benchPageSize(ctx, min(n, 30_000_000), dir, pr); err != nil {
			return err
		}
	}
	return nil
}

// benchPageSize builds the same rows with page_size 1024 and 4096 and
// measures point look-ups and bytes written per random upsert.
func benchPageSize(ctx context.Context, n int, dir string, pr func(string, ...any)) error {
	key := syncpub.DemoKeys().CardKey
	rows := make([]wire.Card, n)
	for i := range rows {
		rows[i] = wire.Card{Hash: wire.HashCard(key, syncpub.SyntheticCardNumber(i)), Person: syncpub.SyntheticPersonOf(i), Seq: 1}
	}
	slices.SortFunc(rows, func(a, b wire.Card) int { return strings.Compare(string(a.Hash[:]), string(b.Hash[:])) })
	for _, ps := range []int{1024, 4096} {
		path := filepath.Join(dir, fmt.Sprintf("ps%d.db", ps))
		b, err := cache.OpenBuilder(ctx, path, "ps", "k", 16, cache.Options{PageSize: ps})
		if err != nil {
			return err
		}
		for i := 0; i < len(rows); i += 100_000 {
			if err := b.AddCards(ctx, "c"+strconv.Itoa(i), rows[i:min(i+100_000, len(rows))]); err != nil {
				return err
			}
		}
		if err := b.Finish(ctx, 1); err != nil {
			return err
		}
		c, err := cache.Open(ctx, path, cache.Options{PageSize: ps})
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(3, 4))
		lats := make([]time.Duration, 0, 200_000)
		for i := 0; i < 200_000; i++ {
			h := rows[rng.IntN(len(rows))].Hash
			t := time.Now()
			if _, err := c.Lookup(ctx, h); err != nil {
				c.Close()
				return err
			}
			lats = append(lats, time.Since(t))
		}
		slices.Sort(lats)
		// 5 × 10 k random card upserts.
		wb0 := writeBytes()
		var ups int
		for k := 0; k < 5; k++ {
			st, _ := c.State(ctx)
			seg := wire.Segment{From: st.AppliedSeq, To: st.AppliedSeq + 10_000}
			seen := map[int]bool{}
			for i := 1; i <= 10_000; i++ {
				j := rng.IntN(len(rows))
				if seen[j] {
					continue
				}
				seen[j] = true
				r := rows[j]
				r.Seq = st.AppliedSeq + uint64(i)
				r.Flags = wire.FlagBlocked
				seg.Cards = append(seg.Cards, r)
			}
			slices.SortFunc(seg.Cards, func(a, b wire.Card) int { return strings.Compare(string(a.Hash[:]), string(b.Hash[:])) })
			res, err := c.ApplySegment(ctx, seg, time.Time{})
			if err != nil {
				c.Close()
				return err
			}
			ups += res.Upserts
		}
		_ = c.Checkpoint(ctx)
		wb := writeBytes() - wb0
		size := fileSize(path, path+"-wal")
		c.Close()
		pr("page_size %d, %d cards: look-up p50 %.1f µs p99 %.1f µs p99.9 %.1f µs; %.0f B written per upsert (incl. checkpoint); file %.1f MiB",
			ps, n, us(lats[len(lats)/2]), us(lats[len(lats)*99/100]), us(lats[len(lats)*999/1000]), float64(wb)/float64(ups), float64(size)/(1<<20))
		os.Remove(path)
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
