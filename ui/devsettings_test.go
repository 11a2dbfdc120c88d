package ui

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// fakeAdmin is a fake at the app.DeviceAdmin seam (devices.Admin is tested
// over real ptys in devices/).
type fakeAdmin struct {
	mu       sync.Mutex
	cur      app.DeviceSettings
	probes   []string
	probeErr error
	applied  []app.DeviceSettings
	ops      []string
	applyErr error
}

func (f *fakeAdmin) Ports() []app.PortInfo {
	return []app.PortInfo{
		{Path: "/dev/serial/by-id/usb-FTDI-if00", Device: "/dev/ttyUSB0", Description: "FTDI FT232R · USB 0403:6001", InUseBy: app.DeviceIDReader},
		{Path: "/dev/ttyUSB1", Device: "/dev/ttyUSB1", Description: "ch341-uart"},
		{Path: "/run/demo/ttySCANNER", Device: "/dev/pts/7", Description: "simulated QR scanner (pty)", InUseBy: app.DeviceScanner},
	}
}
func (f *fakeAdmin) Bauds() []int { return []int{115200, 57600, 9600} }
func (f *fakeAdmin) Current() app.DeviceSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}
func (f *fakeAdmin) Probe(_ context.Context, k app.DeviceKind, port string, baud int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes = append(f.probes, string(k)+" "+port+" "+strconv.Itoa(baud))
	if f.probeErr != nil {
		return "", f.probeErr
	}
	return "SAM 05.01-20240601-0000000001", nil
}
func (f *fakeAdmin) Apply(_ context.Context, s app.DeviceSettings, op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return f.applyErr
	}
	f.applied = append(f.applied, s)
	f.ops = append(f.ops, op)
	f.cur = s
	return nil
}

type devRig struct {
	t     *testing.T
	desk  *Desk
	win   fyne.Window
	adm   *fakeAdmin
	board *app.StatusBoard
	s     *devSettingsScreen
}

func newDevRig(t *testing.T, role app.Role) *devRig {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1200, 1000))
	clock := app.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local))
	board := app.NewStatusBoard(clock)
	board.Set(app.CompIDReader, app.StateReady, "/dev/serial/by-id/usb-FTDI-if00")
	board.Set(app.CompScanner, app.StateError, "port not found")
	adm := &fakeAdmin{cur: app.DeviceSettings{
		IDReader: app.DevicePort{Port: "/dev/serial/by-id/usb-FTDI-if00", Baud: 115200},
		Scanner:  app.DevicePort{Port: "/run/demo/ttySCANNER", Baud: 9600},
	}}
	r := &devRig{t: t, win: w, adm: adm, board: board}
	devSettingsBuilt = func(s *devSettingsScreen) { r.s = s }
	t.Cleanup(func() { devSettingsBuilt = nil })
	r.desk = NewDesk(a, w, Deps{Auth: &fakeAuth{}, Board: board, Clock: clock, Lang: app.LangEN, Scale: ScaleNormal, DeviceAdmin: adm, Background: inline})
	r.desk.Start()
	t.Cleanup(r.desk.Stop)
	id := map[app.Role]string{app.RoleSupervisor: "9001", app.RoleClerk: "1001"}[role]
	r.desk.loggedIn(app.Operator{ID: id, DisplayName: "Test", Role: role})
	r.desk.showScreen("devsettings")
	return r
}

func TestDevSettingsOnlyForSupervisors(t *testing.T) {
	r := newDevRig(t, app.RoleClerk)
	if r.s != nil || r.desk.CurrentScreen() == "devsettings" {
		t.Fatal("a clerk reached the device settings")
	}
	var ids []string
	for _, s := range r.desk.visibleScreens() {
		ids = append(ids, s.id)
	}
	if slices.Contains(ids, "devsettings") {
		t.Fatalf("clerk's navigation lists device settings: %v", ids)
	}
}

