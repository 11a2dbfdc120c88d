package gatesim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/offline/ledger"
	"stationdesk/offline/sim/centralsim"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/verify"
)

type demoRig struct {
	cs   *centralsim.Server
	st   *verify.Station
	gate *gatesim.DemoGate
}

// newDemoRig runs the demo-mode chain on loopback: the central simulator
// with the demo riders and sync, the station's verify service synced from
// it (first sync awaited), and the simulated gate commissioned on it.
func newDemoRig(t *testing.T, mode app.GateMode) *demoRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	cs, err := centralsim.New(centralsim.Config{DataDir: filepath.Join(dir, "central-sim")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.EnableSync(ctx, syncpub.DemoKeys()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte(centralsim.DefaultStationToken), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	sc := verify.ServeConfig{DataDir: dir, Listen: "127.0.0.1:0", Mode: mode, StationID: "st-demo"}
	sc.Central.URL, sc.Central.TokenFile = cs.URL(), tf
	st, err := verify.Start(ctx, sc, verify.Deps{PinnedKey: syncpub.DemoKeys().ManifestPublic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		st.Stop()
		cs.Stop()
		cs.Close()
	})
	for deadline := time.Now().Add(60 * time.Second); st.Cache.Freshness().FreshAsOf.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("no first sync within 60 s")
		}
		time.Sleep(50 * time.Millisecond) // poll interval; the deadline decides
	}
	g, err := gatesim.NewDemoGate(ctx, "http://"+st.Addr.String(), st.Server, cs.RideQRFunc(syncpub.DemoKeys()), gatesim.DemoGateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &demoRig{cs: cs, st: st, gate: g}
}

type want struct {
	d app.GateDecision
	r app.GateReason
}

// rawQR is the enforce-mode answer to each demo rider's fresh ride code
// (demo.go: colour and test age per rider; NAT window 48 h).
var rawQR = map[string]want{
	"green-fresh":      {app.DecisionAllow, app.ReasonOK},
	"green-72h":        {app.DecisionDeny, app.ReasonTestTooOld},
	"yellow":           {app.DecisionDeny, app.ReasonCodeYellow},
	"red":              {app.DecisionDeny, app.ReasonCodeRed},
	"visitor-shanghai": {app.DecisionManual, app.ReasonNoHealthAccount},
	"elder-special":    {app.DecisionAllow, app.ReasonOK},
	"student":          {app.DecisionAllow, app.ReasonOK},
	"passport-gbr":     {app.DecisionAllow, app.ReasonOK},
	"hk-resident":      {app.DecisionAllow, app.ReasonOK},
	"tw-resident":      {app.DecisionAllow, app.ReasonOK},
	"foreigner-2023":   {app.DecisionAllow, app.ReasonOK},
	"foreigner-2017":   {app.DecisionAllow, app.ReasonOK},
	"helper-proxy":     {app.DecisionAllow, app.ReasonOK},
}

// rawCard is the enforce-mode answer to demo cards: only bound cards are in
// the cache; every other card is manual (un-upgraded cards still work
// with a staff check).
var rawCard = map[string]want{
	"1000200001":          {app.DecisionAllow, app.ReasonOK},         // green-fresh, physical
	"1000300001":          {app.DecisionAllow, app.ReasonOK},         // green-fresh, NFC
	"1000400001":          {app.DecisionAllow, app.ReasonOK},         // elder-special's special card (auto-bound)
	"1000200011":          {app.DecisionAllow, app.ReasonOK},         // helper-proxy
	"1000200004":          {app.DecisionManual, app.ReasonNotBound},  // red's card, not upgraded
	"1000200003":          {app.DecisionManual, app.ReasonNotBound},  // yellow's card, not upgraded
	demo.UnionPayNumber:   {app.DecisionManual, app.ReasonNotBound},  // not upgradeable
	demo.BlankTokenNumber: {app.DecisionManual, app.ReasonNotBound},  // a token, never bound
	"12ab":                {app.DecisionManual, app.ReasonBadMedium}, // not a card number
}

// TestDemoGateEveryRiderEachMode taps every listed demo card and scans
// every demo rider's ride code in enforce, test and off mode, over real
// signed HTTP on loopback.
func TestDemoGateEveryRiderEachMode(t *testing.T) {
	r := newDemoRig(t, app.ModeEnforce)
	ctx := context.Background()
	if len(rawQR) != len(demo.Riders()) {
		t.Fatalf("table covers %d riders, demo has %d", len(rawQR), len(demo.Riders()))
	}
	for _, mode := range []app.GateMode{app.ModeEnforce, app.ModeTest, app.ModeOff} {
		if err := r.st.Server.SetMode(mode, "9001"); err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T, res app.DemoGateResult, err error, w want) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			a := res.Answer
			exp := app.ApplyMode(mode, w.d, w.r)
			if a.Mode != mode || a.Decision != exp.Decision || a.Reason != exp.Reason || a.WouldBe != exp.WouldBe || a.WouldBeReason != exp.WouldBeReason {
				t.Fatalf("got %+v, want %+v", a, exp)
			}
		}
		for rider, w := range rawQR {
			t.Run(string(mode)+"/QR/"+rider, func(t *testing.T) {
				res, err := r.gate.ScanRideQR(ctx, rider, false)
				check(t, res, err, w)
			})
		}
		for card, w := range rawCard {
			t.Run(string(mode)+"/Card/"+card, func(t *testing.T) {
				res, err := r.gate.TapCard(ctx, card)
				check(t, res, err, w)
			})
		}
		t.Run(string(mode)+"/QRExpired", func(t *testing.T) {
			res, err := r.gate.ScanRideQR(ctx, "green-fresh", true)
			check(t, res, err, want{app.DecisionDeny, app.ReasonQRExpired})
		})
	}
	t.Run("ErrUnknownRider", func(t *testing.T) {
		if _, err := r.gate.ScanRideQR(ctx, "nobody", false); app.ErrorCode(err) != app.CodeNotFound {
			t.Fatalf("got %v", err)
		}
	})
	// The gates screen sees the simulated gate and its decisions, without
	// card numbers.
	var found bool
	for _, g := range r.st.Server.Gates() {
		if g.ID == r.gate.GateID() && !g.LastSeen.IsZero() && len(g.KeyIDs) == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("gate not listed as seen: %+v", r.st.Server.Gates())
	}
	for _, e := range r.st.Server.Recent(50) {
		if e.Gate != r.gate.GateID() || strings.Contains(e.CardToken, "1000200001") {
			t.Fatalf("recent event %+v", e)
		}
	}
}

