package upgrades_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/upgrades"
	"stationdesk/offline/sim/centralsim"
)

// folderEnv is a data folder as the desk keeps it: ledger.db (the audit
// log of the upgrade use case) and pending.db beside it under one station
// key file, central the real simulator on loopback.
type folderEnv struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	keys   *ledger.Keys
	l      *ledger.Ledger
	ob     *upgrades.Outbox
	up     *app.Upgrades
	worker *upgrades.Worker
	sim    *centralsim.Server
	clock  *app.FakeClock
}

func newFolderEnv(t *testing.T) *folderEnv {
	t.Helper()
	ctx := context.Background()
	f := &folderEnv{t: t, ctx: ctx, dir: t.TempDir(), clock: app.NewFakeClock(time.Now())}
	var err error
	if f.keys, err = ledger.LoadOrCreateKeys(f.dir); err != nil {
		t.Fatal(err)
	}
	f.sim, err = centralsim.New(centralsim.Config{DataDir: t.TempDir(), NoDemo: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sim.Close() })
	if err := f.sim.AddRiders(ctx, testRiders(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.sim.Stop)
	f.open()
	t.Cleanup(f.close)
	return f
}

func (f *folderEnv) open() {
	t := f.t
	var err error
	if f.l, err = ledger.Open(f.ctx, filepath.Join(f.dir, ledger.FileName), f.keys, ledger.Options{KDF: ledger.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}}); err != nil {
		t.Fatal(err)
	}
	if f.ob, err = upgrades.OpenOutbox(f.ctx, filepath.Join(f.dir, upgrades.FileName), upgrades.OutboxOptions{Sealer: f.keys, MACKey: f.keys.PendingKey(), Clock: f.clock}); err != nil {
		t.Fatal(err)
	}
	cl, err := central.New(central.Config{BaseURL: "http://" + f.sim.Addr(), StationToken: centralsim.DefaultStationToken,
		CallTimeout: time.Second, MaxRetries: -1, BreakerCooldown: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := app.NewTokenizer(f.keys.Index[:])
	if err != nil {
		t.Fatal(err)
	}
	if f.up, err = app.NewUpgrades(app.UpgradesConfig{Central: cl, Outbox: f.ob, Audit: f.l, Tokens: tok}); err != nil {
		t.Fatal(err)
	}
	if f.worker, err = upgrades.New(upgrades.Config{Outbox: f.ob, Completer: f.up, RetryMin: time.Millisecond, RetryMax: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

func (f *folderEnv) close() {
	if f.ob != nil {
		f.ob.Close()
		f.ob = nil
	}
	if f.l != nil {
		f.l.Close()
		f.l = nil
	}
}

// verify is what `stationdesk audit verify` runs on the pending store: the
// ledger's claims read from the file, then pending.db against them.
func verify(t *testing.T, dir string, keys *ledger.Keys) []app.AuditProblem {
	t.Helper()
	ctx := context.Background()
	entries, err := ledger.FolderEntries(ctx, dir, app.ActCardBindQueued, app.ActCardUnbindQueue, app.ActCardBind, app.ActCardUnbind)
	if err != nil {
		t.Fatal(err)
	}
	var claims []upgrades.LedgerClaim
	for _, e := range entries {
		if c, ok := upgrades.ClaimOf(e.Seq, e.Action, e.Outcome, e.Detail); ok {
			claims = append(claims, c)
		}
	}
	_, probs, err := upgrades.VerifyFolder(ctx, dir, keys.PendingKey(), claims)
	if err != nil {
		t.Fatal(err)
	}
	return probs
}

// copyFolder copies the closed data folder's files into a new one.
func copyFolder(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sqliteExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func has(probs []app.AuditProblem, reason, record string) bool {
	for _, p := range probs {
		if p.Reason == reason && p.Table == upgrades.Table && p.Record == record {
			return true
		}
	}
	return false
}

// TestPendingTamperDetected: two binds queued while central is
// down verify; each edit or deletion of a queued item made with sqlite is
// found and named (table "pending", the item's key); so is a settled item
// put back to waiting from an older copy of pending.db. A purge, an item
// the ledger has not named yet (a power cut between the two commits) and
// the settling itself are not flagged.
func TestPendingTamperDetected(t *testing.T) {
	f := newFolderEnv(t)
	op := app.Operator{ID: "2001", Role: app.RoleAssistant}
	addr := f.sim.Addr()
	f.sim.Stop()
	bind, err := f.up.Upgrade(f.ctx, op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: mustDoc(t, app.DocCNID, docAlice), Card: physical(cardAliceP1)})
	if err != nil || bind.Outcome != app.UpgradePending {
		t.Fatalf("bind while central is down: %q %v", bind.Outcome, err)
	}
	second, err := f.up.Upgrade(f.ctx, op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: mustDoc(t, app.DocCNID, docBob), Card: physical(cardBobP1)})
	if err != nil || second.Outcome != app.UpgradePending {
		t.Fatalf("second item while central is down: %q %v", second.Outcome, err)
	}
	// Saved to pending.db, but the power went before the ledger named it.
	orphan := app.NewIdempotencyKey()
	if err := f.ob.SavePending(f.ctx, app.PendingUpgrade{Key: orphan, Kind: app.PendingBind, Operator: "2001", Subject: "card:1000********0021",
		Bind: app.BindRequest{CardNumber: cardGrandmaP1, Form: app.FormPhysical, Holder: mustDoc(t, app.DocCNID, docGrandma), Operator: "2001"}}); err != nil {
		t.Fatal(err)
	}
	f.close()
	if probs := verify(t, f.dir, f.keys); len(probs) != 0 {
		t.Fatalf("an untouched folder: %+v", probs)
	}
	queued := copyFolder(t, f.dir) // pending.db as it was before anything settled

	pend := func(dir string) string { return filepath.Join(dir, upgrades.FileName) }
	for _, tc := range []struct {
		name   string
		tamper func(dir string)
		reason string
		record string
	}{
		{"ErrOperatorEdited", func(d string) {
			sqliteExec(t, pend(d), "UPDATE pending SET operator = '9999' WHERE key = ?", bind.Key)
		}, "record_changed", bind.Key},
		{"ErrSubjectEdited", func(d string) {
			sqliteExec(t, pend(d), "UPDATE pending SET subject = 'card:1000********0099' WHERE key = ?", second.Key)
		}, "record_changed", second.Key},
		{"ErrPayloadErased", func(d string) {
			sqliteExec(t, pend(d), "UPDATE pending SET payload = NULL WHERE key = ?", bind.Key)
		}, "record_changed", bind.Key},
		{"ErrMarkedConfirmed", func(d string) {
			sqliteExec(t, pend(d), "UPDATE pending SET state = 'confirmed', payload = NULL WHERE key = ?", bind.Key)
		}, "record_changed", bind.Key},
		{"ErrDeleted", func(d string) {
			sqliteExec(t, pend(d), "DELETE FROM pending WHERE key = ?", bind.Key)
		}, "record_deleted", bind.Key},
		{"ErrLastDeletedWithHead", func(d string) {
			sqliteExec(t, pend(d), "DELETE FROM pending WHERE key = ?", second.Key)
			sqliteExec(t, pend(d), "UPDATE pending SET id = id - 1 WHERE key = ?", orphan)
			sqliteExec(t, pend(d), "DELETE FROM pending_head")
		}, "record_deleted", second.Key},
		{"ErrAllWiped", func(d string) {
			sqliteExec(t, pend(d), "DELETE FROM pending")
			sqliteExec(t, pend(d), "DELETE FROM pending_head")
		}, "record_deleted", bind.Key},
		{"ErrFileRemoved", func(d string) {
			if err := os.Remove(pend(d)); err != nil {
				t.Fatal(err)
			}
		}, "record_deleted", second.Key},
		{"ErrRowInserted", func(d string) {
			sqliteExec(t, pend(d), `INSERT INTO pending(id, key, kind, operator, subject, payload, created, updated, next_try)
				VALUES (99, 'forged-key-1', 'bind', '2001', 'card:x', x'00', 0, 0, 0)`)
		}, "record_unaudited", "forged-key-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := copyFolder(t, queued)
			tc.tamper(d)
			probs := verify(t, d, f.keys)
			if !has(probs, tc.reason, tc.record) {
				t.Fatalf("problems %+v, want %s naming %s", probs, tc.reason, tc.record)
			}
		})
	}
	t.Run("ErrOtherKeyFile", func(t *testing.T) {
		other, err := ledger.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		if probs := verify(t, queued, other); !has(probs, "record_changed", bind.Key) {
			t.Fatalf("checked with another station's key: %+v", probs)
		}
	})

	// Central comes back: the items settle, the ledger names them settled.
	if err := f.sim.Start(f.ctx, addr); err != nil {
		t.Fatal(err)
	}
	f.open()
	for i := 0; ; i++ {
		n, err := f.worker.RunOnce(f.ctx)
		if err == nil && n > 0 {
			break
		}
		if i > 50 {
			t.Fatalf("the pending items never settled: %v", err)
		}
		f.clock.Advance(time.Minute)
	}
	f.close()
	if probs := verify(t, f.dir, f.keys); len(probs) != 0 {
		t.Fatalf("after settling: %+v", probs)
	}
	t.Run("ErrRolledBackFromCopy", func(t *testing.T) {
		d := copyFolder(t, f.dir)
		b, err := os.ReadFile(pend(queued))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(pend(d) + "-wal")
		os.Remove(pend(d) + "-shm")
		if err := os.WriteFile(pend(d), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if probs := verify(t, d, f.keys); !has(probs, "record_changed", bind.Key) {
			t.Fatalf("a settled item waiting again (older pending.db): %+v", probs)
		}
	})
	t.Run("OKPurged", func(t *testing.T) {
		f.open()
		n, err := f.ob.Purge(f.ctx, f.clock.Now().Add(time.Hour))
		f.close()
		if err != nil || n == 0 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if probs := verify(t, f.dir, f.keys); len(probs) != 0 {
			t.Fatalf("after a purge: %+v", probs)
		}
		d := copyFolder(t, f.dir)
		sqliteExec(t, pend(d), "DELETE FROM pending_gone WHERE key = ?", bind.Key)
		if probs := verify(t, d, f.keys); !has(probs, "record_deleted", bind.Key) {
			t.Fatalf("a tombstone deleted: %+v", probs)
		}
	})
}
