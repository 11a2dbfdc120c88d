package gatebench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/gatesync"
	"stationdesk/offline/outbox/gateevents"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/syncwire"
	"stationdesk/offline/verify"
)

// The bench measures the server and the load generator in separate
// processes of this same binary, each pinned to its own core with taskset
// (when there are two cores and taskset exists), so neither's CPU counts
// against the other. The children are started with "--child server" or
// "--child load" after the same sub-command prefix the parent was started
// with (`stationdesk bench gate` or `go run ./offline/sim/gatebench/cmd/bench`).

// serverStats is what a server child reports when it stops.
type serverStats struct {
	Upserts    int64   `json:"upserts"`
	Segments   int64   `json:"segments"`
	ApplySec   float64 `json:"apply_s"`
	Merges     int64   `json:"merges"`
	Merged     int64   `json:"merged"`
	MergeSec   float64 `json:"merge_s"`
	RestSec    float64 `json:"rest_s"`
	FlushSec   float64 `json:"flush_s"`
	WriteBytes int64   `json:"write_bytes"`
	// Index is the memory index's state when the serving stopped, before
	// the final flush (Ready false: the file answered at the end).
	Index cache.IndexStats `json:"index"`
	// Mem is the server process's memory when it stopped (zero where /proc
	// is missing).
	Mem procMemory `json:"mem"`
	Err string     `json:"err,omitempty"`
}

// procMemory is a process's resident memory from /proc/PID/status, KiB:
// the peak (VmHWM), and at the moment read the anonymous part (the Go heap,
// the memory index, SQLite's page cache) and the file-backed part (the
// cache file's mapped pages, the binary).
type procMemory struct {
	PeakKiB int64 `json:"peak_kib"`
	AnonKiB int64 `json:"anon_kib"`
	FileKiB int64 `json:"file_kib"`
}

// readProcMemory reads procMemory of process pid.
func readProcMemory(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	var m procMemory
	fields := map[string]*int64{"VmHWM:": &m.PeakKiB, "RssAnon:": &m.AnonKiB, "RssFile:": &m.FileKiB}
	seen := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" || fields[f[0]] == nil {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return procMemory{}, fmt.Errorf("/proc/%d/status: %s %q", pid, f[0], f[1])
		}
		*fields[f[0]] = v
		seen++
	}
	if seen != len(fields) {
		return procMemory{}, fmt.Errorf("/proc/%d/status: %d of VmHWM, RssAnon, RssFile", pid, seen)
	}
	return m, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// loadReport is what a load child prints.
type loadReport struct {
	OK, Errors, BadSig, Non200        int64
	Rate                              float64
	P50, P90, P99, P999, Max          float64 // ms
	LateP50, LateP99, LateP999, LateM float64 // ms
	Decisions                         map[string]int64
	FirstError                        string
	// ServerCPU is the CPU time (user + system, seconds) the server child
	// used during the measured window (--server-pid; 0: not measured).
	ServerCPU float64
}

func msOf(d time.Duration) float64 { return float64(d) / 1e6 }

func benchChild(ctx context.Context, kind string, args []string, stdout, stderr io.Writer) int {
	switch kind {
	case "server":
		return childServer(ctx, args, stdout, stderr)
	case "load":
		return childLoad(ctx, args, stdout, stderr)
	}
	fmt.Fprintln(stderr, "bench: unknown child", kind)
	return 2
}

