package upgrades_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/sim/centralsim"
)

func physical(n string) app.Card {
	return app.Card{Number: n, Kind: app.CardOrdinary, Form: app.FormPhysical}
}

// TestUpgradeRules runs every binding rule through the use case, the resty
// client and the simulator over loopback HTTP.
func TestUpgradeRules(t *testing.T) {
	type step func(e *env) (app.UpgradeResult, error)
	own := func(doc app.DocType, raw string, c app.Card) step {
		return func(e *env) (app.UpgradeResult, error) {
			return e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: e.doc(doc, raw), Card: c})
		}
	}
	proxy := func(holder string, c app.Card, code string) step {
		return func(e *env) (app.UpgradeResult, error) {
			if code == "" {
				var err error
				if code, err = e.sim.ProxyCode(e.ctx, holder); err != nil {
					t.Fatal(err)
				}
			}
			raw := map[string]string{"alice": docAlice, "grandma": docGrandma, "bob": docBob}[holder]
			return e.up.ProxyUpgrade(e.ctx, e.op, app.ProxyUpgradeRequest{Key: app.NewIdempotencyKey(),
				Helper: e.doc(app.DocCNID, docHelper), Holder: e.doc(app.DocCNID, raw), Card: c, Code: code})
		}
	}
	tests := []struct {
		name    string
		setup   []step
		do      step
		outcome app.UpgradeOutcome
		reason  string
		check   func(t *testing.T, e *env, r app.UpgradeResult)
	}{
		{name: "OwnPhysicalBound", do: own(app.DocCNID, docAlice, physical(cardAliceP1)), outcome: app.UpgradeBound,
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if e.boundTo(cardAliceP1) != "alice" || r.Binding.CardMasked != "************0001" || r.Binding.Form != app.FormPhysical {
					t.Errorf("binding %+v, bound to %q", r.Binding, e.boundTo(cardAliceP1))
				}
			}},
		{name: "OwnNFCBoundBesidePhysical", setup: []step{own(app.DocCNID, docAlice, physical(cardAliceP1))},
			do: own(app.DocCNID, docAlice, app.Card{Number: cardAliceN1, Form: app.FormNFC}), outcome: app.UpgradeBound,
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if r.Binding.Form != app.FormNFC || e.bindings() != 3 { // bob's + alice's two (+ grandma's special)
					t.Logf("bindings=%d", e.bindings())
				}
				if e.boundTo(cardAliceN1) != "alice" {
					t.Error("NFC card not bound")
				}
			}},
		{name: "ThirdBindingLimitReached", setup: []step{own(app.DocCNID, docAlice, physical(cardAliceP1))},
			do: own(app.DocCNID, docAlice, physical(cardAliceP2)), outcome: app.UpgradeRefused, reason: "limit_reached",
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if len(r.Existing) != 1 || r.Existing[0].CardMasked != "************0001" {
					t.Errorf("existing = %+v, want the bound card to offer unbind-then-bind", r.Existing)
				}
				if e.boundTo(cardAliceP2) != "" {
					t.Error("second physical card bound")
				}
			}},
		{name: "CardBoundToOther", do: own(app.DocCNID, docAlice, physical(cardBobP1)), outcome: app.UpgradeRefused, reason: "card_bound_to_other",
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if e.boundTo(cardBobP1) != "bob" {
					t.Error("card moved to another person")
				}
			}},
		{name: "AlreadyBoundToSelf", do: own(app.DocCNID, docBob, physical(cardBobP1)), outcome: app.UpgradeAlready},
		{name: "UnionPayRefusedAtDesk", do: own(app.DocCNID, docAlice, app.Card{Number: cardAliceUP, Kind: app.CardUnionPay}), outcome: app.UpgradeRefused, reason: "card_not_upgradeable",
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if r.Explanation.NextEN == "" || r.Explanation.NextZH == "" {
					t.Error("no alternative offered")
				}
			}},
		{name: "UnionPayTypedRefusedByCentral", do: own(app.DocCNID, docAlice, app.Card{Number: cardAliceUP}), outcome: app.UpgradeRefused, reason: "card_not_upgradeable"},
		{name: "SpecialCardAuto", do: own(app.DocCNID, docGrandma, app.Card{Number: cardGrandmaSpec, Kind: app.CardSpecialElder}), outcome: app.UpgradeAuto},
		{name: "SpecialCardTypedAutoFromCentral", do: own(app.DocCNID, docGrandma, app.Card{Number: cardGrandmaSpec}), outcome: app.UpgradeAuto},
		{name: "SpecialHolderMayAddOrdinary", do: own(app.DocCNID, docGrandma, physical(cardGrandmaP1)), outcome: app.UpgradeBound},
		{name: "UnionCardAcceptedPassport", do: own(app.DocPassport, docVisitor, app.Card{Number: cardVisitorU, Kind: app.CardUnion}), outcome: app.UpgradeBound,
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if r.HolderDocMasked != "GBR 1******89" {
					t.Errorf("holder masked %q", r.HolderDocMasked)
				}
			}},
		{name: "UnknownCard", do: own(app.DocCNID, docAlice, physical("9999999999999999")), outcome: app.UpgradeRefused, reason: "not_found"},
		{name: "InvalidCardNumber", do: own(app.DocCNID, docAlice, physical("12AB!?")), outcome: app.UpgradeRefused, reason: "invalid_card_number"},
		{name: "NoDocument", do: func(e *env) (app.UpgradeResult, error) {
			return e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Card: physical(cardAliceP1)})
		}, outcome: app.UpgradeRefused, reason: "invalid_document"},
		{name: "ProxyBound", do: proxy("grandma", physical(cardGrandmaP1), ""), outcome: app.UpgradeBound,
			check: func(t *testing.T, e *env, r app.UpgradeResult) {
				if r.ProxyUsed != 1 || r.ProxyLimit != 5 || e.boundTo(cardGrandmaP1) != "grandma" {
					t.Errorf("proxy used %d/%d, bound to %q", r.ProxyUsed, r.ProxyLimit, e.boundTo(cardGrandmaP1))
				}
			}},
		{name: "ProxyWrongCode", do: proxy("grandma", physical(cardGrandmaP1), "000000"), outcome: app.UpgradeRefused, reason: "code_mismatch"},
		{name: "ProxyMalformedCode", do: proxy("grandma", physical(cardGrandmaP1), "12a"), outcome: app.UpgradeRefused, reason: "invalid_code"},
		{name: "ProxyHolderWithoutPhone", do: func(e *env) (app.UpgradeResult, error) {
			return e.up.ProxyUpgrade(e.ctx, e.op, app.ProxyUpgradeRequest{Key: app.NewIdempotencyKey(), Helper: e.doc(app.DocCNID, docHelper),
				Holder: e.doc(app.DocPassport, docVisitor), Card: app.Card{Number: cardVisitorU}, Code: "123456"})
		}, outcome: app.UpgradeRefused, reason: "code_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpt{})
			for i, s := range tc.setup {
				if r, err := s(e); err != nil || (r.Outcome != app.UpgradeBound && r.Outcome != app.UpgradeUnbound) {
					t.Fatalf("setup %d: %v %+v", i, err, r)
				}
			}
			before := len(e.audit.list())
			r, err := tc.do(e)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if r.Outcome != tc.outcome || (tc.reason != "" && r.Reason != tc.reason) {
				t.Fatalf("outcome %q reason %q, want %q %q", r.Outcome, r.Reason, tc.outcome, tc.reason)
			}
			if r.Explanation.ZH == "" || r.Explanation.EN == "" {
				t.Error("result without a bilingual message")
			}
			if got := len(e.audit.list()) - before; got != 1 {
				t.Errorf("%d audit entries for one action, want 1", got)
			}
			if tc.check != nil {
				tc.check(t, e, r)
			}
		})
	}
}

