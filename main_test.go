package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/config"
)

// The test binary doubles as the desk for the window test: with
// STATIONDESK_CHILD=1 it runs main's run() instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("STATIONDESK_CHILD") == "1" {
		os.Exit(run(context.Background(), strings.Fields(os.Getenv("STATIONDESK_ARGS")), os.Stdout, os.Stderr))
	}
	// The screen tests render the demo terminal hundreds of times and
	// leave garbage faster than the collector's default pace returns it:
	// under -race the binary peaked at 13.3 GB resident, 7.6 GB with this
	// soft limit (the live heap is far smaller). GOMEMLIMIT in the
	// environment still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(testMemoryLimit)
	}
	os.Exit(m.Run())
}

// testMemoryLimit is the root test binary's soft memory limit.
const testMemoryLimit = 3 << 30

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestDocCheckCLI(t *testing.T) {
	cases := []struct {
		name, typ, number string
		valid             bool
		wantType          string
	}{
		{"StandardExampleValid", "cn-id", "11010519491231002X", true, "cn-id"},
		{"AutoRecognisesResidentID", "auto", "11010519491231002X", true, "cn-id"},
		{"WrongCheckDigit", "cn-id", "110105194912310021", false, "cn-id"},
		{"FirstGenerationRejected", "cn-id", "110105491231002", false, "cn-id"},
		{"ImpossibleDate", "cn-id", "110105194902300027", false, "cn-id"},
		{"Empty", "cn-id", "", false, "cn-id"},
		{"LettersWhereDigitsGo", "cn-id", "11010519491231A02X", false, "cn-id"},
		{"Garbage10kB", "auto", strings.Repeat("垃圾", 5000), false, ""},
		{"HKMOPermit", "hkmo-permit", "H12345678", true, "hkmo-permit"},
		{"HKMOPermitBadLetter", "hkmo-permit", "K12345678", false, "hkmo-permit"},
		{"TaiwanPermit", "tw-permit", "12345678", true, "tw-permit"},
		{"TaiwanPermitShort", "tw-permit", "1234567", false, "tw-permit"},
		{"PassportWithNationality", "passport", "GBR 123456789", true, "passport"},
		{"PassportNoNationality", "passport", "123456789", false, "passport"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCLI("doc", "check", "--type", c.typ, c.number)
			var r struct {
				Type   string `json:"type"`
				Valid  bool   `json:"valid"`
				Masked string `json:"masked"`
				Error  string `json:"error"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output %q is not JSON: %v", out, err)
			}
			if r.Valid != c.valid || (code == 0) != c.valid {
				t.Fatalf("valid=%v exit=%d, want valid=%v: %s", r.Valid, code, c.valid, out)
			}
			if c.wantType != "" && r.Type != c.wantType {
				t.Errorf("type %q, want %q", r.Type, c.wantType)
			}
			if !c.valid && r.Error == "" {
				t.Error("invalid number without an error message")
			}
			if len(c.number) >= 8 && strings.Contains(out, c.number) {
				t.Errorf("output repeats the full number: %s", out)
			}
		})
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	code, out, _ := runCLI("version")
	if code != 0 || !strings.Contains(out, `"fyne":"v2.8.1"`) {
		t.Errorf("version: exit %d, %s", code, out)
	}
	if code, _, errOut := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d, %s", code, errOut)
	}
}

func TestConfigExampleParses(t *testing.T) {
	code, out, _ := runCLI("config", "example")
	if code != 0 {
		t.Fatal("config example failed")
	}
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte(out), 0o600)
	_, c, err := parseDeskFlags([]string{"--config", p, "--data", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatalf("the shipped example does not load: %v", err)
	}
	if c.Demo || c.Language != "zh" || c.Devices.IDReaderBaud != 115200 || c.Gate.CacheOnDisk {
		t.Errorf("example loaded as %+v", c)
	}
	// The gate cache's memory setting is read.
	on := strings.Replace(out, "cache_on_disk = false", "cache_on_disk = true", 1)
	if on == out {
		t.Fatal("the example has no cache_on_disk = false")
	}
	os.WriteFile(p, []byte(on), 0o600)
	if _, c, err = parseDeskFlags([]string{"--config", p, "--data", t.TempDir()}, io.Discard); err != nil || !c.Gate.CacheOnDisk {
		t.Errorf("cache_on_disk = true: %v, loaded %v", err, c.Gate.CacheOnDisk)
	}
}

func TestStartupFailuresAreClear(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	unreadable := write("bad.toml", "language = [unterminated")
	unknown := write("unknown.toml", "langauge = \"zh\"\n")
	badValue := write("value.toml", "text_size = \"huge\"\n")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"UnreadableConfig", []string{"--config", unreadable}, 2, "read config"},
		{"MissingConfig", []string{"--config", filepath.Join(dir, "nope.toml")}, 2, "nope.toml"},
		{"MisspeltKey", []string{"--config", unknown}, 2, "unknown setting \"langauge\""},
		{"BadValue", []string{"--config", badValue}, 2, "text_size must be"},
		{"BadFlag", []string{"--lang", "fr"}, 2, "language must be zh or en"},
		{"DataFolderIsAFile", []string{"--demo", "--data", write("afile", "x")}, 1, "data folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d stderr %q; want exit %d containing %q", code, errOut, c.code, c.want)
			}
		})
	}
}

// TestDamagedLedgerRefused: a damaged ledger stops the desk with a clear
// message and the file is left exactly as it was, for inspection.
func TestDamagedLedgerRefused(t *testing.T) {
	dir := t.TempDir()
	var errOut bytes.Buffer
	cfg := config.Config{DataDir: dir, Demo: true}
	cfg.Defaults()
	rt, err := startRuntime(context.Background(), cfg, &errOut)
	if err != nil {
		t.Fatalf("fresh start: %v", err)
	}
	rt.close()
	p := filepath.Join(dir, "ledger.db")
	b, _ := os.ReadFile(p)
	for i := 4096; i < len(b) && i < 4096*3; i++ { // pages 2–3: schema and data
		b[i] ^= 0x5A
	}
	os.WriteFile(p, b, 0o600)
	os.Remove(p + "-wal")
	os.Remove(p + "-shm")
	before, _ := os.ReadFile(p)
	code, _, msg := runCLI("--demo", "--data", dir)
	if code != 1 || !strings.Contains(msg, "ledger.db") {
		t.Fatalf("exit %d, stderr %q; want exit 1 naming ledger.db", code, msg)
	}
	after, _ := os.ReadFile(p)
	if !bytes.Equal(before, after) {
		t.Fatal("the damaged ledger was modified")
	}
}

// TestWindowUnderXvfb starts the real desk (GL driver) in demo mode under
// Xvfb, logs in with xdotool like a clerk, switches the language and checks
// the screenshots are real renders. Set STATIONDESK_SHOTS=DIR to keep them.
//
// Nothing here waits for a fixed time: each step polls for what it needs
// (the window mapped, a screenshot that is a real render, a log line, the
// picture changing after a key press) until a generous deadline, so a slow
// machine (or -race on one core) only makes the test slower, and a failure
// says what the test last saw.
func TestWindowUnderXvfb(t *testing.T) {
	for _, tool := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs it): %v", tool, err)
		}
	}
	display := startXvfb(t)
	data := t.TempDir()
	shots := os.Getenv("STATIONDESK_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATIONDESK_CHILD=1", "DISPLAY="+display,
		"STATIONDESK_ARGS=--demo --data "+data+" --lang zh --text-size large", "HOME="+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "STATIONDESK READY" {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("desk exited before it was ready (%v); stderr:\n%s", err, stderr)
	case <-time.After(stepDeadline):
		t.Fatalf("desk not ready within %v; stderr:\n%s", stepDeadline, stderr)
	}
	xdo := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "xdotool", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("xdotool %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	t.Setenv("DISPLAY", display) // for xdotool
	// The window is mapped (viewable) once xdotool finds it among the
	// visible windows; before that a screenshot fails or is black.
	var wid string
	poll(t, "the StationDesk window mapped", func() (bool, string) {
		out, err := exec.Command("xdotool", "search", "--onlyvisible", "--name", "StationDesk").CombinedOutput()
		if f := strings.Fields(string(out)); err == nil && len(f) > 0 {
			wid = f[0]
			return true, ""
		}
		return false, fmt.Sprintf("xdotool search: %v %s", err, bytes.TrimSpace(out))
	})
	shot := func(name string) (image.Image, error) {
		p := filepath.Join(shots, name)
		if out, err := exec.Command("import", "-display", display, "-window", wid, p).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("import: %v %s", err, bytes.TrimSpace(out))
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %v", p, err)
		}
		return img, nil
	}
	// shotUntil takes screenshots until one is a real render (more than
	// minColours colours) and, when before is given, differs from it in
	// more than minChanged of the sampled pixels: the screen the key press
	// leads to has been drawn, not only its first strokes.
	shotUntil := func(what, name string, before image.Image) image.Image {
		t.Helper()
		var img image.Image
		poll(t, what, func() (bool, string) {
			got, err := shot(name)
			if err != nil {
				return false, err.Error()
			}
			n := colours(got)
			if n <= minColours {
				return false, fmt.Sprintf("%s has %d colours: not a real render yet", name, n)
			}
			if before != nil {
				if ch := changed(before, got); ch <= minChanged {
					return false, fmt.Sprintf("%s has %d colours but only %.2f %% of it changed", name, n, 100*ch)
				}
			}
			img = got
			return true, ""
		})
		return img
	}
	login := shotUntil("a real render of the login screen", "login-zh.png", nil)

	logFile := filepath.Join(data, "stationdesk.log")
	waitLog := func(what string) {
		t.Helper()
		poll(t, "the log to say "+what, func() (bool, string) {
			b, err := os.ReadFile(logFile)
			if err != nil {
				return false, err.Error()
			}
			if bytes.Contains(b, []byte(what)) {
				return true, ""
			}
			return false, fmt.Sprintf("the log so far:\n%s", b)
		})
	}
	// The operator field has the focus at start: type like a clerk.
	xdo("type", "--delay", "40", "1001")
	xdo("key", "Return")
	xdo("type", "--delay", "40", "100101")
	xdo("key", "Return")
	waitLog(`"msg":"operator logged in"`)
	frame := shotUntil("the frame drawn after login", "frame-zh.png", login)

	xdo("type", "--delay", "20", "11010519491231002X")
	xdo("key", "Return")
	xdo("key", "F12")
	waitLog(`"msg":"language switched","lang":"en"`)
	shotUntil("the screen redrawn in English", "doccheck-en.png", frame)
	b, _ := os.ReadFile(logFile)
	if bytes.Contains(b, []byte("11010519491231002X")) || bytes.Contains(b, []byte("19491231")) {
		t.Error("the log holds the document number typed on screen")
	}
}

// stepDeadline bounds each step of the window test. It is generous on
// purpose: the first frame of the GL window under -race on one slow core
// takes seconds, and waiting longer costs nothing when things are fast.
const stepDeadline = 60 * time.Second

// minColours: a real render of a desk screen has hundreds of colours
// (anti-aliased text, icons); a blank or half-initialised GL surface has
// one or two.
const minColours = 30

// minChanged is the share of sampled pixels that must differ from the
// screen before a key press for the new screen to count as drawn (the
// login and the frame, or Chinese and English text, differ in far more).
const minChanged = 0.005

// poll calls check until it reports true or stepDeadline passes, then fails
// the test with what check last reported.
func poll(t *testing.T, what string, check func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(stepDeadline)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last saw: %s", stepDeadline, what, last)
		}
		time.Sleep(100 * time.Millisecond) // poll interval; the deadline decides
	}
}

// colours counts the distinct colours of every other pixel of img.
func colours(img image.Image) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	return len(seen)
}

// changed is the share of every other pixel that differs between a and b
// (1 when their sizes differ).
func changed(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	var n, diff int
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			n++
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				diff++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(diff) / float64(n)
}

// lockedBuffer is a bytes.Buffer safe to read while a child process writes
// to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startXvfb starts a private X server and returns its DISPLAY.
func startXvfb(t *testing.T) string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x900x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return fmt.Sprintf(":%s", strings.TrimSpace(line))
}

// TestDemoRuntime starts everything demo mode starts — central simulator,
// simulated readers on ptys, central client, pending worker, gate service —
// waits until the status board says each part is ready, and checks that
// closing it returns (no goroutine waits on a context nobody cancels).
func TestDemoRuntime(t *testing.T) {
	cfg := config.Config{DataDir: t.TempDir(), Demo: true}
	cfg.Defaults()
	rt, err := startRuntime(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	defer func() {
		go func() { rt.close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Error("closing the demo runtime hangs")
		}
	}()
	if rt.upgrades == nil || rt.sales == nil || rt.shifts == nil || rt.devAdmin == nil || rt.gate == nil || rt.demo == nil || rt.demo.devices == nil || rt.demo.gate == nil {
		t.Fatalf("demo runtime incomplete: %+v", rt)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range app.Components {
		for {
			st := rt.board.Get(c)
			if st.State == app.StateReady {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s (%s), not ready", c, st.State, st.Detail)
			}
			time.Sleep(50 * time.Millisecond) // poll interval; the deadline decides
		}
	}
	// A demo ID card placed on the simulated reader reaches app as a
	// validated identity through the real serial driver.
	items := rt.demo.devices.IDCards()
	if len(items) == 0 {
		t.Fatal("no demo ID cards")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() { _, err := rt.devAdmin.IDReader().ReadID(ctx); got <- err }()
	// Place the card once the read waits, as a clerk's screen would.
	for deadline := time.Now().Add(30 * time.Second); !rt.devAdmin.Waiting(app.DeviceIDReader); {
		if time.Now().After(deadline) {
			t.Fatal("the ReadID never queued on the reader")
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the deadline decides
	}
	if err := rt.demo.devices.PlaceIDCard(items[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("ReadID after placing %s: %v", items[0].Label, err)
	}
}

// BenchmarkDeskUpgradeFlow measures the desk's upgrade flow in the demo
// runtime: a demo ID card placed on the simulated reader (115200 baud, the
// real GA 467 driver over a pty) until the validated identity is in app,
// then the rider's transit card placed until its number is read, then the
// upgrade against the central simulator over loopback until the confirmed
// answer. The clerk's keypresses and the screen paint are not included.
// Each iteration unbinds the card afterwards (not timed).
//
//	go test -tags x11 -run '^$' -bench DeskUpgradeFlow -benchtime 20x .
func BenchmarkDeskUpgradeFlow(b *testing.B) {
	cfg := config.Config{DataDir: b.TempDir(), Demo: true}
	cfg.Defaults()
	rt, err := startRuntime(context.Background(), cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.close()
	for deadline := time.Now().Add(60 * time.Second); rt.board.Get(app.CompCentral).State != app.StateReady || rt.board.Get(app.CompCardReader).State != app.StateReady; {
		if time.Now().After(deadline) {
			b.Fatal("central or the card reader not ready within 60 s")
		}
		time.Sleep(20 * time.Millisecond) // poll interval; the deadline decides
	}
	op := app.Operator{ID: "2001", DisplayName: "bench", Role: app.RoleAssistant}
	const rider, card = "green-72h", "1000200002"
	var total []time.Duration
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		idc := make(chan app.Identity, 1)
		go func() {
			id, err := rt.devAdmin.IDReader().ReadID(ctx)
			if err != nil {
				b.Error(err)
			}
			idc <- id
		}()
		for deadline := time.Now().Add(30 * time.Second); !rt.devAdmin.Waiting(app.DeviceIDReader); { // the reader is waiting, as on the screen
			if time.Now().After(deadline) {
				b.Fatal("the ReadID never queued")
			}
			time.Sleep(time.Millisecond) // poll interval; the deadline decides
		}
		t0 := time.Now()
		if err := rt.demo.devices.PlaceIDCard(rider); err != nil {
			b.Fatal(err)
		}
		id := <-idc
		if err := rt.demo.devices.PlaceTransitCard(card); err != nil {
			b.Fatal(err)
		}
		c, err := rt.devAdmin.CardReader().ReadCard(ctx)
		if err != nil {
			b.Fatal(err)
		}
		res, err := rt.upgrades.Upgrade(ctx, op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: id.Doc, Card: c})
		total = append(total, time.Since(t0))
		if err != nil || res.Outcome != app.UpgradeBound {
			b.Fatalf("upgrade: %+v %v", res.Outcome, err)
		}
		b.StopTimer()
		if _, err := rt.upgrades.Unbind(ctx, op, app.UnbindInput{Key: app.NewIdempotencyKey(), Holder: id.Doc, CardNumber: c.Number}); err != nil {
			b.Fatal(err)
		}
		rt.demo.devices.LiftIDCard()
		rt.demo.devices.LiftTransitCard()
		cancel()
		time.Sleep(300 * time.Millisecond) // paces the simulated rider: the cards stay lifted for a moment (not timed)
		b.StartTimer()
	}
	slices.Sort(total)
	q := func(p float64) float64 { return float64(total[int(p*float64(len(total)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(1), "max-ms")
}