// childServer runs the verify service as a station does (cache, trust from
// the sync folder, gate keys, gate-event outbox with group commit) plus a
// delta applier, prints "ready URL", serves until stdin closes, then prints
// "stats {json}".
func childServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "bench folder")
	constant := fs.Bool("const", false, "answer a constant instead of looking up the cache")
	deltas := fs.String("deltas", "off", "delta load while serving: off, city (231 changes/s in 1 s segments: 20 M a day) or catchup (10 k-row segments 200 ms apart: catching up after an outage)")
	persons := fs.Int("persons", 0, "persons in the synthetic city (delta keys)")
	outbox := fs.Bool("outbox", true, "record every answer in a gate-event outbox")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile")
	memprof := fs.String("memprofile", "", "write an allocation profile")
	traceOut := fs.String("trace", "", "write an execution trace (diagnostics)")
	guard := fs.Bool("conn-guard", true, "serve behind the connection guard (false: the bare http.Server, to price the guard)")
	var copts cache.Options
	fs.Int64Var(&copts.MmapSize, "cache-mmap", 0, "cache readers' mmap_size in bytes (0: the default, -1: off)")
	fs.IntVar(&copts.ReaderCacheKiB, "cache-kib", 0, "cache readers' page cache in KiB (0: the default)")
	fs.Float64Var(&copts.MergeDuty, "merge-duty", 0, "share of a core a background merge may use (0: the default)")
	fs.BoolVar(&copts.NoMemIndex, "no-memindex", false, "keep the big tables out of memory: every look-up reads the file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			fmt.Fprintln(stderr, "bench server:", err)
			return 1
		}
		defer f.Close()
		_ = trace.Start(f)
		defer trace.Stop()
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "bench server:", err); return 1 }
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *memprof != "" {
		runtime.MemProfileRate = 4096
	}
	if *constant {
		copts.NoMemIndex = true // it answers without the cache: no index to build beside it
	}
	live, err := cache.Open(ctx, filepath.Join(*dir, "cache.db"), copts)
	if err != nil {
		return fail(err)
	}
	defer live.Close()
	cl, err := gatesync.New(gatesync.Config{BaseURL: "http://127.0.0.1:9/v1/sync", PinnedKey: syncpub.DemoKeys().ManifestPublic, Cache: live, Dir: filepath.Join(*dir, "sync")})
	if err != nil {
		return fail(err)
	}
	if cl.Trust() == nil {
		return fail(fmt.Errorf("no verified manifest in %s", filepath.Join(*dir, "sync")))
	}
	keys, err := verify.OpenKeyStore(filepath.Join(*dir, "gates.json"), app.SystemClock{})
	if err != nil {
		return fail(err)
	}
	// All load connections come from one address (loopback): allow them
	// all under the per-address limit; the rest of the guard applies.
	cfg := verify.Config{Lookup: live, Trust: verify.TrustFromSync(cl), Keys: keys, NonceCache: 4_000_000, Conn: verify.ConnLimits{PerIP: 512}}
	if *constant {
		cfg.Lookup = constLookup{f: live.Freshness()}
	} else if !copts.NoMemIndex {
		// Measure the server as it runs once its memory index is in use
		// (a station's gate service runs for hours).
		t := time.Now()
		for !live.IndexStats().Ready {
			if time.Since(t) > 10*time.Minute {
				return fail(fmt.Errorf("memory index not ready after %s", time.Since(t).Round(time.Second)))
			}
			time.Sleep(100 * time.Millisecond)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		is := live.IndexStats()
		fmt.Fprintf(stderr, "bench server: memory index of %d cards and %d persons, %.0f MiB, built in %.1f s; Go heap in use %.0f MiB\n",
			is.Cards, is.Persons, float64(is.Bytes)/(1<<20), is.LastBuild.Seconds(), float64(ms.HeapInuse)/(1<<20))
	}
	var ob *gateevents.Outbox
	if *outbox {
		ob, err = gateevents.Open(ctx, gateevents.Options{Path: filepath.Join(*dir, fmt.Sprintf("outbox-%d.db", os.Getpid()))})
		if err != nil {
			return fail(err)
		}
		cfg.Events = ob
	}
	s, err := verify.New(cfg)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	sctx, stopServe := context.WithCancel(ctx)
	served := make(chan struct{})
	if *guard {
		go func() { _ = s.Serve(sctx, ln); close(served) }()
	} else {
		// The same hardened http.Server without the guard listener: what
		// the service ran before the connection defence.
		hs := s.HTTPServer()
		go func() { _ = hs.Serve(ln); close(served) }()
		go func() { <-sctx.Done(); _ = hs.Close() }()
	}

	var st serverStats
	var upserts, segments, applyNs atomic.Int64
	stopApply := make(chan struct{})
	var aw sync.WaitGroup
	wb0 := writeBytes()
	if *deltas != "off" && !*constant && *persons > 0 {
		aw.Add(1)
		go func() {
			defer aw.Done()
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
			rows, pause := 10_000, 200*time.Millisecond
			if *deltas == "city" {
				rows, pause = 231, time.Second
			}
			for {
				select {
				case <-stopApply:
					return
				case <-time.After(pause):
				}
				seg, err := randomSegment(ctx, live, rng, *persons, rows)
				if err != nil {
					st.Err = err.Error()
					return
				}
				t := time.Now()
				r, err := live.ApplySegment(ctx, seg, time.Time{})
				if err != nil {
					st.Err = err.Error()
					return
				}
				applyNs.Add(int64(time.Since(t)))
				upserts.Add(int64(r.Upserts))
				segments.Add(1)
			}
		}()
	}
	fmt.Fprintln(stdout, "ready http://"+ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
	close(stopApply)
	aw.Wait()
	stopServe()
	<-served
	st.Index = live.IndexStats()
	// Merge what is still pending and checkpoint, so the bytes written
	// below cover every applied change all the way into the big tables.
	tf := time.Now()
	if err := live.Flush(ctx); err != nil && st.Err == "" {
		st.Err = err.Error()
	}
	st.FlushSec = time.Since(tf).Seconds()
	ms := live.MergeStats()
	st.Merges, st.Merged, st.MergeSec, st.RestSec = ms.Merges, ms.Merged, ms.MergeTime.Seconds(), ms.MergeRest.Seconds()
	if ob != nil {
		if err := ob.Close(); err != nil && st.Err == "" {
			st.Err = err.Error()
		}
	}
	st.Upserts, st.Segments, st.ApplySec = upserts.Load(), segments.Load(), time.Duration(applyNs.Load()).Seconds()
	st.WriteBytes = writeBytes() - wb0
	st.Mem, _ = readProcMemory(os.Getpid()) // zero where there is no /proc
	if *memprof != "" {
		if f, err := os.Create(*memprof); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	b, _ := json.Marshal(st)
	fmt.Fprintln(stdout, "stats "+string(b))
	return 0
}

// randomSegment is one delta segment of k random person changes after the
// cache's applied sequence, key-sorted like central's segments.
func randomSegment(ctx context.Context, c *cache.Cache, rng *rand.Rand, persons, k int) (syncwire.Segment, error) {
	st, err := c.State(ctx)
	if err != nil {
		return syncwire.Segment{}, err
	}
	seg := syncwire.Segment{From: st.AppliedSeq, To: st.AppliedSeq + uint64(k)}
	seen := make(map[uint64]bool, k)
	for i := uint64(1); i <= uint64(k); i++ {
		p := rng.Uint64N(uint64(persons)) + 1
		if seen[p] {
			continue
		}
		seen[p] = true
		seg.Persons = append(seg.Persons, syncwire.Person{Person: p, Color: syncwire.ColorGreen, TestMin: syncwire.TestMinutes(time.Now().Add(-time.Hour)), Seq: st.AppliedSeq + i})
	}
	slices.SortFunc(seg.Persons, func(a, b syncwire.Person) int {
		switch {
		case a.Person < b.Person:
			return -1
		case a.Person > b.Person:
			return 1
		}
		return 0
	})
	return seg, nil
}

// childLoad runs Load once against a server child and prints
// "result {json}".
func childLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "server URL")
	gate := fs.String("gate", "bench-gate", "gate id")
	keyFile := fs.String("key-file", "", "gate key file (64 hex)")
	rate := fs.Float64("rate", 1000, "open-loop rate")
	dur := fs.Duration("duration", 10*time.Second, "measured time")
	warmup := fs.Duration("warmup", time.Second, "closed loop: unmeasured warm-up")
	conns := fs.Int("conns", 32, "connections")
	closed := fs.Bool("closed", false, "closed loop (saturation)")
	size := fs.Int("size", 1_000_000, "synthetic city size (cards to pick from)")
	serverPID := fs.Int("server-pid", 0, "closed loop: also measure this process's CPU time over the measured window (Linux)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "bench load:", err)
		return 2
	}
	key, err := app.ParseGateKey(strings.TrimSpace(string(kb)))
	if err != nil {
		fmt.Fprintln(stderr, "bench load:", err)
		return 2
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	cards := make([]string, 100_000)
	for i := range cards {
		cards[i] = syncpub.SyntheticCardNumber(rng.IntN(*size))
	}
	cpu := make(chan float64, 1)
	if *serverPID > 0 && *closed {
		// The window Load counts starts after the warm-up; the server's
		// CPU is read at both ends of it (ticks of 10 ms: 0.2 % of a 5 s
		// window).
		t0 := time.Now()
		go func() {
			time.Sleep(time.Until(t0.Add(*warmup)))
			c0, err0 := procCPU(*serverPID)
			time.Sleep(time.Until(t0.Add(*warmup + *dur)))
			c1, err1 := procCPU(*serverPID)
			if err0 != nil || err1 != nil {
				cpu <- 0
				return
			}
			cpu <- c1 - c0
		}()
	} else {
		cpu <- 0
	}
	res, err := gatesim.Load(ctx, gatesim.LoadOptions{Target: *target, Gate: *gate, Key: key, Rate: *rate, Duration: *dur, Warmup: *warmup,
		Conns: *conns, Closed: *closed, Card: func(i int) string { return cards[i%len(cards)] }})
	if err != nil {
		fmt.Fprintln(stderr, "bench load:", err)
		return 1
	}
	rep := loadReport{OK: res.OK, Errors: res.Errors, BadSig: res.BadSig, Non200: res.Non200, Rate: res.Rate(),
		P50: msOf(res.Percentile(50)), P90: msOf(res.Percentile(90)), P99: msOf(res.Percentile(99)), P999: msOf(res.Percentile(99.9)), Max: msOf(res.Percentile(100)),
		LateP50: msOf(res.LatenessPercentile(50)), LateP99: msOf(res.LatenessPercentile(99)), LateP999: msOf(res.LatenessPercentile(99.9)), LateM: msOf(res.LatenessPercentile(100)),
		Decisions: res.Decisions, FirstError: res.FirstError, ServerCPU: <-cpu}
	b, _ := json.Marshal(rep)
	fmt.Fprintln(stdout, "result "+string(b))
	return 0
}

// procCPU is the CPU time (user + system) process pid has used, in
// seconds, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s:
// USER_HZ is 100 on every Linux the station runs).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return float64(u+st) / 100, nil
}