// TestSixthProxyBindingRefused: a helper may upgrade 5 cards for others.
func TestSixthProxyBindingRefused(t *testing.T) {
	e := newEnv(t, envOpt{})
	helper := e.doc(app.DocCNID, docHelper)
	var holders []centralsim.Rider
	for i := range 6 {
		holders = append(holders, centralsim.Rider{Key: fmt.Sprintf("h%d", i), Doc: e.doc(app.DocCNID, cnid(fmt.Sprintf("1101051970010100%d", i))),
			Phone: fmt.Sprintf("1390000000%d", i), Cards: []centralsim.RiderCard{{Card: physical(fmt.Sprintf("500000000000000%d", i))}}})
	}
	if err := e.sim.AddRiders(e.ctx, holders); err != nil {
		t.Fatal(err)
	}
	for i, h := range holders {
		code, _ := e.sim.ProxyCode(e.ctx, h.Key)
		r, err := e.up.ProxyUpgrade(e.ctx, e.op, app.ProxyUpgradeRequest{Key: app.NewIdempotencyKey(), Helper: helper, Holder: h.Doc, Card: h.Cards[0].Card, Code: code})
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			if r.Outcome != app.UpgradeBound || r.ProxyUsed != i+1 {
				t.Fatalf("proxy %d: %q used %d", i+1, r.Outcome, r.ProxyUsed)
			}
			continue
		}
		if r.Outcome != app.UpgradeRefused || r.Reason != "proxy_limit_reached" || r.ProxyUsed != 5 || r.ProxyLimit != 5 {
			t.Fatalf("sixth: %q %q used %d/%d", r.Outcome, r.Reason, r.ProxyUsed, r.ProxyLimit)
		}
		if e.boundTo(h.Cards[0].Card.Number) != "" {
			t.Fatal("sixth card bound")
		}
	}
	used, limit, err := e.up.HelperQuota(e.ctx, helper)
	if err != nil || used != 5 || limit != 5 {
		t.Fatalf("quota %d/%d %v", used, limit, err)
	}
}

