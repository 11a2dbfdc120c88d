package app_test

import (
	"context"
	"errors"
	"testing"

	"stationdesk/app"
)

// listOutbox is an app.UpgradeOutbox that only lists; Waiting calls
// nothing else.
type listOutbox struct {
	app.UpgradeOutbox
	views []app.PendingView
	err   error
	limit int
}

func (o *listOutbox) ListPending(_ context.Context, limit int) ([]app.PendingView, error) {
	o.limit = limit
	return o.views, o.err
}

type noCentral struct{ app.Central }

type noAudit struct{}

func (noAudit) Append(context.Context, app.AuditEntry) error { return nil }

func newWaitingUpgrades(t *testing.T, o app.UpgradeOutbox) *app.Upgrades {
	t.Helper()
	tok, err := app.NewTokenizer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	u, err := app.NewUpgrades(app.UpgradesConfig{Central: noCentral{}, Outbox: o, Audit: noAudit{}, Tokens: tok})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUpgradesWaiting: only items still waiting for central count; the
// settled ones (confirmed, refused) are the history of the list.
func TestUpgradesWaiting(t *testing.T) {
	ctx := context.Background()
	o := &listOutbox{views: []app.PendingView{
		{Key: "a", State: app.PendingWaiting},
		{Key: "b", State: app.PendingConfirmed},
		{Key: "c", State: app.PendingWaiting},
		{Key: "d", State: app.PendingRefused},
	}}
	n, err := newWaitingUpgrades(t, o).Waiting(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Waiting = %d, %v; want 2", n, err)
	}
	if o.limit != 1000 {
		t.Errorf("listed with limit %d, want 1000", o.limit)
	}

	o.err = errors.New("pending.db: disk I/O error")
	if _, err := newWaitingUpgrades(t, o).Waiting(ctx); !errors.Is(err, o.err) {
		t.Errorf("outbox error not passed on: %v", err)
	}

	none, err := newWaitingUpgrades(t, nil).Waiting(ctx)
	if err != nil || none != 0 {
		t.Errorf("no outbox: %d, %v; want 0", none, err)
	}
}
