package upgrades_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/central"
)

// generic are the texts of an unclassified or unexplained failure: a bind
// conflict must never end in them.
var generic = []string{"Internal error", "内部错误", "Central refused this operation", "中心系统拒绝了此操作"}

// saysBoundToOther checks that a refusal says the card is bound to someone
// else and what to do, in both languages.
func saysBoundToOther(t *testing.T, how string, r app.UpgradeResult, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: err %v (%q)", how, err, app.UserMessage(err, app.LangEN))
	}
	ex := r.Explanation
	if r.Outcome != app.UpgradeRefused || r.Reason != string(app.CentralBoundToOther) {
		t.Errorf("%s: %q %q, want refused card_bound_to_other", how, r.Outcome, r.Reason)
	}
	if !strings.Contains(ex.EN, "bound to another person") || !strings.Contains(ex.ZH, "已绑定其他人") ||
		!strings.Contains(ex.NextEN, "unbind") || !strings.Contains(ex.NextZH, "解绑") {
		t.Errorf("%s: explanation %+v does not say what happened and what to do", how, ex)
	}
	for _, g := range generic {
		if strings.Contains(ex.EN+ex.ZH+ex.NextEN+ex.NextZH, g) {
			t.Errorf("%s: generic text %q", how, g)
		}
	}
}

// TestBindConflictSaysWhatHappened: a card bound to another person, refused
// by the real simulator over loopback, comes back as card_bound_to_other
// with its own message on every path that binds: own, proxy, unbind-then-
// bind, and a bind queued offline and refused when central is back.
func TestBindConflictSaysWhatHappened(t *testing.T) {
	e := newEnv(t, envOpt{})
	alice := e.doc(app.DocCNID, docAlice)
	r, err := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: alice, Card: physical(cardBobP1)})
	saysBoundToOther(t, "own", r, err)

	code, err := e.sim.ProxyCode(e.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.up.ProxyUpgrade(e.ctx, e.op, app.ProxyUpgradeRequest{Key: app.NewIdempotencyKey(), Helper: e.doc(app.DocCNID, docHelper),
		Holder: alice, Card: physical(cardBobP1), Code: code})
	saysBoundToOther(t, "proxy", r, err)

	if r, _ := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: alice, Card: physical(cardAliceP1)}); r.Outcome != app.UpgradeBound {
		t.Fatalf("setup bind: %q %q", r.Outcome, r.Reason)
	}
	r, err = e.up.Rebind(e.ctx, e.op, app.RebindInput{UnbindKey: app.NewIdempotencyKey(), BindKey: app.NewIdempotencyKey(),
		Holder: alice, OldCardNumber: cardAliceP1, NewCard: physical(cardBobP1)})
	saysBoundToOther(t, "rebind", r, err)
	if e.boundTo(cardBobP1) != "bob" {
		t.Fatal("the card moved")
	}

	addr := e.sim.Addr()
	e.sim.Stop()
	if r, _ := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: e.doc(app.DocCNID, docGrandma), Card: physical(cardBobP1)}); r.Outcome != app.UpgradePending {
		t.Fatalf("offline bind: %q", r.Outcome)
	}
	if err := e.sim.Start(e.ctx, addr); err != nil {
		t.Fatal(err)
	}
	e.coolBreaker()
	if _, err := e.worker.RunOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	list, err := e.up.Pending(e.ctx, 10)
	if err != nil || len(list) == 0 {
		t.Fatalf("pending: %v %d", err, len(list))
	}
	p := list[0]
	if p.State != app.PendingRefused {
		t.Fatalf("pending %+v", p)
	}
	saysBoundToOther(t, "pending", app.UpgradeResult{Outcome: app.UpgradeRefused, Reason: p.Reason, Explanation: app.ExplainReason(p.Reason)}, nil)
}

// TestUnknownConflictSaysWhatHappened: a 409 whose code this desk does not
// know (a newer central) is the reason "conflict" with its own message,
// not a generic refusal or an internal error.
func TestUnknownConflictSaysWhatHappened(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"code":"card_frozen_by_issuer","message_zh":"x","message_en":"x"}`))
	}))
	defer srv.Close()
	cl, err := central.New(central.Config{BaseURL: srv.URL, StationToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = cl.Bind(ctx, app.NewIdempotencyKey(), app.BindRequest{CardNumber: cardAliceP1, Form: app.FormPhysical,
		Holder: mustDoc(t, app.DocCNID, docAlice), Operator: "2001"})
	if app.ErrorCode(err) != app.CodeConflict || app.ErrorReason(err) != string(app.CentralConflict) {
		t.Fatalf("got %v (%s/%s), want conflict/conflict", err, app.ErrorCode(err), app.ErrorReason(err))
	}
	ex := app.ExplainReason(app.ErrorReason(err))
	for _, g := range generic {
		if strings.Contains(ex.EN+ex.ZH+app.UserMessage(err, app.LangEN)+app.UserMessage(err, app.LangZH), g) {
			t.Errorf("generic text %q", g)
		}
	}
	if !strings.Contains(ex.NextEN, "Look the card up") || !strings.Contains(ex.NextZH, "查询此卡") {
		t.Errorf("no next step: %+v", ex)
	}
}
