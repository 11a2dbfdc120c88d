package ledger

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/datadir"
)

func TestLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sup := f.supervisor(t)
	clerk := app.Operator{ID: "1001", DisplayName: "售票员甲", Role: app.RoleClerk}
	if err := f.l.CreateOperator(ctx, sup, clerk, "135790"); err != nil {
		t.Fatal(err)
	}
	gone := app.Operator{ID: "1002", DisplayName: "离职", Role: app.RoleClerk}
	if err := f.l.CreateOperator(ctx, sup, gone, "135790"); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Disable(ctx, sup, "1002"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, pin string
		reason        string
		remaining     int
		outcome       app.AuditOutcome
	}{
		{"OK", "1001", "135790", "", 0, app.OutcomeSuccess},
		{"ErrWrongPIN", "1001", "135791", "bad_pin", 4, app.OutcomeFailure},
		{"OKResetsCounter", "1001", "135790", "", 0, app.OutcomeSuccess},
		{"ErrUnknownOperator", "4242", "135790", "bad_pin", -1, app.OutcomeFailure},
		{"ErrGarbageID", "11010519491231002X;--", "x", "bad_pin", -1, app.OutcomeFailure},
		{"ErrDisabled", "1002", "135790", "disabled", -1, app.OutcomeDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := f.l.Login(ctx, tc.id, tc.pin)
			if app.ErrorReason(err) != tc.reason {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
			if err == nil {
				if op.ID != tc.id || op.Role != app.RoleClerk || op.DisplayName == "" {
					t.Errorf("operator = %+v", op)
				}
			} else {
				if app.ErrorCode(err) != app.CodeUnauthorized {
					t.Errorf("code = %s", app.ErrorCode(err))
				}
				if lf, _ := app.LoginFailureOf(err); lf.Remaining != tc.remaining {
					t.Errorf("remaining = %d, want %d", lf.Remaining, tc.remaining)
				}
			}
			last, err := f.l.List(ctx, app.AuditFilter{Limit: 1})
			if err != nil || len(last) != 1 {
				t.Fatal(last, err)
			}
			e := last[0]
			if e.Action != app.ActLogin || e.Outcome != tc.outcome || e.Terminal != "T01" {
				t.Errorf("audit entry = %+v", e)
			}
			if strings.Contains(e.Operator+e.Subject+e.Detail, "11010519491231002") || strings.Contains(e.Detail, tc.pin) && tc.pin != "" && tc.pin != "x" {
				t.Errorf("audit entry holds input it should not: %+v", e)
			}
		})
	}
}

func TestLockoutPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sup := f.supervisor(t)
	if err := f.l.CreateOperator(ctx, sup, app.Operator{ID: "1001", DisplayName: "甲", Role: app.RoleClerk}, "135790"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		_, err := f.l.Login(ctx, "1001", "000001")
		if lf, _ := app.LoginFailureOf(err); app.ErrorReason(err) != "bad_pin" || lf.Remaining != 5-i {
			t.Fatalf("attempt %d: %v remaining %d", i, err, lf.Remaining)
		}
		f.clock.Advance(time.Second)
	}
	f.reopen(t) // the counter is in the file, not in memory
	_, err := f.l.Login(ctx, "1001", "000001")
	lf, _ := app.LoginFailureOf(err)
	if app.ErrorReason(err) != "locked" || !lf.LockedUntil.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("fifth wrong PIN: %v, until %v", err, lf.LockedUntil)
	}
	f.reopen(t)
	if _, err := f.l.Login(ctx, "1001", "135790"); app.ErrorReason(err) != "locked" {
		t.Fatalf("right PIN while locked after restart: %v", err)
	}
	f.clock.Advance(15*time.Minute - time.Second)
	if _, err := f.l.Login(ctx, "1001", "135790"); app.ErrorReason(err) != "locked" {
		t.Fatalf("right PIN just before the lock ends: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.l.Login(ctx, "1001", "135790"); err != nil {
		t.Fatalf("right PIN after the lock: %v", err)
	}
	denied, _ := f.l.List(ctx, app.AuditFilter{Action: app.ActLogin, Outcome: app.OutcomeDenied})
	failed, _ := f.l.List(ctx, app.AuditFilter{Action: app.ActLogin, Outcome: app.OutcomeFailure})
	if len(failed) != 4 || len(denied) != 3 {
		t.Errorf("audited %d failures and %d denials, want 4 and 3", len(failed), len(denied))
	}
	if !strings.Contains(denied[len(denied)-1].Detail, "locked until") {
		t.Errorf("lock-out entry detail = %q", denied[len(denied)-1].Detail)
	}

	t.Run("SupervisorUnlocks", func(t *testing.T) {
		for range 5 {
			f.l.Login(ctx, "1001", "000001")
		}
		if _, err := f.l.Login(ctx, "1001", "135790"); app.ErrorReason(err) != "locked" {
			t.Fatalf("not locked: %v", err)
		}
		if err := f.l.Unlock(ctx, sup, "1001"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.l.Login(ctx, "1001", "135790"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
	})
}

func TestKDFParamsPerRow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.supervisor(t)
	newer := KDFParams{Time: 2, MemoryKiB: 128, Threads: 1}
	f.l.Close()
	l, err := Open(ctx, f.path, f.keys, Options{Clock: f.clock, KDF: newer})
	if err != nil {
		t.Fatal(err)
	}
	f.l = l
	if _, err := f.l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("login with the old row parameters: %v", err)
	}
	var got KDFParams
	if err := f.l.db.Read().QueryRow("SELECT kdf_time, kdf_memory_kib, kdf_threads FROM operators WHERE id = '9001'").Scan(&got.Time, &got.MemoryKiB, &got.Threads); err != nil {
		t.Fatal(err)
	}
	if got != newer {
		t.Fatalf("row parameters after login = %+v, want re-hashed with %+v", got, newer)
	}
	if _, err := f.l.Login(ctx, "9001", "900101"); err != nil {
		t.Fatalf("login after re-hash: %v", err)
	}
}

