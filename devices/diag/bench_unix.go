//go:build !windows

package diag

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/devices/idcard"
	"stationdesk/devices/scanner"
	"stationdesk/devices/sim"
	"stationdesk/devices/transitcard"
)

// Figures the technicians' bench prints.
const (
	TargetIDp95   = 600 * time.Millisecond
	TargetCardp95 = 300 * time.Millisecond
	TargetIdleCPU = 1.0 // percent of one core
	TargetReplug  = 2 * time.Second
)

// LatencyResult summarises n timed reads.
type LatencyResult struct {
	N                  int
	P50, P95, Max, Min time.Duration
}

func summarise(d []time.Duration) LatencyResult {
	slices.Sort(d)
	pick := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return LatencyResult{N: len(d), P50: pick(0.50), P95: pick(0.95), Max: d[len(d)-1], Min: d[0]}
}

// BenchIDCard times "card placed → validated document returned by
// ReadID" n times with the simulator throttled to baud, the reader at its
// production defaults (200 ms poll), and the placement at a random phase
// of the poll cycle.
func BenchIDCard(ctx context.Context, n, baud int) (LatencyResult, error) {
	var r *idcard.Reader
	s, _, stop, err := startRig(ctx, "ttyID", app.CompIDReader,
		func(ctx context.Context, path string) (*sim.IDReader, error) { return sim.NewIDReader(ctx, path, baud) },
		func(port string, board *app.StatusBoard) func(context.Context) error {
			r = idcard.New(idcard.Config{Port: port, Baud: 115200, Board: board, Clock: app.NewFakeClock(demo.RefTime)})
			return r.Run
		})
	if err != nil {
		return LatencyResult{}, err
	}
	defer stop()
	var riders []demo.Rider
	for _, rd := range demo.Riders() {
		if t := rd.Identity.Doc.Type(); t == app.DocCNID || t == app.DocResidencePermit || t == app.DocForeignPR {
			riders = append(riders, rd)
		}
	}
	var lat []time.Duration
	for i := 0; i < n; i++ {
		rd := riders[i%len(riders)]
		kind := idcard.KindForeign2023
		if len(rd.Identity.Doc.Reveal()) == 15 {
			kind = idcard.KindForeign2017
		}
		res := make(chan error, 1)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		go func() { _, err := r.ReadID(rctx); res <- err }()
		time.Sleep(time.Duration(rand.Int64N(int64(250 * time.Millisecond))))
		if err := s.Place(rd.Identity, kind); err != nil {
			rcancel()
			return LatencyResult{}, err
		}
		t0 := time.Now()
		err := <-res
		lat = append(lat, time.Since(t0))
		rcancel()
		s.Lift()
		if err != nil {
			return LatencyResult{}, fmt.Errorf("read %d (%s): %w", i, rd.Key, err)
		}
	}
	return summarise(lat), nil
}

// BenchTransitCard times "card placed → Yikatong number returned by
// ReadCard" n times, like BenchIDCard (100 ms poll).
func BenchTransitCard(ctx context.Context, n, baud int) (LatencyResult, error) {
	var r *transitcard.Reader
	s, _, stop, err := startRig(ctx, "ttyCARD", app.CompCardReader,
		func(ctx context.Context, path string) (*sim.CardReader, error) {
			return sim.NewCardReader(ctx, path, baud)
		},
		func(port string, board *app.StatusBoard) func(context.Context) error {
			r = transitcard.New(transitcard.Config{Port: port, Board: board})
			return r.Run
		})
	if err != nil {
		return LatencyResult{}, err
	}
	defer stop()
	var cards []app.Card
	for _, c := range demo.Cards() {
		if c.Kind == app.CardOrdinary || c.Kind == app.CardStudent || c.Kind == app.CardUnion {
			cards = append(cards, c)
		}
	}
	var lat []time.Duration
	for i := 0; i < n; i++ {
		c := cards[i%len(cards)]
		res := make(chan error, 1)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		go func() {
			got, err := r.ReadCard(rctx)
			if err == nil && got.Number != c.Number {
				err = fmt.Errorf("read a different number")
			}
			res <- err
		}()
		time.Sleep(time.Duration(rand.Int64N(int64(150 * time.Millisecond))))
		if err := s.Place(c); err != nil {
			rcancel()
			return LatencyResult{}, err
		}
		t0 := time.Now()
		err := <-res
		lat = append(lat, time.Since(t0))
		rcancel()
		s.Lift()
		if err != nil {
			return LatencyResult{}, fmt.Errorf("read %d: %w", i, err)
		}
	}
	return summarise(lat), nil
}