// TestUnbindAndRebind: limit reached → unbind-then-bind.
func TestUnbindAndRebind(t *testing.T) {
	e := newEnv(t, envOpt{})
	alice := e.doc(app.DocCNID, docAlice)
	if r, _ := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: alice, Card: physical(cardAliceP1)}); r.Outcome != app.UpgradeBound {
		t.Fatal(r.Outcome)
	}
	r, err := e.up.Rebind(e.ctx, e.op, app.RebindInput{UnbindKey: app.NewIdempotencyKey(), BindKey: app.NewIdempotencyKey(), Holder: alice,
		OldCardNumber: cardAliceP1, NewCard: physical(cardAliceP2)})
	if err != nil || r.Outcome != app.UpgradeBound {
		t.Fatalf("rebind: %v %q %q", err, r.Outcome, r.Reason)
	}
	if e.boundTo(cardAliceP1) != "" || e.boundTo(cardAliceP2) != "alice" {
		t.Fatalf("after rebind P1→%q P2→%q", e.boundTo(cardAliceP1), e.boundTo(cardAliceP2))
	}
	pb, err := e.up.Bindings(e.ctx, alice)
	if err != nil || len(pb.Bindings) != 1 || pb.Bindings[0].CardMasked != "************0002" {
		t.Fatalf("bindings %+v %v", pb, err)
	}
	t.Run("UnbindByOtherPersonRefused", func(t *testing.T) {
		r, err := e.up.Unbind(e.ctx, e.op, app.UnbindInput{Key: app.NewIdempotencyKey(), Holder: e.doc(app.DocCNID, docBob), CardNumber: cardAliceP2})
		if err != nil || r.Outcome != app.UpgradeRefused || r.Reason != "card_bound_to_other" || e.boundTo(cardAliceP2) != "alice" {
			t.Fatalf("%v %q %q", err, r.Outcome, r.Reason)
		}
	})
	t.Run("UnbindNotBound", func(t *testing.T) {
		r, _ := e.up.Unbind(e.ctx, e.op, app.UnbindInput{Key: app.NewIdempotencyKey(), Holder: alice, CardNumber: cardAliceP1})
		if r.Outcome != app.UpgradeRefused || r.Reason != "not_found" {
			t.Fatalf("%q %q", r.Outcome, r.Reason)
		}
	})
	t.Run("UnbindSpecialRefused", func(t *testing.T) {
		r, _ := e.up.Unbind(e.ctx, e.op, app.UnbindInput{Key: app.NewIdempotencyKey(), Holder: e.doc(app.DocCNID, docGrandma), CardNumber: cardGrandmaSpec})
		if r.Outcome != app.UpgradeRefused || r.Reason != "special_card_auto" || e.boundTo(cardGrandmaSpec) != "grandma" {
			t.Fatalf("%q %q", r.Outcome, r.Reason)
		}
	})
}