func TestOperatorAdmin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sup := f.supervisor(t)
	clerk := app.Operator{ID: "1001", DisplayName: "甲", Role: app.RoleClerk}
	if err := f.l.CreateOperator(ctx, sup, clerk, "135790"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		run    func() error
		reason string
	}{
		{"ErrFirstSupervisorTwice", func() error {
			return f.l.CreateFirstSupervisor(ctx, app.Operator{ID: "9002", DisplayName: "x"}, "135790")
		}, "already_initialised"},
		{"ErrClerkCreates", func() error {
			return f.l.CreateOperator(ctx, clerk, app.Operator{ID: "1003", DisplayName: "x", Role: app.RoleClerk}, "135790")
		}, "not_supervisor"},
		{"ErrForgedSupervisor", func() error {
			return f.l.CreateOperator(ctx, app.Operator{ID: "1001", Role: app.RoleSupervisor}, app.Operator{ID: "1003", DisplayName: "x", Role: app.RoleClerk}, "135790")
		}, "not_supervisor"},
		{"ErrDuplicate", func() error { return f.l.CreateOperator(ctx, sup, clerk, "135790") }, "operator_exists"},
		{"ErrWeakPIN", func() error {
			return f.l.CreateOperator(ctx, sup, app.Operator{ID: "1004", DisplayName: "x", Role: app.RoleClerk}, "123456")
		}, "pin_weak"},
		{"ErrBadRole", func() error {
			return f.l.CreateOperator(ctx, sup, app.Operator{ID: "1004", DisplayName: "x", Role: "root"}, "135790")
		}, "role"},
		{"OKOwnPIN", func() error { return f.l.SetPIN(ctx, clerk, "1001", "246813") }, ""},
		{"ErrOthersPIN", func() error { return f.l.SetPIN(ctx, clerk, "9001", "246813") }, "not_supervisor"},
		{"ErrUnknownTarget", func() error { return f.l.SetPIN(ctx, sup, "7777", "246813") }, "operator_not_found"},
		{"ErrDisableLastSupervisor", func() error { return f.l.Disable(ctx, sup, "9001") }, "last_supervisor"},
		{"ErrClerkDisables", func() error { return f.l.Disable(ctx, clerk, "9001") }, "not_supervisor"},
		{"OKDisable", func() error { return f.l.Disable(ctx, sup, "1001") }, ""},
		{"ErrDisabledClerkChangesPIN", func() error { return f.l.SetPIN(ctx, clerk, "1001", "246813") }, "not_supervisor"},
		{"OKEnable", func() error { return f.l.Enable(ctx, sup, "1001") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := app.ErrorReason(tc.run()); got != tc.reason {
				t.Fatalf("reason = %q, want %q", got, tc.reason)
			}
		})
	}
	if _, err := f.l.Login(ctx, "1001", "246813"); err != nil {
		t.Fatalf("login with the changed PIN: %v", err)
	}
	ops, err := f.l.ListOperators(ctx)
	if err != nil || len(ops) != 2 || ops[0].ID != "1001" || ops[1].Role != app.RoleSupervisor || ops[0].Disabled {
		t.Fatalf("ListOperators = %+v, %v", ops, err)
	}
	res, err := f.l.Verify(ctx)
	if err != nil || !res.OK {
		t.Fatalf("chain after admin actions: %+v %v", res, err)
	}
}

