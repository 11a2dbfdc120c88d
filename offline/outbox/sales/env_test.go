package sales_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/offline/central"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/sim/centralsim"
)

// testKDF keeps argon2id cheap under the race detector.
var testKDF = ledger.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// fakeReader is a fake at the app.CardReader seam that behaves like the
// transit-card reader with single-journey tokens: ReadCard reports the
// token in the field (blank: Balance 0, no ValidTo); IssueSingleJourney
// writes it. The real driver is exercised over ptys in the benchmark.
type fakeReader struct {
	mu      sync.Mutex
	cur     *token
	auto    bool // place a new blank token whenever the field is empty or holds a written one
	written []string
	onWrite func(serial string)
	// faults for the next IssueSingleJourney
	liftBeforeWrite bool
	liftAfterWrite  bool
	reads, issues   int
}

type token struct {
	serial string
	issued bool
	fare   int64
	valid  time.Time
}

func newBlankSerial() string { return fmt.Sprintf("99%08d", rand.IntN(100000000)) }

func (f *fakeReader) placeBlank() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = &token{serial: newBlankSerial()}
	return f.cur.serial
}

func (f *fakeReader) place(t token) { f.mu.Lock(); f.cur = &t; f.mu.Unlock() }

func (f *fakeReader) ReadCard(ctx context.Context) (app.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.auto && (f.cur == nil || f.cur.issued) {
		f.cur = &token{serial: newBlankSerial()}
	}
	if f.cur == nil {
		return app.Card{}, app.NewError(app.CodeUnavailable, "timeout", "读卡器上没有卡。", "No card on the reader.")
	}
	c := app.Card{Number: f.cur.serial, Kind: app.CardSingleJourney, Form: app.FormPhysical}
	if f.cur.issued {
		c.Balance, c.ValidTo = f.cur.fare, f.cur.valid
	}
	return c, nil
}

func errReplace() error {
	return app.NewError(app.CodeUnavailable, "replace_card", "请重新放卡。", "Place the card again.")
}

func (f *fakeReader) IssueSingleJourney(ctx context.Context, spec app.TicketSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issues++
	if spec.FareFen < 1 || len(spec.Origin) != 4 || spec.ValidUntil.IsZero() {
		return "", app.NewError(app.CodeInvalid, "ticket_spec", "票卡参数无效。", "Invalid ticket spec.")
	}
	if f.liftBeforeWrite {
		f.liftBeforeWrite, f.cur = false, nil
		return "", errReplace()
	}
	if f.cur == nil {
		return "", errReplace()
	}
	if f.cur.issued {
		return "", app.NewError(app.CodeInvalid, "not_blank", "票卡已写入。", "Token already issued.")
	}
	f.cur.issued, f.cur.fare, f.cur.valid = true, spec.FareFen, spec.ValidUntil
	f.written = append(f.written, f.cur.serial)
	if f.onWrite != nil {
		f.onWrite(f.cur.serial)
	}
	if f.liftAfterWrite {
		f.liftAfterWrite, f.cur = false, nil
		return "", errReplace() // written, but the read-back never came
	}
	return f.cur.serial, nil
}

func (f *fakeReader) writtenSerials() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.written...)
}

// logBuf collects every log line of a test run for the PII scan.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is a ticket window against the central simulator on loopback and a
// real ledger in a temporary folder.
type env struct {
	t      *testing.T
	dir    string
	clock  *app.FakeClock
	logs   *logBuf
	log    *slog.Logger
	sim    *centralsim.Server
	client *central.Client
	keys   *ledger.Keys
	l      *ledger.Ledger
	reader *fakeReader
	sales  *app.Sales
	shifts *app.Shifts
	fwd    *sales.Worker
	fares  *app.FareTable
	clerk  app.Operator
	sup    app.Operator
}