// TestDemoGateCentralOff: with the central simulator in an outage the
// station keeps answering from its cache.
func TestDemoGateCentralOff(t *testing.T) {
	r := newDemoRig(t, app.ModeEnforce)
	r.cs.DemoControl().SetOnline(false)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		res, err := r.gate.TapCard(ctx, "1000200001")
		if err != nil || res.Answer.Decision != app.DecisionAllow {
			t.Fatalf("central off, tap %d: %+v %v", i, res, err)
		}
		res, err = r.gate.ScanRideQR(ctx, "red", false)
		if err != nil || res.Answer.Decision != app.DecisionDeny || res.Answer.Reason != app.ReasonCodeRed {
			t.Fatalf("central off, red QR %d: %+v %v", i, res, err)
		}
	}
}

// TestDemoGateRevokedAndRecommissioned: a demo gate started again (next
// demo start, same data folder) revokes the lost key of the earlier run and
// gets a fresh one; a revoked demo gate gets 401 on every tap.
func TestDemoGateRevokedAndRecommissioned(t *testing.T) {
	r := newDemoRig(t, app.ModeEnforce)
	ctx := context.Background()
	target := "http://" + r.st.Addr.String()
	qr := r.cs.RideQRFunc(syncpub.DemoKeys())

	g2, err := gatesim.NewDemoGate(ctx, target, r.st.Server, qr, gatesim.DemoGateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := g2.TapCard(ctx, "1000200001"); err != nil || res.Answer.Decision != app.DecisionAllow {
		t.Fatalf("re-commissioned: %+v %v", res, err)
	}
	if _, err := r.gate.TapCard(ctx, "1000200001"); app.ErrorReason(err) != "gate_rejected" {
		t.Fatalf("the earlier run's key still works: %v", err)
	}
	for _, g := range r.st.Server.Gates() {
		if g.ID == g2.GateID() && (len(g.KeyIDs) != 1 || g.Revoked) {
			t.Fatalf("gate after re-commissioning: %+v", g)
		}
	}
	if err := r.st.Server.RevokeGate(g2.GateID(), "9001"); err != nil {
		t.Fatal(err)
	}
	if _, err := g2.TapCard(ctx, "1000200001"); app.ErrorReason(err) != "gate_rejected" || app.ErrorCode(err) != app.CodeUnauthorized {
		t.Fatalf("revoked: %v", err)
	}
}