// ---- parent side ----

// selfCmd starts this binary's bench again as a child: pinned to cpu with
// taskset when possible (cpu < 0: not pinned), GOMAXPROCS procs.
type selfCmd struct {
	exe    string
	prefix []string // sub-command words before the bench flags
	pin    bool
}

func newSelfCmd(args []string) (*selfCmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// os.Args = exe, <prefix...>, args...
	prefix := []string{}
	if n := len(os.Args) - len(args); n >= 1 && slices.Equal(os.Args[n:], args) {
		prefix = slices.Clone(os.Args[1:n])
	}
	_, terr := exec.LookPath("taskset")
	return &selfCmd{exe: exe, prefix: prefix, pin: terr == nil && runtime.NumCPU() >= 2}, nil
}

func (s *selfCmd) command(ctx context.Context, cpu, procs int, kind string, args ...string) *exec.Cmd {
	argv := append(append(slices.Clone(s.prefix), "--child", kind), args...)
	var cmd *exec.Cmd
	if s.pin && cpu >= 0 {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", strconv.Itoa(cpu), s.exe}, argv...)...)
	} else {
		cmd = exec.CommandContext(ctx, s.exe, argv...)
	}
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = os.Stderr
	return cmd
}

// serverChild is a running server child.
type serverChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	URL   string
}

