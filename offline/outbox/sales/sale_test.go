package sales_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/sim/centralsim"
)

var cash = app.SaleInput{DestCode: "0114", Payment: app.PayCash} // 国贸, 7.4 km: 4 yuan

func TestSellGreenRider(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	c := e.check("green-fresh")
	if c.Decision() != app.BuyerOK || c.HealthSource() != app.HealthFromCentral {
		t.Fatalf("check: %v from %q: %s", c, c.HealthSource(), c.Explanation().EN)
	}
	res, err := e.sales.Sell(ctx, e.clerk, c, app.SaleInput{DestCode: "0114", Payment: app.PayCash, Assisted: true})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Record
	if r.State != app.SaleIssued || r.FareFen != 400 || r.TokenSerial == "" || !r.Assisted || r.DestName != "国贸" {
		t.Fatalf("record %+v", r)
	}
	if got := e.reader.writtenSerials(); len(got) != 1 || got[0] != r.TokenSerial {
		t.Fatalf("tokens written %v, record %s", got, r.TokenSerial)
	}
	lines := strings.Join(r.ReceiptLines(app.LangZH, e.fares), "\n")
	for _, want := range []string{"西单 → 国贸", "4元", "现金", "协助购票", r.BuyerMasked} {
		if !strings.Contains(lines, want) {
			t.Errorf("receipt lacks %q:\n%s", want, lines)
		}
	}
	if n := e.drain(); n != 1 || e.simRecords("sale") != 1 {
		t.Fatalf("forwarded %d, central holds %d", n, e.simRecords("sale"))
	}
	assertNoPII(t, "receipt", lines)
}

func TestSaleWithoutID(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.openShift()
	_, err := e.sales.Sell(context.Background(), e.clerk, app.BuyerCheck{}, cash)
	if app.ErrorReason(err) != "no_id" || !strings.Contains(app.UserMessage(err, app.LangZH), "证件") {
		t.Fatalf("err = %v", err)
	}
	if all, _ := e.l.AllSales(context.Background()); len(all) != 0 || e.reader.reads != 0 {
		t.Fatalf("%d sales recorded, %d reads", len(all), e.reader.reads)
	}
}

func TestSecondTicketOnOneRead(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	c := e.check("green-fresh")
	if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err != nil {
		t.Fatal(err)
	}
	_, err := e.sales.Sell(ctx, e.clerk, c, cash)
	if app.ErrorReason(err) != "one_ticket_per_read" {
		t.Fatalf("second sale on one read: %v", err)
	}
	// The same person reads the ID again: a new purchase, a second ticket.
	c2 := e.check("green-fresh")
	if c2.Key() == c.Key() || c2.Token() != c.Token() {
		t.Fatal("a new read must be a new purchase of the same (keyed) person")
	}
	if _, err := e.sales.Sell(ctx, e.clerk, c2, cash); err != nil {
		t.Fatal(err)
	}
	if n := len(e.reader.writtenSerials()); n != 2 {
		t.Fatalf("%d tokens written, want 2", n)
	}
}

