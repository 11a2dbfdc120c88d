package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
)

const personalJSON = `{"id":"11010519491231002X","name":"王小明"}`

func TestOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	item := NewItem{Kind: "sale", Key: "sale-0001", Body: []byte(`{"fare":4,"doc":"tok-abc"}`), Personal: personalJSON}

	t.Run("DoubleEnqueueOneRow", func(t *testing.T) {
		for i, want := range []bool{true, false} {
			created, err := f.l.Enqueue(ctx, item)
			if err != nil || created != want {
				t.Fatalf("Enqueue #%d = %v, %v; want created=%v", i+1, created, err, want)
			}
		}
		var n int
		f.l.db.Read().QueryRow("SELECT count(*) FROM outbox WHERE idem_key = 'sale-0001'").Scan(&n)
		if n != 1 {
			t.Fatalf("rows = %d, want 1", n)
		}
	})
	t.Run("ErrSameKeyOtherBody", func(t *testing.T) {
		other := item
		other.Body = []byte(`{"fare":5}`)
		if _, err := f.l.Enqueue(ctx, other); app.ErrorReason(err) != "idempotency_mismatch" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("PersonalSealedAtRest", func(t *testing.T) {
		f.l.Close()
		f.l = nil
		b, _ := os.ReadFile(f.path)
		wal, _ := os.ReadFile(f.path + "-wal")
		for _, s := range []string{"11010519491231002X", "王小明"} {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(wal, []byte(s)) {
				t.Errorf("%q in clear in the database file", s)
			}
		}
		f.reopen(t)
	})
	t.Run("DueDecrypts", func(t *testing.T) {
		due, err := f.l.Due(ctx, 10)
		if err != nil || len(due) != 1 || due[0].Personal.Reveal() != personalJSON || due[0].State != StatePending {
			t.Fatalf("Due = %+v, %v", due, err)
		}
		if s := fmt.Sprintf("%v %+v", due[0], due[0]); strings.Contains(s, "王小明") || strings.Contains(s, "11010519491231002X") {
			t.Errorf("item prints personal data: %s", s)
		}
	})
	t.Run("SentLeasedThenDueAgain", func(t *testing.T) {
		if err := f.l.MarkSent(ctx, item.Key); err != nil {
			t.Fatal(err)
		}
		if due, _ := f.l.Due(ctx, 10); len(due) != 0 {
			t.Fatalf("sent item due again within its lease")
		}
		f.clock.Advance(time.Minute)
		due, _ := f.l.Due(ctx, 10)
		if len(due) != 1 || due[0].State != StateSent || due[0].Attempts != 1 {
			t.Fatalf("after the lease: %+v", due)
		}
	})
	t.Run("RetryWaits", func(t *testing.T) {
		if err := f.l.MarkRetry(ctx, item.Key, "central_503", f.clock.Now().Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if due, _ := f.l.Due(ctx, 10); len(due) != 0 {
			t.Fatal("due before the retry time")
		}
		f.clock.Advance(30 * time.Second)
		if due, _ := f.l.Due(ctx, 10); len(due) != 1 || due[0].LastError != "central_503" {
			t.Fatalf("after retry time: %+v", due)
		}
	})
	t.Run("ConfirmedDeletesPersonal", func(t *testing.T) {
		if err := f.l.MarkConfirmed(ctx, item.Key); err != nil {
			t.Fatal(err)
		}
		if err := f.l.MarkConfirmed(ctx, item.Key); err != nil {
			t.Fatalf("second confirmation: %v", err)
		}
		var isNull bool
		f.l.db.Read().QueryRow("SELECT personal IS NULL FROM outbox WHERE idem_key = ?", item.Key).Scan(&isNull)
		if !isNull {
			t.Fatal("sealed personal payload kept after confirmation")
		}
		got, err := f.l.Get(ctx, item.Key)
		if err != nil || got.State != StateConfirmed || got.Done.IsZero() || string(got.Body) != string(item.Body) {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if err := f.l.MarkSent(ctx, item.Key); app.ErrorReason(err) != "outbox_state" {
			t.Fatalf("MarkSent on confirmed: %v", err)
		}
		if due, _ := f.l.Due(ctx, 10); len(due) != 0 {
			t.Fatal("confirmed item still due")
		}
	})
	t.Run("FailedAndPendingList", func(t *testing.T) {
		f.l.Enqueue(ctx, NewItem{Kind: "check", Key: "chk-1", Body: []byte(`{}`), Personal: personalJSON})
		f.l.Enqueue(ctx, NewItem{Kind: "sale", Key: "sale-0002", Body: []byte(`{}`)})
		if err := f.l.MarkFailed(ctx, "chk-1", "central_rejected"); err != nil {
			t.Fatal(err)
		}
		p, err := f.l.Pending(ctx)
		if err != nil || len(p) != 2 || p[0].Key != "chk-1" || p[0].State != StateFailed || p[1].Key != "sale-0002" || p[0].Personal != "" {
			t.Fatalf("Pending = %+v, %v", p, err)
		}
		st, _ := f.l.Stats(ctx)
		if st.Pending != 1 || st.Failed != 1 || st.Confirmed != 1 || st.OldestWaiting.IsZero() {
			t.Fatalf("Stats = %+v", st)
		}
	})
	for _, tc := range []struct {
		name   string
		it     NewItem
		reason string
	}{
		{"ErrEmptyKey", NewItem{Kind: "sale", Key: ""}, "outbox_item"},
		{"ErrKeyWithSpace", NewItem{Kind: "sale", Key: "a b"}, "outbox_item"},
		{"ErrNoKind", NewItem{Key: "k"}, "outbox_item"},
		{"ErrIDInBody", NewItem{Kind: "sale", Key: "k2", Body: []byte(`{"id":"11010519491231002X"}`)}, "outbox_pii"},
		{"ErrHugeBody", NewItem{Kind: "sale", Key: "k3", Body: make([]byte, 70<<10)}, "outbox_item"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.l.Enqueue(ctx, tc.it); app.ErrorReason(err) != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
		})
	}
	t.Run("ErrUnknownKey", func(t *testing.T) {
		if err := f.l.MarkConfirmed(ctx, "nope"); app.ErrorCode(err) != app.CodeNotFound {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SwappedCiphertextDoesNotOpen", func(t *testing.T) {
		f.l.Enqueue(ctx, NewItem{Kind: "check", Key: "chk-2", Body: []byte(`{}`), Personal: "other person"})
		f.l.Close()
		f.l = nil
		raw := f.raw(t)
		mustExec(t, raw, "UPDATE outbox SET personal = (SELECT personal FROM outbox WHERE idem_key = 'chk-1') WHERE idem_key = 'chk-2'")
		raw.Close()
		f.reopen(t)
		if _, err := f.l.Due(ctx, 10); app.ErrorReason(err) != "sealed_value" {
			t.Fatalf("Due with a moved ciphertext: %v", err)
		}
	})
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	appendN(t, f, 5) // at t0+1s..5s
	f.l.Enqueue(ctx, NewItem{Kind: "sale", Key: "old", Body: []byte(`{}`)})
	f.l.MarkConfirmed(ctx, "old")
	f.l.Enqueue(ctx, NewItem{Kind: "sale", Key: "bad", Body: []byte(`{}`), Personal: "p"})
	f.l.MarkFailed(ctx, "bad", "rejected")
	f.l.Enqueue(ctx, NewItem{Kind: "sale", Key: "waiting", Body: []byte(`{}`)})
	// Each enqueue is covered by an entry of its own (ledger.record): 6, 7, 8.

	f.clock.Set(t0.AddDate(1, 0, 0))
	appendN(t, f, 2) // young entries 9, 10

	t.Run("NothingYet", func(t *testing.T) {
		rep, err := f.l.Purge(ctx, t0.Add(29*24*time.Hour))
		if err != nil || rep != (PurgeReport{}) {
			t.Fatalf("Purge = %+v, %v", rep, err)
		}
	})
	t.Run("OutboxAfter30Days", func(t *testing.T) {
		rep, err := f.l.Purge(ctx, t0.Add(31*24*time.Hour))
		if err != nil || rep.ConfirmedDeleted != 1 || rep.FailedPayloadsWiped != 1 || rep.FailedDeleted != 0 || rep.AuditEntries != 0 {
			t.Fatalf("Purge = %+v, %v", rep, err)
		}
		if _, err := f.l.Get(ctx, "old"); app.ErrorCode(err) != app.CodeNotFound {
			t.Error("confirmed item not deleted")
		}
		if _, err := f.l.Get(ctx, "waiting"); err != nil {
			t.Error("pending item purged")
		}
	})
	t.Run("AuditAfter3Years", func(t *testing.T) {
		rep, err := f.l.Purge(ctx, t0.AddDate(3, 0, 1))
		if err != nil || rep.AuditEntries != 8 || rep.AuditAnchor != 8 || rep.FailedDeleted != 1 {
			t.Fatalf("Purge = %+v, %v", rep, err)
		}
		res, err := f.l.Verify(ctx)
		// 9, 10, the two purge entries remain; the waiting item's hash was
		// carried forward by the purge entry
		if err != nil || !res.OK || res.Entries != 4 {
			t.Fatalf("Verify after purge = %+v, %v", res, err)
		}
		appendN(t, f, 1)
		if res, _ := f.l.Verify(ctx); !res.OK {
			t.Fatalf("Verify after purge and append = %+v", res)
		}
		ent, _ := f.l.List(ctx, app.AuditFilter{Action: app.ActRetentionPurge})
		if len(ent) != 2 || !strings.Contains(ent[0].Detail, "audit=8") {
			t.Fatalf("purge audit entries = %+v", ent)
		}
	})
}