func (s *selfCmd) startServer(ctx context.Context, cpu, procs int, args ...string) (*serverChild, error) {
	cmd := s.command(ctx, cpu, procs, "server", args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			return &serverChild{cmd: cmd, stdin: in, out: sc, URL: u}, nil
		}
	}
	in.Close()
	_ = cmd.Wait()
	return nil, fmt.Errorf("server child did not start")
}

func (c *serverChild) stop() (serverStats, error) {
	c.stdin.Close()
	var st serverStats
	found := false
	for c.out.Scan() {
		if b, ok := strings.CutPrefix(c.out.Text(), "stats "); ok {
			found = json.Unmarshal([]byte(b), &st) == nil
		}
	}
	err := c.cmd.Wait()
	if err == nil && !found {
		err = fmt.Errorf("server child printed no stats")
	}
	return st, err
}

func (s *selfCmd) runLoad(ctx context.Context, cpu int, args ...string) (loadReport, error) {
	cmd := s.command(ctx, cpu, 2, "load", args...)
	out, err := cmd.Output()
	var rep loadReport
	if err != nil {
		return rep, fmt.Errorf("load child: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if b, ok := strings.CutPrefix(l, "result "); ok {
			return rep, json.Unmarshal([]byte(b), &rep)
		}
	}
	return rep, fmt.Errorf("load child printed no result")
}

// loadAvg returns /proc/loadavg's three figures ("" when unavailable).
func loadAvg() (string, float64) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a", 0
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a", 0
	}
	l1, _ := strconv.ParseFloat(f[0], 64)
	return f[0] + " " + f[1] + " " + f[2], l1
}

// waitForQuiet waits (up to wait) while the 1-minute load is above max, so
// other work on the machine distorts a run less; it returns the load
// average at the start of the run.
func waitForQuiet(ctx context.Context, max float64, wait time.Duration, pr func(string, ...any)) string {
	s, l1 := loadAvg()
	if max <= 0 || l1 <= max {
		return s
	}
	pr("  (load %s above %.1f: waiting up to %s)", s, max, wait)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Second)
		if s, l1 = loadAvg(); l1 <= max {
			break
		}
	}
	return s
}
