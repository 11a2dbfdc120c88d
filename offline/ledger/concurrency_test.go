package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"stationdesk/app"
)

// TestConcurrentWrongPINs checks that parallel wrong PINs are all counted
// (no lost update): of eight at once, four get "bad_pin", the fifth locks
// the account and the rest see the lock.
func TestConcurrentWrongPINs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sup := f.supervisor(t)
	if err := f.l.CreateOperator(ctx, sup, app.Operator{ID: "1001", DisplayName: "甲", Role: app.RoleClerk}, "135790"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	reasons := make([]string, 8)
	for i := range reasons {
		wg.Go(func() {
			_, err := f.l.Login(ctx, "1001", "000001")
			reasons[i] = app.ErrorReason(err)
		})
	}
	wg.Wait()
	bad, locked := 0, 0
	for _, r := range reasons {
		switch r {
		case "bad_pin":
			bad++
		case "locked":
			locked++
		default:
			t.Fatalf("reason %q", r)
		}
	}
	if bad != 4 || locked != 4 {
		t.Fatalf("%d bad_pin and %d locked, want 4 and 4 (the 5th failure locks; later ones see the lock)", bad, locked)
	}
	if _, err := f.l.Login(ctx, "1001", "135790"); app.ErrorReason(err) != "locked" {
		t.Fatalf("right PIN after the parallel failures: %v", err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := f.l.Append(ctx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("g%d-%d", g, i), Outcome: app.OutcomeSuccess}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	res, err := f.l.Verify(ctx)
	if err != nil || !res.OK || res.Entries != 100 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}