func loadFares(t testing.TB) *app.FareTable {
	t.Helper()
	ft, err := sales.LoadFares(filepath.Join("..", "..", "..", "app", "demo", "fares_demo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return ft
}

type envOpts struct {
	ledgerDir string // default: a temp folder
	noCentral bool
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, dir: t.TempDir(), clock: app.NewFakeClock(time.Now()), logs: &logBuf{}, reader: &fakeReader{auto: true}}
	e.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	e.sim, err = centralsim.New(centralsim.Config{DataDir: filepath.Join(e.dir, "sim"), Logger: e.log.With("part", "sim")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sim.Close() })
	if err := e.sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sim.Stop)
	e.client, err = central.New(central.Config{BaseURL: e.sim.URL(), StationToken: centralsim.DefaultStationToken,
		CallTimeout: 2 * time.Second, RetryWait: 10 * time.Millisecond, RetryMaxWait: 50 * time.Millisecond,
		BreakerCooldown: time.Millisecond, Logger: e.log.With("part", "central")})
	if err != nil {
		t.Fatal(err)
	}
	ldir := o.ledgerDir
	if ldir == "" {
		ldir = filepath.Join(e.dir, "data")
		if err := os.Mkdir(ldir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dd, err := datadir.Open(ldir, datadir.Demo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dd.Close() })
	e.keys, err = ledger.LoadOrCreateKeys(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.l, err = ledger.Open(ctx, filepath.Join(ldir, ledger.FileName), e.keys, ledger.Options{Clock: e.clock, Logger: e.log.With("part", "ledger"), Terminal: "T01", KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.l.Close() })
	if _, err := e.l.SeedDemo(ctx, dd, demoOps); err != nil {
		t.Fatal(err)
	}
	e.clerk = demoOps[0].Operator
	e.sup = demoOps[2].Operator
	tokens, err := app.NewTokenizer(e.keys.Index[:])
	if err != nil {
		t.Fatal(err)
	}
	e.fares = loadFares(t)
	e.fwd, err = sales.New(sales.Config{Ledger: e.l, Sender: e.client, Clock: e.clock, Logger: e.log.With("part", "salesfwd"),
		RetryMin: time.Second, RetryMax: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.SalesConfig{Store: e.l, Audit: e.l, Cards: e.reader, Tokens: tokens, Fares: e.fares, Auth: e.l,
		Station: "demo-station", Forwarded: e.fwd.Kick, Clock: e.clock, Logger: e.log.With("part", "sales")}
	if !o.noCentral {
		cfg.Health = sales.Central{Client: e.client}
		cfg.Welfare = sales.Central{Client: e.client}
	}
	e.sales, err = app.NewSales(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.shifts, err = app.NewShifts(app.ShiftsConfig{Store: e.l, ExportDir: ldir, Clock: e.clock, Logger: e.log.With("part", "shifts")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) openShift() app.Shift {
	e.t.Helper()
	sh, err := e.shifts.Open(context.Background(), e.clerk)
	if err != nil {
		e.t.Fatal(err)
	}
	return sh
}

func rider(t testing.TB, key string) demo.Rider {
	t.Helper()
	r, ok := demo.RiderByKey(key)
	if !ok {
		t.Fatalf("no demo rider %q", key)
	}
	return r
}

func (e *env) check(key string) app.BuyerCheck {
	e.t.Helper()
	c, err := e.sales.CheckBuyer(context.Background(), e.clerk, rider(e.t, key).Identity)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) outage(on bool) {
	f := e.sim.Faults()
	f.Outage = on
	e.sim.SetFaults(f)
}

// simRecords counts the records the simulator holds, by kind.
func (e *env) simRecords(kind string) int {
	e.t.Helper()
	var n int
	if err := e.sim.DB().Read().QueryRow("SELECT count(*) FROM records WHERE kind = ?", kind).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// drain forwards until nothing is due (moving the clock past backoffs).
func (e *env) drain() int {
	e.t.Helper()
	total := 0
	for i := 0; i < 20; i++ {
		e.clock.Advance(5 * time.Minute) // past any backoff or lease
		n, err := e.fwd.Drain(context.Background())
		total += n
		if err == nil {
			return total
		}
	}
	e.t.Fatal("the backlog never drained")
	return total
}

func (e *env) stats() ledger.OutboxStats {
	e.t.Helper()
	st, err := e.l.Stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// piiNeedles are the demo riders' full ID numbers and names.
func piiNeedles() []string {
	var out []string
	for _, r := range demo.Riders() {
		out = append(out, r.Identity.Doc.Reveal(), r.Identity.Name.Reveal())
		if !r.Identity.OtherName.IsZero() {
			out = append(out, r.Identity.OtherName.Reveal())
		}
	}
	return out
}

func assertNoPII(t *testing.T, what, s string) {
	t.Helper()
	for _, n := range piiNeedles() {
		if n != "" && strings.Contains(s, n) {
			t.Errorf("%s contains personal data %q…", what, n[:min(3, len(n))])
		}
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if app.ContainsResidentID(sc.Text()) {
			t.Errorf("%s has a line with something shaped like an ID number", what)
			return
		}
	}
}
