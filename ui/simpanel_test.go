package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"stationdesk/app"
)

// fakeSim records what the drawer asks of the simulated devices (a fake at
// the app.DeviceSimulator seam; the real simulators are tested over ptys in
// devices/sim).
type fakeSim struct {
	placed, lifted []string
	plugged        map[app.SimDevice]bool
}

func (f *fakeSim) IDCards() []app.DemoItem {
	return []app.DemoItem{{ID: "green-fresh", Label: "居民身份证 1**************036 李**"}}
}
func (f *fakeSim) TransitCards() []app.DemoItem {
	return []app.DemoItem{{ID: "1000200012", Label: "Ordinary ****0012"}}
}
func (f *fakeSim) PlaceIDCard(id string) error {
	f.placed = append(f.placed, "id:"+id)
	return nil
}
func (f *fakeSim) LiftIDCard() { f.lifted = append(f.lifted, "id") }
func (f *fakeSim) PlaceTransitCard(id string) error {
	f.placed = append(f.placed, "card:"+id)
	return nil
}
func (f *fakeSim) LiftTransitCard()             { f.lifted = append(f.lifted, "card") }
func (f *fakeSim) ScanCode(string) error        { return nil }
func (f *fakeSim) Unplug(d app.SimDevice) error { f.plugged[d] = false; return nil }
func (f *fakeSim) Replug(d app.SimDevice) error { f.plugged[d] = true; return nil }
func (f *fakeSim) Plugged(d app.SimDevice) bool { return f.plugged[d] }

func TestSimulatorDrawer(t *testing.T) {
	h := newHarness(t, app.LangEN)
	sim := &fakeSim{plugged: map[app.SimDevice]bool{app.SimIDReader: true, app.SimCardReader: true, app.SimScanner: true}}
	h.desk.d.Simulator = sim
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	if !strings.Contains(h.texts(), "Demo simulator") {
		t.Fatalf("no simulator drawer in demo mode:\n%s", h.texts())
	}
	// The drawer sits beside the screen: the document check is still shown.
	if h.desk.CurrentScreen() != "doccheck" || !strings.Contains(h.texts(), "Check a document") {
		t.Fatalf("screen %q behind the drawer", h.desk.CurrentScreen())
	}
	sel := findWidget[*deskSelect](h.win.Content(), func(s *deskSelect) bool { return s.PlaceHolder == "Choose a demo card" })
	sel.SetSelectedIndex(0)
	findWidget[*deskButton](h.win.Content(), func(b *deskButton) bool { return b.Text == "Place on reader" }).OnTapped()
	if len(sim.placed) != 1 || sim.placed[0] != "id:green-fresh" {
		t.Fatalf("placed %v, want the chosen ID card", sim.placed)
	}
	if !strings.Contains(h.texts(), "Card placed") {
		t.Errorf("no confirmation:\n%s", h.texts())
	}
	// Unplugging shows at once; Ctrl+D hides and shows the drawer.
	findWidget[*deskCheck](h.win.Content(), func(*deskCheck) bool { return true }).SetChecked(false)
	if sim.plugged[app.SimIDReader] {
		t.Error("unticking Plugged in did not unplug the ID reader")
	}
	h.desk.globalShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierControl})
	if strings.Contains(h.texts(), "Demo simulator") {
		t.Fatal("Ctrl+D did not hide the drawer")
	}
	h.desk.globalShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierControl})
	if !strings.Contains(h.texts(), "Demo simulator") {
		t.Fatal("Ctrl+D did not show the drawer again")
	}
}
