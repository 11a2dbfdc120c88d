//go:build !windows

package devices_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/devices"
	"stationdesk/devices/sim"
)

// TestDemoEndToEnd runs the demo simulators and the real drivers over
// ptys: every demo chip document and every demo card is read, a code is
// scanned, and the status bar follows an unplug and replug of each device.
func TestDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ports := d.Ports()
	board := app.NewStatusBoard(app.SystemClock{})
	set, err := devices.Start(ctx, devices.Config{
		IDReader:   devices.PortConfig{Port: ports.IDReader},
		CardReader: devices.PortConfig{Port: ports.CardReader},
		Scanner:    devices.PortConfig{Port: ports.Scanner, Baud: 115200},
	}, board, app.NewFakeClock(demo.RefTime), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); set.Wait() }()
	wait := func(c app.Component, s app.State) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for board.Get(c).State != s {
			if time.Now().After(deadline) {
				t.Fatalf("%s never %s: %+v", c, s, board.Get(c))
			}
			time.Sleep(25 * time.Millisecond) // poll interval; the deadline decides
		}
	}
	for _, c := range []app.Component{app.CompIDReader, app.CompCardReader, app.CompScanner} {
		wait(c, app.StateReady)
	}
	tctx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 30*time.Second) }

	items := d.IDCards()
	if len(items) < 6 {
		t.Fatalf("only %d demo ID cards", len(items))
	}
	for _, it := range items {
		t.Run("ID/"+it.ID, func(t *testing.T) {
			r, _ := demo.RiderByKey(it.ID)
			if strings.Contains(it.Label, r.Identity.Doc.Reveal()) || strings.Contains(it.Label, r.Identity.Name.Reveal()) {
				t.Fatalf("label %q is not masked", it.Label)
			}
			if err := d.PlaceIDCard(it.ID); err != nil {
				t.Fatal(err)
			}
			c, cancel := tctx()
			defer cancel()
			id, err := set.ID.ReadID(c)
			d.LiftIDCard()
			if err != nil {
				t.Fatal(err)
			}
			if !id.Doc.Equal(r.Identity.Doc) || id.Name.Reveal() != r.Identity.Name.Reveal() || !id.Birth.Equal(r.Identity.Birth) {
				t.Fatalf("read %s, want %s", id, r.Identity)
			}
		})
	}
	for _, it := range d.TransitCards() {
		t.Run("Card/"+it.Label, func(t *testing.T) {
			if err := d.PlaceTransitCard(it.ID); err != nil {
				t.Fatal(err)
			}
			c, cancel := tctx()
			defer cancel()
			card, err := set.Card.ReadCard(c)
			d.LiftTransitCard()
			if err != nil {
				t.Fatal(err)
			}
			var want app.Card
			for _, x := range demo.Cards() {
				if x.Number == it.ID {
					want = x
				}
			}
			if it.ID == demo.NewTokenItem { // a fresh blank token, a new serial
				if card.Kind != app.CardSingleJourney || card.Balance != 0 || card.Number == demo.BlankTokenNumber {
					t.Fatalf("new token read as %v", card)
				}
				return
			}
			wantNumber := want.Number
			if want.Kind == app.CardUnionPay || want.Kind == app.CardDCEPWearable {
				wantNumber = "" // never read
			}
			if card.Number != wantNumber || card.Kind != want.Kind || card.Form != want.Form || card.City != want.City {
				t.Fatalf("read %v (%q %s), want %v (%q %s)", card, card.Number, card.City, want, wantNumber, want.City)
			}
			if want.Balance >= 0 && want.Kind != app.CardSingleJourney && card.Balance != want.Balance {
				t.Fatalf("balance %d, want %d", card.Balance, want.Balance)
			}
		})
	}
	t.Run("Scan", func(t *testing.T) {
		go d.ScanCode("BJMETRO:demo:0001")
		c, cancel := tctx()
		defer cancel()
		if code, err := set.Scanner.Scan(c); err != nil || code != "BJMETRO:demo:0001" {
			t.Fatalf("%q %v", code, err)
		}
	})
	for _, dev := range []struct {
		sim  app.SimDevice
		comp app.Component
	}{{app.SimIDReader, app.CompIDReader}, {app.SimCardReader, app.CompCardReader}, {app.SimScanner, app.CompScanner}} {
		t.Run("Replug/"+string(dev.sim), func(t *testing.T) {
			if err := d.Unplug(dev.sim); err != nil || d.Plugged(dev.sim) {
				t.Fatal(err)
			}
			wait(dev.comp, app.StateError)
			if err := d.Replug(dev.sim); err != nil {
				t.Fatal(err)
			}
			wait(dev.comp, app.StateReady)
		})
	}
	if err := d.PlaceIDCard("no-such-rider"); app.ErrorCode(err) != app.CodeNotFound {
		t.Fatalf("unknown rider: %v", err)
	}
}

func TestStartRejectsBadBaud(t *testing.T) {
	_, err := devices.Start(context.Background(), devices.Config{IDReader: devices.PortConfig{Port: "/dev/null", Baud: 12345}},
		app.NewStatusBoard(app.SystemClock{}), nil, nil)
	if app.ErrorReason(err) != "baud" {
		t.Fatalf("got %v", err)
	}
}

func TestUnconfiguredDevicesSayNotConfigured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	board := app.NewStatusBoard(app.SystemClock{})
	set, err := devices.Start(ctx, devices.Config{}, board, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.ID.ReadID(ctx); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("ReadID: %v", err)
	}
	if _, err := set.Card.ReadCard(ctx); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("ReadCard: %v", err)
	}
	if _, err := set.Scanner.Scan(ctx); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("Scan: %v", err)
	}
	cancel()
	set.Wait()
	for _, c := range []app.Component{app.CompIDReader, app.CompCardReader, app.CompScanner} {
		if s := board.Get(c).State; s != app.StateNotConfigured {
			t.Fatalf("%s: %s", c, s)
		}
	}
}

func TestProbe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := d.Ports()
	tests := []struct {
		name   string
		kind   devices.Kind
		port   string
		reason string
		detail string
	}{
		{"IDReaderOK", devices.KindIDReader, p.IDReader, "", "-"},
		{"CardReaderOK", devices.KindCardReader, p.CardReader, "", "SIM"},
		{"ScannerOK", devices.KindScanner, p.Scanner, "", "opens"},
		{"PortNotFound", devices.KindIDReader, "/dev/ttyUSB-none", "port_not_found", ""},
		{"WrongDeviceNotResponding", devices.KindIDReader, p.Scanner, "reader_not_responding", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, err := devices.Probe(ctx, tt.kind, tt.port, 0)
			if app.ErrorReason(err) != tt.reason || (tt.reason == "" && err != nil) {
				t.Fatalf("err %v, want reason %q", err, tt.reason)
			}
			if !strings.Contains(detail, tt.detail) {
				t.Fatalf("detail %q", detail)
			}
		})
	}
}