func TestExpiredID(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.openShift()
	id := rider(t, "green-fresh").Identity
	id.ValidTo = e.clock.Now().AddDate(0, 0, -2)
	c, err := e.sales.CheckBuyer(context.Background(), e.clerk, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Decision() != app.BuyerRefused || c.Reason() != "expired" || c.ManualAllowed() {
		t.Fatalf("expired ID: %v manual=%v", c, c.ManualAllowed())
	}
	if _, err := e.sales.Sell(context.Background(), e.clerk, c, cash); app.ErrorReason(err) != "expired" {
		t.Fatalf("sell on an expired ID: %v", err)
	}
	if _, _, err := e.sales.RecordManualCheck(context.Background(), e.clerk, c, passInput(e.clock.Now().Add(-time.Hour))); app.ErrorReason(err) != "manual_not_allowed" {
		t.Fatalf("manual check on an expired ID: %v", err)
	}
	if len(e.reader.writtenSerials()) != 0 {
		t.Fatal("a token was written")
	}
}

func passInput(nat time.Time) app.ManualCheckInput {
	return app.ManualCheckInput{Key: app.NewIdempotencyKey(), ShownColor: app.ColorGreen, NATTime: nat, Issuer: "上海市徐汇区某检测机构",
		Decision: app.ManualPass, Reason: "valid_certificate"}
}

func TestRefusedStatuses(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.openShift()
	for _, tc := range []struct {
		rider, reason string
		manual        bool
	}{
		{"red", "code_red", false},
		{"yellow", "code_yellow", false},
		{"green-72h", "nat_outside_window", true}, // stale test: a newer certificate may be checked
	} {
		t.Run(tc.reason, func(t *testing.T) {
			c := e.check(tc.rider)
			if c.Decision() != app.BuyerRefused || c.Reason() != tc.reason || c.ManualAllowed() != tc.manual {
				t.Fatalf("%v manual=%v", c, c.ManualAllowed())
			}
			if c.Explanation().ZH == "" || c.Explanation().NextEN == "" {
				t.Fatalf("no clear reason: %+v", c.Explanation())
			}
			if _, err := e.sales.Sell(context.Background(), e.clerk, c, cash); app.ErrorReason(err) != tc.reason {
				t.Fatalf("sell: %v", err)
			}
		})
	}
	if len(e.reader.writtenSerials()) != 0 {
		t.Fatal("a token was written")
	}
}

func TestManualChecks(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	now := e.clock.Now()
	visitor := e.check("visitor-shanghai")
	if visitor.Decision() != app.BuyerManual || visitor.Reason() != "no_health_account" {
		t.Fatalf("visitor: %v", visitor)
	}
	for _, tc := range []struct {
		name   string
		in     app.ManualCheckInput
		reason string // "" = recorded
		window app.NATWindowState
	}{
		{"ErrOutsideWindow", passInput(now.Add(-49 * time.Hour)), "nat_outside_window", app.NATOutside},
		{"ErrFuture", passInput(now.Add(3 * time.Hour)), "nat_in_future", app.NATFuture},
		{"ErrRedPass", func() app.ManualCheckInput {
			in := passInput(now.Add(-time.Hour))
			in.ShownColor = app.ColorRed
			return in
		}(), "code_red", app.NATInside},
		{"ErrNoTime", passInput(time.Time{}), "no_certificate", app.NATNone},
		{"RefuseRecorded", func() app.ManualCheckInput {
			in := passInput(now.Add(-50 * time.Hour))
			in.Decision, in.Reason = app.ManualRefuse, "nat_outside_window"
			return in
		}(), "", app.NATOutside},
		{"PassRecorded", passInput(now.Add(-20 * time.Hour)), "", app.NATInside},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, next, err := e.sales.RecordManualCheck(ctx, e.clerk, visitor, tc.in)
			if res.Assessment.State != tc.window {
				t.Errorf("window %s, want %s (%s)", res.Assessment.State, tc.window, res.Assessment.EN)
			}
			if tc.reason != "" {
				if app.ErrorReason(err) != tc.reason {
					t.Fatalf("err = %v, want %s", err, tc.reason)
				}
				return
			}
			if err != nil || !res.Created {
				t.Fatalf("record: %v created=%v", err, res.Created)
			}
			if !strings.Contains(res.Assessment.ZH, "48 小时") || !strings.Contains(res.Assessment.EN, "48 h window") {
				t.Errorf("window line: %q / %q", res.Assessment.ZH, res.Assessment.EN)
			}
			if tc.in.Decision == app.ManualPass {
				if next.Decision() != app.BuyerOK || next.Key() != visitor.Key() {
					t.Fatalf("after a pass: %v", next)
				}
				// Straight on to the sale.
				sale, err := e.sales.Sell(ctx, e.clerk, next, app.SaleInput{FareFen: 500, Payment: app.PayMobile})
				if err != nil || sale.Record.FareFen != 500 {
					t.Fatalf("sale after the check: %+v %v", sale.Record, err)
				}
				// The same form submitted twice records once.
				again, _, err := e.sales.RecordManualCheck(ctx, e.clerk, visitor, tc.in)
				if err != nil || again.Created {
					t.Fatalf("resubmitted check: created=%v %v", again.Created, err)
				}
			} else if next.Decision() != app.BuyerRefused {
				t.Fatalf("after a refusal: %v", next)
			}
			shown, err := e.l.ManualCheckShown(ctx, tc.in.Key)
			if err != nil || !strings.Contains(shown.Reveal(), "某检测机构") {
				t.Fatalf("sealed shown = %v, %v", shown, err)
			}
		})
	}
	// The ledger file keeps neither the number nor the name nor the issuer
	// in clear (masked document, token, sealed details).
	raw := readDir(t, filepath.Join(e.dir, "data"))
	assertNoPII(t, "ledger files", raw)
	if strings.Contains(raw, "某检测机构") {
		t.Error("the certificate issuer is stored in clear")
	}
	if n := e.drain(); n != 3 || e.simRecords("manual_check") != 2 || e.simRecords("sale") != 1 {
		t.Fatalf("forwarded %d; central: %d checks, %d sales", n, e.simRecords("manual_check"), e.simRecords("sale"))
	}
	// Central received what was shown; the outbox forgot it at confirmation.
	var body string
	rows, err := e.sim.DB().Read().Query("SELECT body FROM records WHERE kind = 'manual_check'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		if strings.Contains(string(b), `"decision":"pass"`) {
			body = string(b)
		}
	}
	rows.Close()
	if !strings.Contains(body, `"shown_color":"green"`) || !strings.Contains(body, "nat_time") {
		t.Errorf("central's copy: %s", body)
	}
}

func readDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		data, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestCentralDown covers the link down before, during and after a sale.
func TestCentralDown(t *testing.T) {
	ctx := context.Background()
	t.Run("BeforeWithStationStatus", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		e.check("green-fresh") // the station keeps central's answer
		e.outage(true)
		c := e.check("green-fresh")
		if c.Decision() != app.BuyerOK || c.HealthSource() != app.HealthFromStation {
			t.Fatalf("offline check: %v from %q", c, c.HealthSource())
		}
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err != nil {
			t.Fatal(err)
		}
		if n, err := e.fwd.RunOnce(ctx); n != 0 || err == nil {
			t.Fatalf("forwarding while down: %d, %v", n, err)
		}
		if st := e.stats(); st.Pending != 1 {
			t.Fatalf("backlog %+v", st)
		}
		e.outage(false)
		if n := e.drain(); n != 1 || e.simRecords("sale") != 1 {
			t.Fatalf("caught up %d, central holds %d", n, e.simRecords("sale"))
		}
	})
	t.Run("BeforeStaleStatus", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		e.check("green-fresh")
		e.outage(true)
		e.clock.Advance(2 * time.Hour) // older than the staleness policy (1 h)
		c := e.check("green-fresh")
		if c.Decision() != app.BuyerManual || c.Reason() != "status_stale" {
			t.Fatalf("stale station status: %v", c)
		}
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); app.ErrorReason(err) != "status_stale" {
			t.Fatalf("sell on a stale status: %v", err)
		}
	})
	t.Run("BeforeNoStatus", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		e.outage(true)
		c := e.check("student")
		if c.Decision() != app.BuyerManual || c.Reason() != "status_unavailable" || !c.ManualAllowed() {
			t.Fatalf("no status: %v", c)
		}
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err == nil {
			t.Fatal("sold without a status (silent pass)")
		}
		// The manual check admits the rider; the sale is queued.
		_, next, err := e.sales.RecordManualCheck(ctx, e.clerk, c, passInput(e.clock.Now().Add(-10*time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.sales.Sell(ctx, e.clerk, next, cash); err != nil {
			t.Fatal(err)
		}
		e.outage(false)
		if n := e.drain(); n != 2 {
			t.Fatalf("caught up %d, want 2", n)
		}
	})
	t.Run("During", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		c := e.check("green-fresh")
		e.outage(true) // between the check and the sale
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); err != nil {
			t.Fatal(err)
		}
		e.outage(false)
		if n := e.drain(); n != 1 || e.simRecords("sale") != 1 {
			t.Fatalf("caught up %d, central holds %d", n, e.simRecords("sale"))
		}
	})
	t.Run("AfterAnswerLost", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		for range 3 {
			if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), cash); err != nil {
				t.Fatal(err)
			}
		}
		// Central stores the first record but the answer is lost; the
		// next round sends it again with the same key: stored once.
		e.sim.SetFaults(centralsim.Faults{DropAfterCommitNext: 1})
		e.fwd.RunOnce(ctx)
		e.outage(true)
		e.fwd.RunOnce(ctx)
		e.outage(false)
		e.drain()
		if got := e.simRecords("sale"); got != 3 {
			t.Fatalf("central holds %d sales, want 3", got)
		}
		if st := e.stats(); st.Pending+st.Sent != 0 || st.Confirmed != 3 {
			t.Fatalf("backlog after catching up: %+v", st)
		}
		if e.drain() != 0 || e.simRecords("sale") != 3 {
			t.Fatal("a second catch-up sent something again")
		}
	})
}