// TestLookUpCard: a worn card's number is shown from the read, with
// central's status, and also when central is down.
func TestLookUpCard(t *testing.T) {
	e := newEnv(t, envOpt{})
	l, err := e.up.LookUpCard(e.ctx, e.op, app.Card{Number: cardBobP1, Kind: app.CardOrdinary})
	if err != nil || !l.Known || !l.Bound || l.Grouped != "1000 0000 0000 0011" || l.HolderDocMasked != "4**************"+docBob[15:] {
		t.Fatalf("%+v %v", l, err)
	}
	l, err = e.up.LookUpCard(e.ctx, e.op, app.Card{Number: cardAliceUP})
	if err != nil || l.Upgradeable || l.Kind != app.CardUnionPay || l.Explanation.NextEN == "" {
		t.Fatalf("unionpay: %+v %v", l, err)
	}
	e.sim.Stop()
	l, err = e.up.LookUpCard(e.ctx, e.op, app.Card{Number: cardAliceP1})
	if err != nil || l.Known || l.Number != cardAliceP1 || l.Reason != "offline" {
		t.Fatalf("offline: %+v %v", l, err)
	}
	if _, err := e.up.LookUpCard(e.ctx, e.op, app.Card{Number: "x"}); app.ErrorCode(err) != app.CodeInvalid {
		t.Fatalf("bad number: %v", err)
	}
	if n := e.audit.count(app.ActCardLookup, app.OutcomeSuccess); n != 3 {
		t.Fatalf("%d look-ups audited, want 3", n)
	}
}

