package centralsim

import (
	"context"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
)

func TestDemoControl(t *testing.T) {
	ctx := context.Background()
	s, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := s.DemoControl()
	if !d.Online() {
		t.Fatal("a new simulator reports an outage")
	}
	d.SetOnline(false)
	if d.Online() || !s.Faults().Outage {
		t.Fatal("SetOnline(false) did not switch the outage on")
	}
	d.SetOnline(true)
	if !d.Online() {
		t.Fatal("SetOnline(true) left the outage on")
	}
	codes, err := d.ProxyCodes(ctx)
	if err != nil || len(codes) == 0 {
		t.Fatalf("ProxyCodes = %v, %v", codes, err)
	}
	for _, c := range codes {
		if !strings.Contains(c.Phone, "*") || len(c.Code) == 0 {
			t.Errorf("code %+v: phone not masked or code empty", c)
		}
	}
	if err := d.SetRiderHealth(ctx, "green-fresh", app.ColorRed, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	riders, err := s.Riders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range riders {
		if r.Key == "green-fresh" {
			found = true
			if r.Color != string(app.ColorRed) {
				t.Errorf("green-fresh colour %q after SetRiderHealth(red)", r.Color)
			}
		}
	}
	if !found {
		t.Fatal("green-fresh not among the riders")
	}
	if err := d.SetRiderHealth(ctx, "no-such-rider", app.ColorGreen, 0); err == nil {
		t.Error("unknown rider accepted")
	}
	if err := d.SetRiderHealth(ctx, "green-fresh", "purple", 0); app.ErrorCode(err) != app.CodeInvalid {
		t.Errorf("bad colour: %v", err)
	}
}