func TestDoubleClickOnSell(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.openShift()
	c := e.check("green-fresh")
	var wg sync.WaitGroup
	results := make([]app.SaleResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.sales.Sell(context.Background(), e.clerk, c, cash)
		}()
	}
	wg.Wait()
	ok := 0
	for i := range 2 {
		switch {
		case errs[i] == nil:
			ok++
		case app.ErrorReason(errs[i]) != "one_ticket_per_read":
			t.Fatalf("click %d: %v", i, errs[i])
		}
	}
	if ok == 0 || len(e.reader.writtenSerials()) != 1 {
		t.Fatalf("%d successes, %d tokens written; want one ticket", ok, len(e.reader.writtenSerials()))
	}
	all, _ := e.l.AllSales(context.Background())
	if len(all) != 1 {
		t.Fatalf("%d sale records", len(all))
	}
}

func TestTokenLifted(t *testing.T) {
	ctx := context.Background()
	t.Run("BeforeWrite", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		c := e.check("green-fresh")
		e.reader.liftBeforeWrite = true
		_, err := e.sales.Sell(ctx, e.clerk, c, cash)
		if app.ErrorReason(err) != "issue_failed" || !strings.Contains(app.UserMessage(err, app.LangZH), "未完成") ||
			!strings.Contains(app.UserMessage(err, app.LangEN), "again") {
			t.Fatalf("err = %v / %q", err, app.UserMessage(err, app.LangEN))
		}
		s, _, _ := e.l.Sale(ctx, c.Key())
		if s.State != app.SaleIssueFailed || e.stats().Pending != 0 {
			t.Fatalf("after the lift: state %s, outbox %+v", s.State, e.stats())
		}
		// Retry: the same purchase continues; one ticket.
		res, err := e.sales.Sell(ctx, e.clerk, c, cash)
		if err != nil || res.Record.State != app.SaleIssued {
			t.Fatalf("retry: %v", err)
		}
		if len(e.reader.writtenSerials()) != 1 || e.stats().Pending != 1 {
			t.Fatalf("%d written, outbox %+v", len(e.reader.writtenSerials()), e.stats())
		}
	})
	t.Run("AfterWrite", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		c := e.check("green-fresh")
		e.reader.auto = false
		serial := e.reader.placeBlank()
		e.reader.liftAfterWrite = true
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); app.ErrorReason(err) != "issue_failed" {
			t.Fatalf("err = %v", err)
		}
		inc, _ := e.sales.Incomplete(ctx)
		if len(inc) != 1 || inc[0].TokenSerial != serial {
			t.Fatalf("incomplete: %+v", inc)
		}
		// The clerk puts the same token back: it is already written, so the
		// sale completes without writing again.
		e.reader.place(token{serial: serial, issued: true, fare: 400, valid: time.Now().Add(time.Hour)})
		res, err := e.sales.ResumeSale(ctx, e.clerk, c.Key())
		if err != nil || !res.Recovered || res.Record.TokenSerial != serial {
			t.Fatalf("resume: %+v %v", res, err)
		}
		if len(e.reader.writtenSerials()) != 1 {
			t.Fatal("written twice")
		}
	})
	t.Run("VoidBySupervisor", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.openShift()
		c := e.check("green-fresh")
		e.reader.liftBeforeWrite = true
		e.sales.Sell(ctx, e.clerk, c, cash)
		if err := e.sales.VoidSale(ctx, e.clerk, c.Key(), "rider_left"); app.ErrorCode(err) != app.CodeUnauthorized {
			t.Fatalf("clerk voids: %v", err)
		}
		if err := e.sales.VoidSale(ctx, e.sup, c.Key(), "rider_left"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sales.Sell(ctx, e.clerk, c, cash); app.ErrorReason(err) != "sale_void" {
			t.Fatalf("sell after void: %v", err)
		}
	})
}