// TestFaults covers the central link failing in each way the issue lists.
// Every case ends with exactly one binding of the card.
func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     centralsim.Faults
		stop       bool // central down for the whole flow
		timeout    time.Duration
		outcome    app.UpgradeOutcome
		reason     string
		wantStatus app.State
	}{
		{name: "500Then200", faults: centralsim.Faults{FailNext: 1}, outcome: app.UpgradeBound, wantStatus: app.StateReady},
		{name: "500Twice200", faults: centralsim.Faults{FailNext: 2}, outcome: app.UpgradeBound, wantStatus: app.StateReady},
		{name: "429ThenOK", faults: centralsim.Faults{RateLimitNext: 1}, outcome: app.UpgradeBound, wantStatus: app.StateReady},
		{name: "DropAfterCommitRetriedSameKey", faults: centralsim.Faults{DropAfterCommitNext: 1}, outcome: app.UpgradeBound, wantStatus: app.StateReady},
		{name: "TruncatedJSONPending", faults: centralsim.Faults{TruncateNext: 1}, outcome: app.UpgradePending, reason: "outcome_unknown", wantStatus: app.StateDegraded},
		{name: "TimeoutPending", faults: centralsim.Faults{Latency: 600 * time.Millisecond}, timeout: 300 * time.Millisecond, outcome: app.UpgradePending, reason: "outcome_unknown", wantStatus: app.StateDegraded},
		{name: "500AlwaysPending", faults: centralsim.Faults{FailNext: 100}, outcome: app.UpgradePending, reason: "outcome_unknown", wantStatus: app.StateDegraded},
		{name: "OutagePending", faults: centralsim.Faults{Outage: true}, outcome: app.UpgradePending, reason: "outcome_unknown", wantStatus: app.StateDegraded},
		{name: "DownWholeFlowPending", stop: true, outcome: app.UpgradePending, reason: "offline", wantStatus: app.StateDegraded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpt{callTimeout: tc.timeout})
			addr := e.sim.Addr()
			if tc.stop {
				e.sim.Stop()
			}
			e.sim.SetFaults(tc.faults)
			key := app.NewIdempotencyKey()
			r, err := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: key, Holder: e.doc(app.DocCNID, docAlice), Card: physical(cardAliceP1)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != tc.outcome || (tc.reason != "" && r.Reason != tc.reason) {
				t.Fatalf("outcome %q reason %q, want %q %q", r.Outcome, r.Reason, tc.outcome, tc.reason)
			}
			if st := e.board.Get(app.CompCentral).State; st != tc.wantStatus {
				t.Errorf("status bar shows central %q, want %q", st, tc.wantStatus)
			}
			if tc.outcome == app.UpgradePending {
				if r.Explanation.NextEN == "" {
					t.Error("pending result without 'will complete when the link returns'")
				}
				list, _ := e.up.Pending(e.ctx, 10)
				if len(list) != 1 || list[0].State != app.PendingWaiting || list[0].Key != key {
					t.Fatalf("pending list %+v", list)
				}
				if e.audit.count(app.ActCardBindQueued, app.OutcomeSuccess) != 1 {
					t.Error("queued bind not audited")
				}
				// Still down: the worker keeps the item.
				if !tc.stop && tc.faults.TruncateNext == 0 {
					if n, err := e.worker.RunOnce(e.ctx); n != 0 || err == nil {
						t.Fatalf("worker while down: settled %d err %v", n, err)
					}
				}
				if tc.stop {
					if n, _ := e.worker.RunOnce(e.ctx); n != 0 {
						t.Fatal("settled while central is down")
					}
					if err := e.sim.Start(e.ctx, addr); err != nil {
						t.Fatal(err)
					}
				}
				e.sim.SetFaults(centralsim.Faults{})
				e.coolBreaker()
				n, err := e.worker.RunOnce(e.ctx)
				if err != nil || n != 1 {
					t.Fatalf("worker after recovery: settled %d, %v", n, err)
				}
				if n, _ := e.worker.RunOnce(e.ctx); n != 0 {
					t.Fatal("settled twice")
				}
				list, _ = e.up.Pending(e.ctx, 10)
				if list[0].State != app.PendingConfirmed {
					t.Fatalf("pending item %q after recovery", list[0].State)
				}
				if e.audit.count(app.ActCardBind, app.OutcomeSuccess) != 1 {
					t.Error("completed bind not audited once")
				}
				if e.board.Get(app.CompCentral).State != app.StateReady {
					t.Error("status bar still not ready")
				}
			}
			if got := e.boundTo(cardAliceP1); got != "alice" {
				t.Fatalf("card bound to %q", got)
			}
			if n := e.bindings(); n != 3 { // bob's, grandma's special, alice's new
				t.Fatalf("%d bindings, want 3 (exactly one new)", n)
			}
		})
	}
}

// TestDoubleClick: two confirms with the key created when the form opened,
// at the same time → one binding, the same result twice.
func TestDoubleClick(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.sim.SetFaults(centralsim.Faults{Latency: 50 * time.Millisecond})
	key := app.NewIdempotencyKey()
	req := app.UpgradeRequest{Key: key, Holder: e.doc(app.DocCNID, docAlice), Card: physical(cardAliceP1)}
	var wg sync.WaitGroup
	res := make([]app.UpgradeResult, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.up.Upgrade(e.ctx, e.op, req)
			if err != nil {
				t.Error(err)
			}
			res[i] = r
		}()
	}
	wg.Wait()
	if res[0].Outcome != app.UpgradeBound || res[1].Outcome != app.UpgradeBound {
		t.Fatalf("outcomes %q %q", res[0].Outcome, res[1].Outcome)
	}
	if e.bindings() != 3 || e.audit.count(app.ActCardBind, app.OutcomeSuccess) != 1 {
		t.Fatalf("bindings %d, audited %d", e.bindings(), e.audit.count(app.ActCardBind, app.OutcomeSuccess))
	}
	// A second desk process (no shared memory) sending the same key at
	// once: central's idempotency keeps one binding.
	key2 := app.NewIdempotencyKey()
	breq := app.BindRequest{CardNumber: cardAliceN1, Form: app.FormNFC, Holder: e.doc(app.DocCNID, docAlice), Operator: "2001"}
	errs := make([]error, 8)
	out := make([]app.BindResult, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = e.client.Bind(e.ctx, key2, breq)
		}()
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil || out[i].Already || out[i].Binding.CardMasked != "************0001" {
			t.Fatalf("concurrent bind %d: %v %+v", i, errs[i], out[i])
		}
	}
	if e.bindings() != 4 {
		t.Fatalf("%d bindings, want 4", e.bindings())
	}
	// Same key, different body: refused, nothing bound.
	breq.CardNumber = cardAliceP2
	if _, err := e.client.Bind(e.ctx, key2, breq); app.ErrorReason(err) != "idempotency_conflict" {
		t.Fatalf("same key other body: %v", err)
	}
}

