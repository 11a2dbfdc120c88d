// Package gatebench is the `make bench` command for the gate path
// (`stationdesk bench gate`, or `go run ./offline/sim/gatebench/cmd/bench`):
// a synthetic city built through the central simulator's publisher, the
// station's sync and cache, the verify service in a child process and the
// load generator of offline/sim/gatesim in another. It is a command
// package: Main parses its flags and prints the figures; nothing else
// imports it but the two commands that start it.
package gatebench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/gatesync"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/syncwire"
	"stationdesk/offline/verify"
)

// Main is the `make bench` driver (`stationdesk bench gate` /
// `go run ./offline/sim/gatebench/cmd/bench`):
//
//	bench [--size N] [--rate 1000] [--duration 10s] [--reps 3] [--dir DIR] [--pagesize] [--pagesizes 1024,4096,8192]
//
// SIZE in the environment sets the default --size (default 1,000,000
// cards). It prints one line per figure of docs/decisions.md: each with what was
// measured and the load average of the machine when it was measured.
//
// Method: the central simulator and the cold build run in this process.
// For the verify figures the server runs in a child process pinned to one
// core (taskset -c 0; GOMAXPROCS=1 for throughput, 2 — a 2-core station's
// default — for latency) as a station runs it (cache,
// gate keys, gate-event outbox with group commit, deltas applying), and
// the load generator runs in another child pinned to the other core
// (taskset -c 1), so neither's CPU counts against the other. Latency is
// open loop with each request timed from its intended send time (no
// coordinated omission); throughput is closed loop. Each is repeated
// --reps times and reported as best and median; the throughput ratio
// against the constant server is the median of --pairs paired runs (the
// two servers alternated, each pair in the other order than the last, so
// a drift of the machine falls on both sides), with its spread.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := 1_000_000
	if s, err := strconv.Atoi(os.Getenv("SIZE")); err == nil && s > 0 {
		def = s
	}
	o := benchOpts{}
	fs.IntVar(&o.size, "size", def, "cards in the synthetic city")
	fs.Float64Var(&o.rate, "rate", 1000, "open-loop rate for the latency figure")
	fs.DurationVar(&o.dur, "duration", 10*time.Second, "duration of each latency run")
	fs.DurationVar(&o.satDur, "sat-duration", 5*time.Second, "duration of each throughput run")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of each load figure (best and median are printed)")
	fs.IntVar(&o.latProcs, "latency-procs", 2, "GOMAXPROCS of the server child in the latency runs (it stays pinned to one core; 2 is what a 2-core station runs with, and lets a handler run while SQLite commits or fsyncs)")
	fs.IntVar(&o.pairs, "pairs", 9, "paired throughput runs (DB server and constant server alternated); the ratio is their median")
	fs.IntVar(&o.conns, "conns", 32, "closed-loop connections for the throughput figure")
	fs.Float64Var(&o.maxLoad, "max-load", 2.5, "before each run, wait while the 1-min load average is above this (0: never wait)")
	fs.DurationVar(&o.loadWait, "load-wait", time.Minute, "longest wait for a quieter machine before a run")
	fs.StringVar(&o.dir, "dir", "", "working folder (default: a temp folder, removed afterwards)")
	fs.BoolVar(&o.pagesize, "pagesize", true, "also compare page sizes (--pagesizes: look-ups, build rate, file size, bytes written per change over a merge cycle)")
	fs.StringVar(&o.pageSizes, "pagesizes", "1024,4096,8192", "page sizes the page-size comparison builds, comma-separated")
	fs.IntVar(&o.pagesizeRows, "pagesize-cards", 30_000_000, "at most this many cards in the page-size comparison")
	fs.StringVar(&o.profile, "profile", "", "folder for CPU and allocation profiles of the server child")
	fs.BoolVar(&o.allocs, "allocs", false, "with --profile: allocation profiles instead of CPU profiles (slows the server; figures are then not comparable)")
	fs.BoolVar(&o.noLatency, "no-latency", false, "skip the latency figures")
	fs.BoolVar(&o.noThroughput, "no-throughput", false, "skip the throughput figures")
	fs.BoolVar(&o.only, "only-verify", false, "skip the page-size comparison and the hot-list figure")
	fs.StringVar(&o.cacheArgs, "cache-args", "", "extra flags for the server child's cache, e.g. \"--cache-mmap=-1 --cache-kib=262144\" (tuning experiments)")
	fs.BoolVar(&o.connGuard, "conn-guard", true, "serve behind the verify service's connection guard, as a station does; false measures the bare http.Server, only to price the guard (a bench switch: the service has no way to turn it off)")
	child := fs.String("child", "", "internal: run as the server or load child process")
	if *child == "" && len(args) > 0 && args[0] == "--child" && len(args) > 1 {
		return benchChild(ctx, args[1], args[2:], stdout, stderr)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *child != "" {
		return benchChild(ctx, *child, fs.Args(), stdout, stderr)
	}
	self, err := newSelfCmd(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	o.self = self
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "stationdesk-bench-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	if err := bench(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

type benchOpts struct {
	size, reps, conns int
	pairs             int
	rate, maxLoad     float64
	dur, satDur       time.Duration
	loadWait          time.Duration
	dir, profile      string
	cacheArgs         string
	pagesize, only    bool
	connGuard         bool
	allocs            bool
	noLatency         bool
	noThroughput      bool
	pagesizeRows      int
	pageSizes         string
	latProcs          int
	self              *selfCmd
}

// guardArg is the server child's flag for --conn-guard=false.
func (o benchOpts) guardArg() []string {
	if o.connGuard {
		return nil
	}
	return []string{"--conn-guard=false"}
}

// serverArgs are the flags every DB server child gets.
func (o benchOpts) serverArgs() []string {
	return append(strings.Fields(o.cacheArgs), o.guardArg()...)
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

func (c constLookup) Lookup(context.Context, syncwire.CardHash) (app.GateStatus, error) {
	return app.GateStatus{Found: true, Person: 1, Color: app.ColorGreen, LastNegative: c.f.FreshAsOf.Add(-time.Hour)}, nil
}
func (c constLookup) LookupPerson(context.Context, uint64) (app.GateStatus, error) {
	return app.GateStatus{Found: true, Person: 1, Color: app.ColorGreen}, nil
}
func (c constLookup) Freshness() app.CacheFreshness { return c.f }

func bench(ctx context.Context, o benchOpts, out io.Writer) error {
	n, dir := o.size, o.dir
	pr := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	la, _ := loadAvg()
	pin := "server on cpu 0 and load generator on cpu 1 (taskset)"
	if !o.self.pin {
		pin = "NOT pinned (taskset missing or fewer than 2 cpus)"
	}
	guard := "connection guard on"
	if !o.connGuard {
		guard = "connection guard OFF (bare http.Server)"
	}
	pr("# stationdesk bench: %d cards, %d cpus, %s, %s, %s; load average %s", n, runtime.NumCPU(), runtime.Version(), pin, guard, la)
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
	live, err := cache.Open(ctx, livePath, cache.Options{NoMemIndex: true}) // the children serve; this process only builds
	if err != nil {
		return err
	}
	defer live.Close()
	cl, err := gatesync.New(gatesync.Config{BaseURL: central.URL + "/v1/sync", PinnedKey: syncpub.DemoKeys().ManifestPublic, Cache: live, Dir: filepath.Join(dir, "sync"), Timeout: time.Minute})
	if err != nil {
		return err
	}
	var served atomic.Int64
	stopServe := make(chan struct{})
	var sw sync.WaitGroup
	sw.Add(1)
	go func() { // the old file keeps answering during the build
		defer sw.Done()
		var h syncwire.CardHash
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
	la, _ = loadAvg()
	if o.profile != "" {
		_ = os.MkdirAll(o.profile, 0o755)
		if f, err := os.Create(filepath.Join(o.profile, "coldbuild.cpu.pprof")); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	t = time.Now()
	if err := cl.SyncOnce(ctx); err != nil {
		return fmt.Errorf("cold sync: %w", err)
	}
	build := time.Since(t)
	pprof.StopCPUProfile()
	close(stopServe)
	sw.Wait()
	nc, np, _ := live.Counts(ctx)
	dbSize := fileSize(livePath, livePath+"-wal")
	pr("cold snapshot (download over loopback + SHA-256 + B-tree pages written in key order + digest check + swap; central simulator in the same process, not pinned): %d cards + %d persons in %.1f s = %.0f rows/s (%.0f cards/s); old file answered %d look-ups meanwhile [target 30 M ≤ 45 s] (load %s)",
		nc, np, build.Seconds(), float64(nc+np)/build.Seconds(), float64(nc)/build.Seconds(), served.Load(), la)
	pr("database size: %.1f MiB for %d cards + %d persons = %.1f B/card [target ≤ 1.0 GiB at 30 M]", float64(dbSize)/(1<<20), nc, np, float64(dbSize)/float64(nc))

	// --- hot list: central commit → visible at the gates ---
	if !o.only {
		src.Generate(1, time.Now())
		_ = pub.Refresh(ctx)
		t = time.Now()
		if err := cl.HotOnce(ctx); err != nil {
			return err
		}
		pr("hot list round (fetch + verify + apply one risk change): %s; with the 10 s hot-list poll the worst case is ≈ 10 s + this [target ≤ 30 s]", fmt.Sprintf("%.3fms", msOf(time.Since(t))))
	}
	if err := live.Checkpoint(ctx); err != nil {
		return err
	}
	// Central's part is done: drop the synthetic city (several GB at 30 M)
	// so this process's garbage collector does not steal CPU from the
	// pinned children during the load runs.
	central.Close()
	pub, src = nil, nil
	runtime.GC()
	debug.FreeOSMemory()

	// --- gate key for the children ---
	keys, err := verify.OpenKeyStore(filepath.Join(dir, "gates.json"), app.SystemClock{})
	if err != nil {
		return err
	}
	kh, err := keys.Add("bench-gate")
	if err != nil {
		return err
	}
	if err := keys.SetMode(app.ModeEnforce); err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "bench-gate.key")
	if err := os.WriteFile(keyFile, []byte(kh), 0o600); err != nil {
		return err
	}
	persons := strconv.Itoa(syncpub.SyntheticPersons(n))
	prof := func(name string) []string {
		if o.profile == "" {
			return nil
		}
		_ = os.MkdirAll(o.profile, 0o755)
		if o.allocs {
			// Sampling every allocation's stack slows the server: use for
			// finding allocations, never together with the figures.
			return []string{"--memprofile", filepath.Join(o.profile, name+".allocs.pprof")}
		}
		return []string{"--cpuprofile", filepath.Join(o.profile, name+".cpu.pprof")}
	}
	loadArgs := func(target string, extra ...string) []string {
		return append([]string{"--target", target, "--key-file", keyFile, "--size", strconv.Itoa(n)}, extra...)
	}

	// --- latency at 1,000 req/s open loop with deltas applying ---
	type latRun struct {
		r    loadReport
		load string
	}
	latency := func(deltas, what string) (serverStats, error) {
		srv, err := o.self.startServer(ctx, 0, o.latProcs, append(append([]string{"--dir", dir, "--deltas", deltas, "--persons", persons}, o.serverArgs()...), prof("latency-"+deltas)...)...)
		if err != nil {
			return serverStats{}, err
		}
		if _, err := o.self.runLoad(ctx, 1, loadArgs(srv.URL, "--rate", "500", "--duration", "2s")...); err != nil { // warm-up
			srv.stop()
			return serverStats{}, err
		}
		var lats []latRun
		for k := 0; k < o.reps; k++ {
			l := waitForQuiet(ctx, o.maxLoad, o.loadWait, pr)
			r, err := o.self.runLoad(ctx, 1, loadArgs(srv.URL, "--rate", strconv.FormatFloat(o.rate, 'f', -1, 64), "--duration", o.dur.String())...)
			if err != nil {
				srv.stop()
				return serverStats{}, err
			}
			lats = append(lats, latRun{r, l})
			pr("  latency run %d (%s): p50 %.3f ms p90 %.3f p99 %.3f p99.9 %.3f max %.3f; ok %d errors %d non-200 %d badsig %d; generator's own lateness p50 %.3f p99 %.3f p99.9 %.3f ms (load %s)",
				k+1, deltas, r.P50, r.P90, r.P99, r.P999, r.Max, r.OK, r.Errors, r.Non200, r.BadSig, r.LateP50, r.LateP99, r.LateP999, l)
			if r.FirstError != "" {
				pr("    first error: %s", r.FirstError)
			}
		}
		st, err := srv.stop()
		if err != nil {
			return st, err
		}
		slices.SortFunc(lats, func(a, b latRun) int { return cmpF(a.r.P99, b.r.P99) })
		best, med := lats[0], lats[len(lats)/2]
		pr("verify latency, open loop %.0f req/s for %s, %d cards, %s, server alone on 1 core (GOMAXPROCS=%d) with the gate-event outbox: best p50 %.3f ms p99 %.3f ms p99.9 %.3f ms (load %s); median p50 %.3f ms p99 %.3f ms p99.9 %.3f ms (load %s) [targets p50 ≤ 0.5 ms, p99 ≤ 2 ms, p99.9 ≤ 10 ms]",
			o.rate, o.dur, nc, what, o.latProcs, best.r.P50, best.r.P99, best.r.P999, best.load, med.r.P50, med.r.P99, med.r.P999, med.load)
		if st.Err != "" {
			pr("  delta applier error: %s", st.Err)
		}
		if ix := st.Index; ix.Builds > 0 {
			pr("  memory index when the serving stopped: in use %v, %d reads of the arrays (the last %.1f s), %d merges patched on (%d patches of %d changes now), %d rebuilds held off during a catch-up",
				ix.Ready, ix.Builds, ix.LastBuild.Seconds(), ix.Patched, ix.Patches, ix.PatchRows, ix.Held)
		}
		if st.Mem.PeakKiB > 0 {
			pr("  server process memory: peak resident %.0f MiB; when it stopped %.0f MiB anonymous (Go heap with the memory index, SQLite's page cache) and %.0f MiB file-backed (the cache file's mapped pages, the binary)",
				mib(st.Mem.PeakKiB), mib(st.Mem.AnonKiB), mib(st.Mem.FileKiB))
		}
		return st, nil
	}
	var st serverStats
	if !o.noLatency {
		if _, err := latency("city", "deltas at the city's rate (231 changes/s = 20 M/day, one segment a second)"); err != nil {
			return err
		}
		if st, err = latency("catchup", "while catching up (10 k-change segments every 200 ms)"); err != nil {
			return err
		}
	}
	if st.Upserts > 0 {
		pr("delta apply while serving 1,000 req/s on the same core: %d upserts in %d segments, %.2f s of apply time + %.2f s merging them into the big tables (%d merges in the background, resting %.2f s between their transactions, then the rest at shutdown) = %.0f upserts/s counting both [target ≥ 30,000/s]",
			st.Upserts, st.Segments, st.ApplySec, st.MergeSec, st.Merges, st.RestSec, float64(st.Upserts)/(st.ApplySec+st.MergeSec))
		pr("  server process wrote %d B (pending-table WAL, merges, checkpoints, gate-event outbox; everything merged and checkpointed before counting) = %.0f B per applied change [target ≤ 1.5 KB]", st.WriteBytes, float64(st.WriteBytes)/float64(st.Upserts))
	}

	// --- saturation: DB vs constant answer, same run ---
	throughput := func() error {
		dbSrv, err := o.self.startServer(ctx, 0, 1, append(append([]string{"--dir", dir, "--deltas", "city", "--persons", persons}, o.serverArgs()...), prof("throughput-db")...)...)
		if err != nil {
			return err
		}
		defer dbSrv.stop()
		cSrv, err := o.self.startServer(ctx, 0, 1, append(append([]string{"--dir", dir, "--const"}, o.guardArg()...), prof("throughput-const")...)...)
		if err != nil {
			return err
		}
		defer cSrv.stop()
		type satRun struct {
			db, c       float64
			dbCPU, cCPU float64 // server CPU per answer, µs (0: not measured)
			load        string
		}
		var sats []satRun
		sat := func(srv *serverChild) (loadReport, error) {
			r, err := o.self.runLoad(ctx, 1, append(loadArgs(srv.URL, "--closed", "--conns", strconv.Itoa(o.conns), "--warmup", "1s", "--duration", o.satDur.String()),
				"--server-pid", strconv.Itoa(srv.cmd.Process.Pid))...)
			if err == nil && r.OK == 0 {
				err = fmt.Errorf("no answers: %s", r.FirstError)
			}
			return r, err
		}
		for k := 0; k < max(o.pairs, 1); k++ {
			l := waitForQuiet(ctx, o.maxLoad, o.loadWait, pr)
			var rdb, rc loadReport
			first, second := &rdb, &rc
			firstSrv, secondSrv := dbSrv, cSrv
			if k%2 == 1 { // every other pair starts with the constant server
				first, second, firstSrv, secondSrv = &rc, &rdb, cSrv, dbSrv
			}
			if *first, err = sat(firstSrv); err != nil {
				return err
			}
			if *second, err = sat(secondSrv); err != nil {
				return err
			}
			s := satRun{db: rdb.Rate, c: rc.Rate, dbCPU: cpuPerAnswer(rdb), cCPU: cpuPerAnswer(rc), load: l}
			sats = append(sats, s)
			pr("  throughput pair %d: DB %.0f req/s, constant %.0f req/s, ratio %.1f %%; server CPU per answer DB %.1f µs, constant %.1f µs (errors %d/%d) (load %s)",
				k+1, rdb.Rate, rc.Rate, 100*rdb.Rate/rc.Rate, s.dbCPU, s.cCPU, rdb.Errors+rdb.Non200, rc.Errors+rc.Non200, l)
		}
		dbst, _ := dbSrv.stop()
		_, _ = cSrv.stop()
		ratios := make([]float64, len(sats))
		dbs := make([]float64, len(sats))
		for i, s := range sats {
			ratios[i], dbs[i] = 100*s.db/s.c, s.db
		}
		rq, dq := quartiles(ratios), quartiles(dbs)
		var cost []float64
		for _, s := range sats {
			if s.dbCPU > 0 && s.cCPU > 0 {
				cost = append(cost, 100*s.cCPU/s.dbCPU)
			}
		}
		if len(cost) > 0 {
			cq := quartiles(cost)
			// CPU per answer is what the ratio is about with the noise of
			// other processes taken out: throughput also falls when
			// anything else on the machine takes the server's core.
			pr("server CPU per answer, constant server's over the DB server's, %d pairs: median %.1f %% (quartiles %.1f–%.1f, range %.1f–%.1f)", len(cost), cq[2], cq[1], cq[3], cq[0], cq[4])
		}
		pr("throughput, closed loop %d connections, server alone on 1 core (GOMAXPROCS=1) with outbox and deltas at the city rate (%d upserts applied), generator on the other core, %d pairs: ratio to the constant server median %.1f %% (quartiles %.1f–%.1f, range %.1f–%.1f); DB median %.0f req/s (quartiles %.0f–%.0f, range %.0f–%.0f) [targets ≥ 12,000/s per core; ≥ 85 %% of constant]",
			o.conns, dbst.Upserts, len(sats), rq[2], rq[1], rq[3], rq[0], rq[4], dq[2], dq[1], dq[3], dq[0], dq[4])

		return nil
	}
	if !o.noThroughput {
		if err := throughput(); err != nil {
			return err
		}
	}
	if o.pagesize && !o.only {
		if err := benchPageSize(ctx, min(n, o.pagesizeRows), o.pageSizes, dir, pr); err != nil {
			return err
		}
	}
	return nil
}

// quartiles returns min, lower quartile, median, upper quartile and max of
// v (nearest rank; v is sorted in place).
func quartiles(v []float64) [5]float64 {
	slices.Sort(v)
	at := func(q float64) float64 { return v[int(q*float64(len(v)-1)+0.5)] }
	return [5]float64{v[0], at(0.25), at(0.5), at(0.75), v[len(v)-1]}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// benchPageSize builds the same city with each page size and measures
// point look-ups and the bytes written per applied change over one whole
// merge cycle: MergeAt changes applied as 10 k-change segments (appended
// to the pending table), merged into the big tables in key order and
// checkpointed — the process's write_bytes over all of it, which the
// kernel counts in 4 KiB pages.
func benchPageSize(ctx context.Context, n int, sizes, dir string, pr func(string, ...any)) error {
	pss, err := parsePageSizes(sizes)
	if err != nil {
		return err
	}
	key := syncpub.DemoKeys().CardKey
	syn := syncpub.NewSynthetic(n, 1, time.Now())
	cards := make([]syncwire.Card, n)
	for i := range cards {
		cards[i] = syncwire.Card{Hash: syncwire.HashCard(key, syncpub.SyntheticCardNumber(i)), Person: syncpub.SyntheticPersonOf(i), Seq: 1}
	}
	slices.SortFunc(cards, func(a, b syncwire.Card) int { return strings.Compare(string(a.Hash[:]), string(b.Hash[:])) })
	np := syncpub.SyntheticPersons(n)
	persons := make([]syncwire.Person, np)
	for i := range persons {
		h := syn.SyntheticHealth(uint64(i + 1))
		persons[i] = syncwire.Person{Person: h.Person, Color: syncwire.ColorCode(h.Color), TestMin: syncwire.TestMinutes(h.LastNegative), Seq: 1}
	}
	const segRows = 10_000
	cycle := cache.Options{}.WithDefaults().MergeAt
	for _, ps := range pss {
		path := filepath.Join(dir, fmt.Sprintf("ps%d.db", ps))
		tb := time.Now()
		b, err := cache.OpenBuilder(ctx, path, "ps", "k", 16, cache.Options{PageSize: ps})
		if err != nil {
			return err
		}
		for i := 0; i < len(cards); i += 100_000 {
			if err := b.AddCards(ctx, "c"+strconv.Itoa(i), cards[i:min(i+100_000, len(cards))]); err != nil {
				return err
			}
		}
		for i := 0; i < len(persons); i += 100_000 {
			if err := b.AddPersons(ctx, "p"+strconv.Itoa(i), persons[i:min(i+100_000, len(persons))]); err != nil {
				return err
			}
		}
		if err := b.Finish(ctx, 1); err != nil {
			return err
		}
		buildRate := float64(len(cards)+len(persons)) / time.Since(tb).Seconds()
		size := fileSize(path, path+"-wal")
		// MergeAt above the cycle: the one merge of the cycle is Flush's.
		c, err := cache.Open(ctx, path, cache.Options{PageSize: ps, MergeAt: 1 << 40, NoMemIndex: true}) // the file's look-ups
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(3, 4))
		lats := make([]time.Duration, 0, 200_000)
		for i := 0; i < 200_000; i++ {
			h := cards[rng.IntN(len(cards))].Hash
			t := time.Now()
			if _, err := c.Lookup(ctx, h); err != nil {
				c.Close()
				return err
			}
			lats = append(lats, time.Since(t))
		}
		slices.Sort(lats)
		var ups int
		var applyT time.Duration
		wb0 := writeBytes()
		for ups < cycle {
			seg, err := randomSegment(ctx, c, rng, np, segRows)
			if err != nil {
				c.Close()
				return err
			}
			ta := time.Now()
			res, err := c.ApplySegment(ctx, seg, time.Time{})
			applyT += time.Since(ta)
			if err != nil {
				c.Close()
				return err
			}
			ups += res.Upserts
		}
		applyBytes := writeBytes() - wb0
		tm := time.Now()
		if err := c.Flush(ctx); err != nil {
			c.Close()
			return err
		}
		mergeT := time.Since(tm)
		total := writeBytes() - wb0
		c.Close()
		pr("page_size %4d, %d cards + %d persons: build (rows in memory, no download) %.0f rows/s, file %.1f MiB; look-up p50 %.1f µs p99 %.1f µs p99.9 %.1f µs; one merge cycle of %d changes (%d-change segments): apply %.0f upserts/s, merge + checkpoint %.1f s; written per change %.0f B (appending %.0f B + merging %.0f B)",
			ps, n, np, buildRate, float64(size)/(1<<20), us(lats[len(lats)/2]), us(lats[len(lats)*99/100]), us(lats[len(lats)*999/1000]), ups, segRows,
			float64(ups)/applyT.Seconds(), mergeT.Seconds(), float64(total)/float64(ups), float64(applyBytes)/float64(ups), float64(total-applyBytes)/float64(ups))
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
	}
	return nil
}

// parsePageSizes reads --pagesizes: comma-separated powers of two from 512
// to 65536 (SQLite's page sizes).
func parsePageSizes(sizes string) ([]int, error) {
	var pss []int
	for _, f := range strings.Split(sizes, ",") {
		ps, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
			return nil, fmt.Errorf("--pagesizes: %q is not a power of two from 512 to 65536", f)
		}
		pss = append(pss, ps)
	}
	return pss, nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// cpuPerAnswer is the server's CPU time per answer of a closed-loop run in
// µs, 0 when the CPU time was not measured.
func cpuPerAnswer(r loadReport) float64 {
	if r.ServerCPU <= 0 || r.OK == 0 {
		return 0
	}
	return r.ServerCPU / float64(r.OK) * 1e6
}