func TestNoShiftNoSale(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.check("green-fresh")
	if _, err := e.sales.Sell(context.Background(), e.clerk, c, cash); app.ErrorReason(err) != "no_shift" {
		t.Fatalf("err = %v", err)
	}
}

func TestWelfareExchange(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	dest := app.WelfareInput{DestCode: "0110"}
	t.Run("Eligible", func(t *testing.T) {
		c := e.check("elder-special")
		st, err := e.sales.Welfare(ctx, c)
		if err != nil || !st.Eligible || st.Category != "elderly" {
			t.Fatalf("eligibility %+v %v", st, err)
		}
		res, err := e.sales.Exchange(ctx, e.clerk, c, dest)
		if err != nil || res.Record.Kind != app.KindWelfare || res.Record.Payment != app.PayWelfare {
			t.Fatalf("exchange %+v %v", res.Record, err)
		}
	})
	t.Run("ErrNotEligible", func(t *testing.T) {
		_, err := e.sales.Exchange(ctx, e.clerk, e.check("green-fresh"), dest)
		if app.ErrorReason(err) != "not_eligible" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("OverrideAudited", func(t *testing.T) {
		c := e.check("green-fresh")
		if _, err := e.sales.AuthorizeOverride(ctx, e.clerk, "1001", "100101"); app.ErrorReason(err) != "not_supervisor" {
			t.Fatalf("clerk as supervisor: %v", err)
		}
		sup, err := e.sales.AuthorizeOverride(ctx, e.clerk, "9001", "900101")
		if err != nil {
			t.Fatal(err)
		}
		in := dest
		in.Override, in.OverrideReason = &sup, "card_shown"
		res, err := e.sales.Exchange(ctx, e.clerk, c, in)
		if err != nil || res.Record.OverrideBy != "9001" {
			t.Fatalf("override: %+v %v", res.Record, err)
		}
		ents, _ := e.l.List(ctx, app.AuditFilter{Action: app.ActOverride})
		if len(ents) < 2 || !strings.Contains(ents[0].Detail, "card_shown") {
			t.Fatalf("override audit: %+v", ents)
		}
	})
	t.Run("ErrCentralDown", func(t *testing.T) {
		c := e.check("elder-special")
		e.outage(true)
		defer e.outage(false)
		if _, err := e.sales.Exchange(ctx, e.clerk, c, dest); app.ErrorReason(err) != "eligibility_unknown" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("WrongSupervisorPINFiveTimes", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			_, err := e.sales.AuthorizeOverride(ctx, e.clerk, "9001", "135790")
			want := "bad_pin"
			if i == 5 {
				want = "locked"
			}
			if app.ErrorReason(err) != want {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		if _, err := e.sales.AuthorizeOverride(ctx, e.clerk, "9001", "900101"); app.ErrorReason(err) != "locked" {
			t.Fatalf("right PIN while locked: %v", err)
		}
	})
}

func TestShiftReport(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	sh := e.openShift()
	if _, err := e.shifts.Open(ctx, e.clerk); app.ErrorReason(err) != "shift_open" {
		t.Fatalf("second open: %v", err)
	}
	for _, in := range []app.SaleInput{
		{DestCode: "0114", Payment: app.PayCash},   // 4
		{DestCode: "0106", Payment: app.PayCash},   // 3
		{DestCode: "2011", Payment: app.PayMobile}, // 55 km: 8
	} {
		if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.sales.Exchange(ctx, e.clerk, e.check("elder-special"), app.WelfareInput{DestCode: "0110"}); err != nil {
		t.Fatal(err)
	}
	v := e.check("visitor-shanghai")
	if _, _, err := e.sales.RecordManualCheck(ctx, e.clerk, v, passInput(e.clock.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	refuse := passInput(e.clock.Now().Add(-60 * time.Hour))
	refuse.Decision, refuse.Reason = app.ManualRefuse, "nat_outside_window"
	if _, _, err := e.sales.RecordManualCheck(ctx, e.clerk, e.check("visitor-shanghai"), refuse); err != nil {
		t.Fatal(err)
	}
	// An upgrade audited at this terminal during the shift.
	e.l.Append(ctx, app.AuditEntry{Operator: "2001", Action: app.ActCardBind, Subject: "card:****0001", Outcome: app.OutcomeSuccess, Detail: "key=k1"})
	e.clock.Advance(time.Minute)
	rep, path, err := e.shifts.Close(ctx, e.sup)
	if err != nil {
		t.Fatal(err)
	}
	tt := rep.Totals
	if tt.Tickets != 3 || tt.TicketsByFare[400] != 1 || tt.TicketsByFare[300] != 1 || tt.TicketsByFare[800] != 1 || tt.Welfare != 1 ||
		tt.Checks[app.ManualPass] != 1 || tt.Checks[app.ManualRefuse] != 1 || tt.Upgrades != 1 || tt.CashFen != 700 || tt.Waiting != 6 {
		t.Fatalf("totals %+v", tt)
	}
	if rep.Shift.ID != sh.ID || rep.Shift.Closed.IsZero() || rep.Shift.ClosedBy != "9001" {
		t.Fatalf("shift %+v", rep.Shift)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	csv := string(data)
	for _, want := range []string{"tickets_by_fare,8.00,1", "money,cash_total_yuan,7.00", "manual_checks,refuse,1", "backlog,records_waiting,6", "upgrades,bound,1"} {
		if !strings.Contains(csv, want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv)
		}
	}
	assertNoPII(t, "CSV", csv)
	if bars := rep.Bars(app.LangEN); len(bars) != 7 || bars[0].Label != "Ticket CNY 3" {
		t.Fatalf("bars %+v", bars)
	}
	if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), cash); app.ErrorReason(err) != "no_shift" {
		t.Fatalf("sale after close: %v", err)
	}
}

// TestTamperedSaleAudit edits a sale's audit entry with the sqlite tool's
// power (triggers dropped) and checks `stationdesk audit verify` finds it.
func TestTamperedSaleAudit(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	e.openShift()
	if _, err := e.sales.Sell(ctx, e.clerk, e.check("green-fresh"), cash); err != nil {
		t.Fatal(err)
	}
	ents, _ := e.l.List(ctx, app.AuditFilter{Action: app.ActTicketSale})
	if len(ents) != 1 {
		t.Fatalf("%d sale entries", len(ents))
	}
	path := filepath.Join(e.dir, "data", ledger.FileName)
	e.l.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET detail = replace(detail, 'fare_fen=400', 'fare_fen=300') WHERE seq = " + itoa(ents[0].Seq)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// The keys live in e.dir, the ledger in e.dir/data.
	res, err := ledger.VerifyFolder(ctx, filepath.Join(e.dir, "data"), e.dir)
	if err != nil || res.OK || res.FirstBroken != ents[0].Seq || res.Reason != "hash_mismatch" {
		t.Fatalf("audit verify: %+v, %v; want first_broken %d hash_mismatch", res, err, ents[0].Seq)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