// TestPendingRebindOrder: central down during unbind-then-bind → both
// queued, completed in order when the link returns.
func TestPendingRebindOrder(t *testing.T) {
	e := newEnv(t, envOpt{})
	alice := e.doc(app.DocCNID, docAlice)
	if r, _ := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: alice, Card: physical(cardAliceP1)}); r.Outcome != app.UpgradeBound {
		t.Fatal(r.Outcome)
	}
	addr := e.sim.Addr()
	e.sim.Stop()
	r, err := e.up.Rebind(e.ctx, e.op, app.RebindInput{UnbindKey: app.NewIdempotencyKey(), BindKey: app.NewIdempotencyKey(), Holder: alice, OldCardNumber: cardAliceP1, NewCard: physical(cardAliceP2)})
	if err != nil || r.Outcome != app.UpgradePending {
		t.Fatalf("%v %q", err, r.Outcome)
	}
	if err := e.sim.Start(e.ctx, addr); err != nil {
		t.Fatal(err)
	}
	e.coolBreaker()
	if n, err := e.worker.RunOnce(e.ctx); n != 2 || err != nil {
		t.Fatalf("settled %d %v", n, err)
	}
	if e.boundTo(cardAliceP1) != "" || e.boundTo(cardAliceP2) != "alice" {
		t.Fatal("rebind not completed in order")
	}
	list, _ := e.up.Pending(e.ctx, 10)
	states := []app.PendingState{list[0].State, list[1].State}
	if !slices.Equal(states, []app.PendingState{app.PendingConfirmed, app.PendingConfirmed}) {
		t.Fatalf("states %v", states)
	}
}

// TestPendingRefusedLater: queued while down, refused by central later
// (limit reached) → settled as refused, audited as denied, not retried.
func TestPendingRefusedLater(t *testing.T) {
	e := newEnv(t, envOpt{})
	addr := e.sim.Addr()
	e.sim.Stop()
	r, _ := e.up.Upgrade(e.ctx, e.op, app.UpgradeRequest{Key: app.NewIdempotencyKey(), Holder: e.doc(app.DocCNID, docAlice), Card: physical(cardBobP1)})
	if r.Outcome != app.UpgradePending {
		t.Fatal(r.Outcome)
	}
	if err := e.sim.Start(e.ctx, addr); err != nil {
		t.Fatal(err)
	}
	e.coolBreaker()
	if n, err := e.worker.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	list, _ := e.up.Pending(e.ctx, 10)
	if list[0].State != app.PendingRefused || list[0].Reason != "card_bound_to_other" {
		t.Fatalf("%+v", list[0])
	}
	if e.audit.count(app.ActCardBind, app.OutcomeDenied) != 1 {
		t.Fatal("refusal not audited")
	}
}

// TestPIIScanCatchesLeak proves the scan that guards every test can fail.
func TestPIIScanCatchesLeak(t *testing.T) {
	e := newEnv(t, envOpt{})
	if l := e.leaks(); len(l) != 0 {
		t.Fatalf("clean env leaks: %v", l)
	}
	e.logs.Write([]byte("oops " + docGrandma))
	if l := e.leaks(); len(l) == 0 {
		t.Fatal("scan missed a full ID number in the logs")
	}
	e.logs.mu.Lock()
	e.logs.b.Reset()
	e.logs.mu.Unlock()
	e.audit.mu.Lock()
	e.audit.entries = append(e.audit.entries, app.AuditEntry{Detail: nameBob})
	e.audit.mu.Unlock()
	if l := e.leaks(); len(l) == 0 {
		t.Fatal("scan missed a name in the audit")
	}
	e.audit.mu.Lock()
	e.audit.entries = nil
	e.audit.mu.Unlock()
}
