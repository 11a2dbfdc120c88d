package main

import (
	"context"
	"io"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/config"
	"stationdesk/app/demo"
)

// TestWelfareOnSoldToken runs on the real parts of the demo (ledger
// file, serial drivers on ptys, central simulator over loopback): a single ticket is sold on the demo token, then a welfare
// exchange is tried with the same token lifted and placed again. The token
// still carries the sold ticket, so the exchange is refused before
// anything is written, and the ledger has no incomplete sale; on a fresh
// token it completes. Before, the simulator forgot the ticket when the
// token was placed again, the second ticket was written, and the ledger's
// unique index on the token serial refused to mark it issued.
func TestWelfareOnSoldToken(t *testing.T) {
	cfg := config.Config{DataDir: t.TempDir(), Demo: true}
	cfg.Defaults()
	rt, err := startRuntime(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	op := app.Operator{ID: "1001", Role: app.RoleClerk}
	if _, err := rt.shifts.Open(ctx, op); err != nil {
		t.Fatal(err)
	}
	check := func(key string) app.BuyerCheck {
		t.Helper()
		r, ok := demo.RiderByKey(key)
		if !ok {
			t.Fatalf("no demo rider %s", key)
		}
		c, err := rt.sales.CheckBuyer(ctx, op, r.Identity)
		if err != nil || c.Decision() != app.BuyerOK {
			t.Fatalf("check %s: %v %v", key, c.Decision(), err)
		}
		return c
	}
	dest := rt.sales.Fares().Destinations()[0].Code
	if err := rt.demo.devices.PlaceTransitCard(demo.BlankTokenNumber); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.sales.Sell(ctx, op, check("green-fresh"), app.SaleInput{DestCode: dest, Payment: app.PayCash}); err != nil {
		t.Fatalf("sell: %v", err)
	}
	rt.demo.devices.LiftTransitCard()
	if err := rt.demo.devices.PlaceTransitCard(demo.BlankTokenNumber); err != nil {
		t.Fatal(err)
	}
	welfare := check("elder-special")
	_, err = rt.sales.Exchange(ctx, op, welfare, app.WelfareInput{DestCode: dest})
	if app.ErrorReason(err) != "not_blank" {
		t.Fatalf("exchange on the sold token: %v, want not_blank", err)
	}
	if inc, err := rt.sales.Incomplete(ctx); err != nil || len(inc) != 0 {
		t.Fatalf("incomplete sales after the refusal: %d %v", len(inc), err)
	}
	if err := rt.demo.devices.PlaceTransitCard(demo.NewTokenItem); err != nil {
		t.Fatal(err)
	}
	res, err := rt.sales.Exchange(ctx, op, welfare, app.WelfareInput{DestCode: dest})
	if err != nil || res.Record.State != app.SaleIssued {
		t.Fatalf("exchange on a fresh token: %+v %v", res.Record.State, err)
	}

	// A token recycled (erased at the exit gate) carries a new ticket: the
	// ledger records the second sale on the same serial as issued.
	rt.demo.devices.Card.Recycle(demo.BlankTokenNumber)
	if err := rt.demo.devices.PlaceTransitCard(demo.BlankTokenNumber); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.sales.Sell(ctx, op, check("green-fresh"), app.SaleInput{DestCode: dest, Payment: app.PayCash}); err != nil {
		t.Fatalf("sell on the recycled token: %v", err)
	}
	if inc, err := rt.sales.Incomplete(ctx); err != nil || len(inc) != 0 {
		t.Fatalf("incomplete sales: %d %v", len(inc), err)
	}
}
