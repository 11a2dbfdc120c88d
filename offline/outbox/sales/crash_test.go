package sales_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
)

const crashEnv = "STATIONDESK_SALES_CRASH_CHILD"

// greenCentral is a fake at the app.CentralHealth seam: everyone is green
// with a fresh test (the crash child sells without a simulator).
type greenCentral struct{ clock app.Clock }

func (g greenCentral) HealthStatus(context.Context, app.DocNumber) (app.HealthStatus, error) {
	now := g.clock.Now()
	return app.HealthStatus{Color: app.ColorGreen, LastNegative: now.Add(-3 * time.Hour), AsOf: now}, nil
}

func crashSales(t testing.TB, l *ledger.Ledger, keys *ledger.Keys, r app.CardReader) *app.Sales {
	tokens, err := app.NewTokenizer(keys.Index[:])
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.NewSales(app.SalesConfig{Store: l, Audit: l, Cards: r, Tokens: tokens, Fares: loadFares(t), Auth: l,
		Health: greenCentral{app.SystemClock{}}, Station: "demo-station"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSellChild is the child of TestKillWhileSelling: it sells tickets in a
// loop, writing each token's serial to written.log (fsync) at the moment
// the fake reader "writes" the token, and printing "SOLD key serial" after
// Sell returned, until it is killed. It does nothing in a normal run.
func TestSellChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestKillWhileSelling only")
	}
	ctx := context.Background()
	keys, err := ledger.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, filepath.Join(dir, ledger.FileName), keys, ledger.Options{Terminal: "T01", KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.OpenFile(filepath.Join(dir, "written.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeReader{auto: true, onWrite: func(serial string) {
		// The token is written when this line is durable.
		if _, err := log.WriteString(serial + "\n"); err != nil {
			panic(err)
		}
		if err := log.Sync(); err != nil {
			panic(err)
		}
	}}
	desk := crashSales(t, l, keys, r)
	clerk := demoOps[0].Operator
	if _, ok, _ := l.CurrentShift(ctx); !ok {
		if _, err := l.OpenShift(ctx, clerk.ID, time.Now(), app.AuditEntry{Operator: clerk.ID, Action: app.ActShiftOpen, Outcome: app.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	out := bufio.NewWriter(os.Stdout)
	id := rider(t, "green-fresh").Identity
	for {
		c, err := desk.CheckBuyer(ctx, clerk, id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := desk.Sell(ctx, clerk, c, cash)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "SOLD %s %s\n", res.Record.Key, res.Record.TokenSerial)
		out.Flush()
	}
}

// TestKillWhileSelling SIGKILLs a selling child at random points, again and
// again, then resolves what was interrupted and checks: every written token
// has exactly one issued sale; every sale the child reported is issued; no
// sale was issued without a token; each issued sale has one outbox item and
// central ends up with each exactly once.
func TestKillWhileSelling(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop")
	}
	ctx := context.Background()
	dir := t.TempDir()
	dd, err := datadir.Open(dir, datadir.Demo)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ledger.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, filepath.Join(dir, ledger.FileName), keys, ledger.Options{Terminal: "T01", KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SeedDemo(ctx, dd, demoOps); err != nil {
		t.Fatal(err)
	}
	l.Close()
	dd.Close()
	sold := map[string]string{}
	const rounds = 15
	for i := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSellChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it sell a little (the first sale also proves it started),
		// then kill it at a random moment.
		select {
		case l := <-lines:
			record(sold, l)
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: the child sold nothing", i)
		}
		time.Sleep(time.Duration(rand.IntN(120)) * time.Millisecond) // fault injection: the kill lands at a random moment
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		for l := range lines {
			record(sold, l)
		}
	}
	written := readWritten(t, filepath.Join(dir, "written.log"))
	t.Logf("%d rounds: %d sales reported, %d tokens written", rounds, len(sold), len(written))

	// Resolve the interrupted sales: a token that was written is put back
	// on the reader (adopted, not written again); one that was not is voided.
	l, err = ledger.Open(ctx, filepath.Join(dir, ledger.FileName), keys, ledger.Options{Terminal: "T01", KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &fakeReader{}
	desk := crashSales(t, l, keys, r)
	inc, err := desk.Incomplete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range inc {
		if written[s.TokenSerial] {
			r.place(token{serial: s.TokenSerial, issued: true, fare: s.FareFen, valid: s.ValidUntil})
			res, err := desk.ResumeSale(ctx, demoOps[0].Operator, s.Key)
			if err != nil || !res.Recovered {
				t.Fatalf("resume %s: %v %+v", s.Key, err, res)
			}
		} else if err := desk.VoidSale(ctx, demoOps[2].Operator, s.Key, "not_written"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.writtenSerials()); n != 0 {
		t.Fatalf("resolution wrote %d tokens", n)
	}
	t.Logf("%d interrupted sales resolved", len(inc))

	all, err := l.AllSales(ctx)
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]app.SaleRecord{}
	for _, s := range all {
		switch s.State {
		case app.SaleIssued:
			if _, dup := issued[s.TokenSerial]; dup {
				t.Errorf("token %s carries two sales", s.TokenSerial)
			}
			issued[s.TokenSerial] = s
		case app.SaleVoid:
		default:
			t.Errorf("sale %s still %s", s.Key, s.State)
		}
	}
	for serial := range written {
		if _, ok := issued[serial]; !ok {
			t.Errorf("token %s was written but has no issued sale", serial)
		}
	}
	if len(issued) != len(written) {
		t.Errorf("%d issued sales for %d written tokens", len(issued), len(written))
	}
	for key, serial := range sold {
		s, ok, _ := l.Sale(ctx, key)
		if !ok || s.State != app.SaleIssued || s.TokenSerial != serial {
			t.Errorf("reported sale %s lost: %+v", key, s)
		}
	}
	items, total, err := l.PendingKinds(ctx, []string{app.ForwardSale}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(issued) {
		t.Errorf("%d sale records queued for central, %d issued", total, len(issued))
	}
	for _, it := range items {
		var w app.SaleWire
		if json.Unmarshal(it.Body, &w) != nil || issued[w.Extra.TokenSerial].Key != it.Key {
			t.Errorf("outbox item %s does not match an issued sale", it.Key)
		}
	}
	// Catch up once with the simulator.
	e := newEnv(t, envOpts{})
	fwd, err := sales.New(sales.Config{Ledger: l, Sender: e.client, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fwd.Drain(ctx); err != nil || n != len(issued) || e.simRecords("sale") != len(issued) {
		t.Fatalf("forwarded %d (%v); central holds %d; issued %d", n, err, e.simRecords("sale"), len(issued))
	}
	var bad int
	if err := l.DB().Read().QueryRow("SELECT count(*) FROM outbox WHERE state != 'confirmed'").Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d items not confirmed (%v)", bad, err)
	}
	if res, err := l.Verify(ctx); err != nil || !res.OK {
		t.Fatalf("audit chain after the crashes: %+v %v", res, err)
	}
}

func record(sold map[string]string, line string) {
	if f := strings.Fields(line); len(f) == 3 && f[0] == "SOLD" {
		sold[f[1]] = f[2]
	}
}

// readWritten reads the serials of completely logged writes (a line cut by
// the kill does not count: that token write did not complete).
func readWritten(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasSuffix(line, "\n") && len(line) == 11 {
			out[strings.TrimSpace(line)] = true
		}
	}
	return out
}

// TestDiskFull sells until the ledger's disk is full: sales stop with a
// clear message, nothing is half-written (no token without a record, no
// record marked issued without its outbox item), the file stays intact,
// and selling resumes once space is freed.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	e := newEnv(t, envOpts{ledgerDir: dir})
	e.openShift()
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	var fullErr error
	sold := 0
	for i := 0; i < 5000 && fullErr == nil; i++ {
		c, err := e.sales.CheckBuyer(ctx, e.clerk, rider(t, "green-fresh").Identity)
		if err != nil {
			fullErr = err
			break
		}
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err != nil {
			fullErr = err
			break
		}
		sold++
	}
	if fullErr == nil {
		t.Fatal("never ran out of space")
	}
	reason := app.ErrorReason(fullErr)
	msg := app.UserMessage(fullErr, app.LangZH)
	t.Logf("disk full after %d sales: %s / %s", sold, reason, app.UserMessage(fullErr, app.LangEN))
	if reason != "disk_full" && reason != "audit_failed" && reason != "record_incomplete" {
		t.Fatalf("reason %q", reason)
	}
	if reason == "disk_full" && !strings.Contains(msg, "磁盘已满") {
		t.Errorf("message %q", msg)
	}
	// Further sales fail the same way and write no token.
	before := len(e.reader.writtenSerials())
	for range 3 {
		c, _ := e.sales.CheckBuyer(ctx, e.clerk, rider(t, "green-fresh").Identity)
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err == nil {
			t.Fatal("sold on a full disk")
		}
	}
	if after := len(e.reader.writtenSerials()); after != before {
		t.Fatalf("%d tokens written on a full disk", after-before)
	}
	checkNoHalfSales(t, e)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Space again: an interrupted sale (if any) is completed, selling resumes.
	// A different blank token is refused for it: the recorded one may carry
	// the ticket.
	e.reader.auto = false
	inc, _ := e.sales.Incomplete(ctx)
	for _, s := range inc {
		if s.State == app.SaleIssuing {
			e.reader.placeBlank()
			if _, err := e.sales.ResumeSale(ctx, e.clerk, s.Key); app.ErrorReason(err) != "original_token" {
				t.Fatalf("resume with another token: %v", err)
			}
		}
	}
	for _, s := range inc {
		if slicesContains(e.reader.writtenSerials(), s.TokenSerial) {
			e.reader.place(token{serial: s.TokenSerial, issued: true, fare: s.FareFen, valid: s.ValidUntil})
			if _, err := e.sales.ResumeSale(ctx, e.clerk, s.Key); err != nil {
				t.Fatal(err)
			}
		} else if err := e.sales.VoidSale(ctx, e.sup, s.Key, "disk_full"); err != nil {
			t.Fatal(err)
		}
	}
	e.reader.auto = true
	if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), cash); err != nil {
		t.Fatalf("after freeing space: %v", err)
	}
	checkNoHalfSales(t, e)
	var ok string
	if err := e.l.DB().Read().QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity %q %v", ok, err)
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkNoHalfSales: every written token has a sale record; every issued
// sale has its outbox item; no outbox item without an issued sale.
func checkNoHalfSales(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	all, err := e.l.AllSales(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bySerial := map[string]app.SaleRecord{}
	issued := 0
	for _, s := range all {
		bySerial[s.TokenSerial] = s
		if s.State == app.SaleIssued {
			issued++
			if _, err := e.l.Get(ctx, s.Key); err != nil {
				t.Errorf("issued sale %s has no outbox item", s.Key)
			}
		}
	}
	for _, serial := range e.reader.writtenSerials() {
		if _, ok := bySerial[serial]; !ok {
			var ss []string
			for _, x := range all {
				ss = append(ss, string(x.State)+":"+x.TokenSerial)
			}
			t.Errorf("token %s written without a sale record (written %v, sales %v)", serial, e.reader.writtenSerials(), ss)
		}
	}
	var items int
	if err := e.l.DB().Read().QueryRow("SELECT count(*) FROM outbox WHERE kind = 'sale'").Scan(&items); err != nil {
		t.Fatal(err)
	}
	if items != issued {
		t.Errorf("%d outbox items for %d issued sales", items, issued)
	}
}