// openKind opens dir as a data folder of kind k.
func openKind(t *testing.T, dir string, k datadir.Kind) *datadir.Dir {
	t.Helper()
	d, err := datadir.Open(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newFixtureIn is newFixture in a new data folder of kind k, opened
// before anything is written in it, as the desk does.
func newFixtureIn(t *testing.T, k datadir.Kind) (*fixture, *datadir.Dir) {
	t.Helper()
	dir := t.TempDir()
	d := openKind(t, dir, k)
	keys, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, path: filepath.Join(dir, FileName), keys: keys, clock: app.NewFakeClock(t0)}
	f.reopen(t)
	t.Cleanup(func() { f.l.Close() })
	return f, d
}

func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	f, dd := newFixtureIn(t, datadir.Demo)
	for i, want := range []int{3, 0} {
		n, err := f.l.SeedDemo(ctx, dd, DemoOperators)
		if err != nil || n != want {
			t.Fatalf("SeedDemo #%d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	// A changed demo PIN survives reseeding.
	sup := DemoOperators[2].Operator
	if err := f.l.SetPIN(ctx, sup, "1001", "864213"); err != nil {
		t.Fatal(err)
	}
	f.l.SeedDemo(ctx, dd, DemoOperators)
	for _, d := range DemoOperators {
		pin := d.PIN
		if d.ID == "1001" {
			pin = "864213"
		}
		op, err := f.l.Login(ctx, d.ID, pin)
		if err != nil || op.Role != d.Role {
			t.Errorf("demo %s: %+v, %v", d.ID, op, err)
		}
		if err := app.ValidatePIN(d.PIN); err != nil {
			t.Errorf("demo PIN of %s breaks the PIN rules: %v", d.ID, err)
		}
	}
}

// TestDemoAccountsOnlyInDemoFolders: the demo accounts (public PINs) are
// created only in a locked demo folder holding the ledger, never in a
// production one, and a ledger that has them says so.
func TestDemoAccountsOnlyInDemoFolders(t *testing.T) {
	ctx := context.Background()
	f, prod := newFixtureIn(t, datadir.Production)
	for name, d := range map[string]*datadir.Dir{"production folder": prod, "no folder": nil} {
		if n, err := f.l.SeedDemo(ctx, d, DemoOperators); app.ErrorReason(err) != "demo_accounts_production" || n != 0 {
			t.Errorf("%s: SeedDemo = %d, %v", name, n, err)
		}
	}
	other := openKind(t, t.TempDir(), datadir.Demo)
	if _, err := f.l.SeedDemo(ctx, other, DemoOperators); app.ErrorReason(err) != "demo_accounts_production" {
		t.Errorf("a demo folder that does not hold the ledger: %v", err)
	}
	if ops, _ := f.l.ListOperators(ctx); len(ops) != 0 {
		t.Fatalf("accounts created: %+v", ops)
	}
	// A real account numbered like a demo one is not a demo account.
	if err := f.l.CreateFirstSupervisor(ctx, app.Operator{ID: "9001", DisplayName: "Wang Fang", Role: app.RoleSupervisor}, "480276"); err != nil {
		t.Fatal(err)
	}
	if found, err := f.l.DemoAccounts(ctx, DemoOperators); err != nil || len(found) != 0 {
		t.Fatalf("DemoAccounts on a real account = %v, %v", found, err)
	}

	g, demo := newFixtureIn(t, datadir.Demo)
	if _, err := g.l.SeedDemo(ctx, demo, DemoOperators); err != nil {
		t.Fatal(err)
	}
	found, err := g.l.DemoAccounts(ctx, DemoOperators)
	if err != nil || len(found) != len(DemoOperators) {
		t.Fatalf("DemoAccounts after the seed = %v, %v", found, err)
	}
}