// IdleResult is the CPU share, in percent of one core, of the process
// running the three drivers against idle simulators (no card, no code),
// and whether the simulators ran in another process (then Drivers is the
// drivers alone; otherwise it also holds the simulators' answers to the
// polls, minus their own idle cost measured first).
type IdleResult struct {
	Drivers      float64
	SimOnly      float64 // in-process simulators alone (0 when separate)
	SeparateSims bool
	Window       time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func share(ctx context.Context, d time.Duration) float64 {
	c0, t0 := cpuTime(), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return 100 * float64(cpuTime()-c0) / float64(time.Since(t0))
}

// SimSpawner starts the demo simulators somewhere (another process) and
// returns their ports and a stop function.
type SimSpawner func(ctx context.Context, baud int) (sim.DemoPorts, func(), error)

// BenchIdle measures the idle poll cost of the three drivers over window.
// With spawn nil the simulators run in this process.
func BenchIdle(ctx context.Context, window time.Duration, baud int, spawn SimSpawner) (IdleResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := IdleResult{Window: window, SeparateSims: spawn != nil}
	var p sim.DemoPorts
	if spawn != nil {
		ports, stop, err := spawn(ctx, baud)
		if err != nil {
			return IdleResult{}, err
		}
		defer stop()
		p = ports
	} else {
		d, err := sim.StartDemo(ctx, sim.DemoConfig{Baud: baud})
		if err != nil {
			return IdleResult{}, err
		}
		defer d.Close()
		time.Sleep(300 * time.Millisecond)
		res.SimOnly = share(ctx, window)
		p = d.Ports()
	}
	board := app.NewStatusBoard(app.SystemClock{})
	dctx, dcancel := context.WithCancel(ctx)
	runs := []func(context.Context) error{
		idcard.New(idcard.Config{Port: p.IDReader, Board: board}).Run,
		transitcard.New(transitcard.Config{Port: p.CardReader, Board: board}).Run,
		scanner.New(scanner.Config{Port: p.Scanner, Baud: 115200, Board: board}).Run,
	}
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { run(dctx); done <- struct{}{} }()
	}
	for _, c := range []app.Component{app.CompIDReader, app.CompCardReader, app.CompScanner} {
		if err := waitReady(ctx, board, c); err != nil {
			dcancel()
			return IdleResult{}, err
		}
	}
	time.Sleep(500 * time.Millisecond)
	res.Drivers = max(0, share(ctx, window)-res.SimOnly)
	dcancel()
	for range runs {
		<-done
	}
	return res, nil
}

// spawnSelf runs this program's simulator command as a child process, so
// the idle figure holds the drivers alone. The command line is found by
// trying, in order: the words before the arguments Main received (as in
// `stationdesk devices bench` → `stationdesk devices sim`), then
// `devices sim` (as `stationdesk bench devices` is wired), then `sim` (the
// devdiag binary). Ports are read from the child's first JSON line.
func spawnSelf(mainArgs []string) SimSpawner {
	return func(ctx context.Context, baud int) (sim.DemoPorts, func(), error) {
		exe, err := os.Executable()
		if err != nil {
			return sim.DemoPorts{}, nil, err
		}
		var tries [][]string
		if k := len(os.Args) - len(mainArgs); k >= 1 {
			prefix := os.Args[1:k]
			if len(prefix) == 0 || prefix[len(prefix)-1] == "devices" {
				tries = append(tries, prefix)
			}
		}
		tries = append(tries, []string{"devices"}, nil)
		var last error
		for _, prefix := range tries {
			args := append(append([]string(nil), prefix...), "sim", "--baud", fmt.Sprint(baud))
			p, stop, err := startChild(ctx, exe, args)
			if err == nil {
				return p, stop, nil
			}
			last = err
		}
		return sim.DemoPorts{}, nil, fmt.Errorf("simulator child: %w", last)
	}
}