func TestDevSettingsShowsDevicesAndPorts(t *testing.T) {
	r := newDevRig(t, app.RoleSupervisor)
	got := screenText(r.win)
	for _, want := range []string{
		"ready · /dev/serial/by-id/usb-FTDI-if00",          // ID reader state
		"/dev/serial/by-id/usb-FTDI-if00 @ 115200",         // in use
		"error · port not found",                           // scanner state
		"not installed",                                    // card reader
		"simulated QR scanner (pty)",                       // demo pty in the list
		"in use by the ID card reader",                     // holder
		"/dev/serial/by-id/usb-FTDI-if00  →  /dev/ttyUSB0", // by-id and node
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	id := r.s.rows[app.DeviceIDReader]
	if id.port.SelectedIndex() != 1 || id.baud.Selected != "115200" {
		t.Fatalf("ID reader choosers at %d %q", id.port.SelectedIndex(), id.baud.Selected)
	}
	if r.s.rows[app.DeviceIDReader].state.Importance != widget.SuccessImportance || r.s.rows[app.DeviceScanner].state.Importance != widget.DangerImportance {
		t.Fatal("state colours")
	}
	// The board changes; the next refresh shows it.
	r.board.Set(app.CompScanner, app.StateReady, "/run/demo/ttySCANNER")
	r.s.refreshStates()
	if !strings.Contains(r.s.rows[app.DeviceScanner].state.Text, "ready") {
		t.Fatalf("scanner state %q", r.s.rows[app.DeviceScanner].state.Text)
	}
}

func TestDevSettingsTest(t *testing.T) {
	r := newDevRig(t, app.RoleSupervisor)
	row := r.s.rows[app.DeviceCardReader]
	t.Run("ErrNoPort", func(t *testing.T) {
		test.Tap(row.test)
		if len(r.adm.probes) != 0 || r.s.result.Tone() != ToneWarn {
			t.Fatalf("probed %v, banner %v", r.adm.probes, r.s.result.Tone())
		}
	})
	t.Run("OK", func(t *testing.T) {
		row.port.SetSelectedIndex(2) // /dev/ttyUSB1
		row.baud.SetSelected("57600")
		test.Tap(row.test)
		if strings.Join(r.adm.probes, ";") != "cardreader /dev/ttyUSB1 57600" {
			t.Fatalf("probes %v", r.adm.probes)
		}
		if r.s.result.Tone() != ToneOK || !strings.Contains(r.s.result.Text(), "SAM 05.01") || row.test.Disabled() {
			t.Fatalf("banner %v %q", r.s.result.Tone(), r.s.result.Text())
		}
	})
	t.Run("ErrNoAnswer", func(t *testing.T) {
		r.adm.probeErr = app.NewError(app.CodeUnavailable, "reader_not_responding", "读卡器无应答。", "The reader does not answer.")
		test.Tap(row.test)
		if r.s.result.Tone() != ToneError || !strings.Contains(r.s.result.Text(), "The reader does not answer.") {
			t.Fatalf("banner %v %q", r.s.result.Tone(), r.s.result.Text())
		}
	})
}

func TestDevSettingsApply(t *testing.T) {
	r := newDevRig(t, app.RoleSupervisor)
	before := r.adm.Current()
	row := r.s.rows[app.DeviceCardReader]
	row.port.SetSelectedIndex(2)
	row.baud.SetSelected("57600")
	test.Tap(row.apply)
	if len(r.adm.applied) != 1 || r.adm.ops[0] != "9001" {
		t.Fatalf("applied %+v by %v", r.adm.applied, r.adm.ops)
	}
	want := before.With(app.DeviceCardReader, app.DevicePort{Port: "/dev/ttyUSB1", Baud: 57600})
	if r.adm.applied[0] != want {
		t.Fatalf("applied %+v, want %+v (only the card reader changes)", r.adm.applied[0], want)
	}
	if r.s.result.Tone() != ToneOK || !strings.Contains(screenText(r.win), "/dev/ttyUSB1 @ 57600") {
		t.Fatalf("after apply:\n%s", screenText(r.win))
	}
	t.Run("NotInstalled", func(t *testing.T) {
		sc := r.s.rows[app.DeviceScanner]
		sc.port.SetSelectedIndex(0)
		test.Tap(sc.apply)
		if got := r.adm.Current().Scanner.Port; got != "" {
			t.Fatalf("scanner port %q", got)
		}
	})
	t.Run("ErrApply", func(t *testing.T) {
		r.adm.applyErr = app.NewError(app.CodeInvalid, "port_twice", "同一个串口不能同时给两个设备使用。", "One port cannot be used by two devices.")
		test.Tap(r.s.rows[app.DeviceIDReader].apply)
		if r.s.result.Tone() != ToneError || !strings.Contains(r.s.result.Text(), "One port cannot be used by two devices.") {
			t.Fatalf("banner %v %q", r.s.result.Tone(), r.s.result.Text())
		}
	})
}