func startChild(ctx context.Context, exe string, args []string) (sim.DemoPorts, func(), error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	stdin, err := cmd.StdinPipe() // keeps the child's command input open; closed by stop
	if err != nil {
		return sim.DemoPorts{}, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sim.DemoPorts{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		return sim.DemoPorts{}, nil, err
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	first := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadBytes('\n')
		first <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	var p sim.DemoPorts
	select {
	case line := <-first:
		if err := json.Unmarshal(line, &p); err != nil || p.IDReader == "" {
			stop()
			return sim.DemoPorts{}, nil, fmt.Errorf("%v: no port line", args)
		}
	case <-time.After(5 * time.Second):
		stop()
		return sim.DemoPorts{}, nil, fmt.Errorf("%v: no answer", args)
	}
	return p, stop, nil
}

// BenchReplug times "device plugged back in under the same name → driver
// Ready again" n times for the ID-card reader at its default backoff.
func BenchReplug(ctx context.Context, n, baud int) (LatencyResult, error) {
	s, board, stop, err := startRig(ctx, "ttyID", app.CompIDReader,
		func(ctx context.Context, path string) (*sim.IDReader, error) { return sim.NewIDReader(ctx, path, baud) },
		func(port string, board *app.StatusBoard) func(context.Context) error {
			return idcard.New(idcard.Config{Port: port, Board: board}).Run
		})
	if err != nil {
		return LatencyResult{}, err
	}
	defer stop()
	var lat []time.Duration
	for i := 0; i < n; i++ {
		s.Line().Unplug()
		for board.Get(app.CompIDReader).State != app.StateError {
			time.Sleep(5 * time.Millisecond)
		}
		// Stay unplugged for a random while, as a person would.
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		if err := s.Line().Replug(); err != nil {
			return LatencyResult{}, err
		}
		t0 := time.Now()
		for board.Get(app.CompIDReader).State != app.StateReady {
			if time.Since(t0) > 10*time.Second {
				return LatencyResult{}, fmt.Errorf("not back after 10 s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	return summarise(lat), nil
}

// startRig starts a simulator on a pseudo-terminal named link in a
// temporary folder and the driver that newDriver makes for it, and waits
// until the driver reports comp ready. stop ends the driver and removes
// the simulator.
func startRig[S interface {
	Path() string
	Close() error
}](ctx context.Context, link string, comp app.Component, newSim func(context.Context, string) (S, error),
	newDriver func(port string, board *app.StatusBoard) func(context.Context) error) (s S, board *app.StatusBoard, stop func(), err error) {
	dir, err := os.MkdirTemp("", "stationdesk-bench-")
	if err != nil {
		return s, nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	if s, err = newSim(ctx, filepath.Join(dir, link)); err != nil {
		cancel()
		os.RemoveAll(dir)
		return s, nil, nil, err
	}
	board = app.NewStatusBoard(app.SystemClock{})
	run := newDriver(s.Path(), board)
	done := make(chan struct{})
	go func() { _ = run(ctx); close(done) }()
	stop = func() {
		cancel()
		<-done
		s.Close()
		os.RemoveAll(dir)
	}
	if err := waitReady(ctx, board, comp); err != nil {
		stop()
		return s, nil, nil, err
	}
	return s, board, stop, nil
}

func waitReady(ctx context.Context, b *app.StatusBoard, c app.Component) error {
	deadline := time.Now().Add(10 * time.Second)
	for b.Get(c).State != app.StateReady {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready: %+v", c, b.Get(c))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func runBench(ctx context.Context, args []string, out *jsonOut, stderr io.Writer) int {
	args0 := append([]string{"bench"}, args...)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 40, "reads per latency figure")
	idle := fs.Duration("idle", 10*time.Second, "idle CPU measuring window (per phase)")
	baud := fs.Int("baud", 115200, "simulated line rate")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	code := ExitOK
	lat := func(name string, target time.Duration, f func(context.Context, int, int) (LatencyResult, error)) {
		r, err := f(ctx, *n, *baud)
		if err != nil {
			fmt.Fprintf(stderr, "bench %s: %v\n", name, err)
			code = ExitDevice
			return
		}
		out.emit(map[string]any{"event": "bench", "name": name, "baud": *baud, "n": r.N,
			"p50_ms": ms(r.P50), "p95_ms": ms(r.P95), "min_ms": ms(r.Min), "max_ms": ms(r.Max),
			"target_p95_ms": ms(target), "ok": r.P95 <= target})
	}
	lat("id_card_placed_to_validated_document", TargetIDp95, BenchIDCard)
	lat("transit_card_placed_to_number", TargetCardp95, BenchTransitCard)
	lat("id_reader_replug_to_ready", TargetReplug, func(ctx context.Context, n, baud int) (LatencyResult, error) {
		return BenchReplug(ctx, min(n, 15), baud)
	})
	r, err := BenchIdle(ctx, *idle, *baud, spawnSelf(args0))
	if err != nil {
		fmt.Fprintf(stderr, "bench idle (simulators in a child process): %v; measuring in-process\n", err)
		r, err = BenchIdle(ctx, *idle, *baud, nil)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench idle: %v\n", err)
		return ExitDevice
	}
	out.emit(map[string]any{"event": "bench", "name": "idle_poll_cpu", "window_s": r.Window.Seconds(),
		"drivers_pct_core": r.Drivers, "simulators_in_child_process": r.SeparateSims, "sim_only_pct_core": r.SimOnly,
		"target_pct_core": TargetIdleCPU, "ok": r.Drivers <= TargetIdleCPU})
	return code
}
