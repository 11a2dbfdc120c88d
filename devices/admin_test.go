//go:build !windows

package devices_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/devices"
	"stationdesk/devices/idcard"
	"stationdesk/devices/serial"
	"stationdesk/devices/sim"
)

// memAudit is a fake at the app.AuditLog seam (the hash chain is tested in
// offline/ledger).
type memAudit struct {
	mu sync.Mutex
	e  []app.AuditEntry
}

func (m *memAudit) Append(_ context.Context, e app.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.e = append(m.e, e)
	return nil
}

func (m *memAudit) entries() []app.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]app.AuditEntry(nil), m.e...)
}

type adminRig struct {
	t      *testing.T
	ctx    context.Context
	board  *app.StatusBoard
	adm    *devices.Admin
	audit  *memAudit
	idA    *sim.IDReader
	idB    *sim.IDReader
	scanA  *sim.Scanner
	scanB  *sim.Scanner
	dir    string
	path   string
	cancel context.CancelFunc
}

// newAdminRig starts two simulated ID readers and two scanners on ptys and
// an Admin with the ID reader on A and the scanner on A.
func newAdminRig(t *testing.T) *adminRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	r := &adminRig{t: t, ctx: ctx, cancel: cancel, dir: dir, path: filepath.Join(dir, devices.SettingsFile), audit: &memAudit{}}
	var err error
	if r.idA, err = sim.NewIDReader(ctx, filepath.Join(dir, "ttyIDA"), 0); err != nil {
		t.Fatal(err)
	}
	if r.idB, err = sim.NewIDReader(ctx, filepath.Join(dir, "ttyIDB"), 0); err != nil {
		t.Fatal(err)
	}
	if r.scanA, err = sim.NewScanner(filepath.Join(dir, "ttySCA"), 0); err != nil {
		t.Fatal(err)
	}
	if r.scanB, err = sim.NewScanner(filepath.Join(dir, "ttySCB"), 0); err != nil {
		t.Fatal(err)
	}
	r.board = app.NewStatusBoard(app.SystemClock{})
	r.adm, err = devices.StartAdmin(ctx, devices.AdminConfig{
		Config: devices.Config{
			IDReader: devices.PortConfig{Port: r.idA.Path()},
			Scanner:  devices.PortConfig{Port: r.scanA.Path(), Baud: 115200},
		},
		SettingsPath: r.path, Board: r.board, Clock: app.NewFakeClock(demo.RefTime), Audit: r.audit, Terminal: "T01",
		ExtraPorts: []app.PortInfo{{Path: r.idB.Path(), Device: r.idB.Path(), Description: "simulated ID-card reader B"}},
		List: func() []serial.PortInfo {
			return []serial.PortInfo{{Path: "/dev/serial/by-id/usb-FTDI_FT232R-if00", Device: "/dev/ttyUSB7", Driver: "ftdi_sio",
				VendorID: "0403", ProductID: "6001", Manufacturer: "FTDI", Product: "FT232R USB UART", Serial: "A5XK3RJT"}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		r.adm.Wait()
		r.idA.Close()
		r.idB.Close()
		r.scanA.Close()
		r.scanB.Close()
	})
	r.waitState(app.CompIDReader, app.StateReady, r.idA.Path())
	r.waitState(app.CompScanner, app.StateReady, r.scanA.Path())
	return r
}

// waitState polls the board until component c is in state s with detail
// (any detail when ""), or fails after 30 s.
func (r *adminRig) waitState(c app.Component, s app.State, detail string) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := r.board.Get(c)
		if st.State == s && (detail == "" || st.Detail == detail) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s never %s %q: %+v", c, s, detail, st)
		}
		time.Sleep(25 * time.Millisecond) // poll interval; the deadline decides
	}
}

// waitFor polls cond until it holds, or fails after 30 s.
func (r *adminRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the deadline decides
	}
}

// TestAdminApplyKeepsReaders switches the ID reader and the scanner to
// other ptys while a read and a scan wait: both are answered by the new
// devices through the same app.IDReader / app.Scanner values, the choice
// is saved and audited, and later reads work too.
func TestAdminApplyKeepsReaders(t *testing.T) {
	r := newAdminRig(t)
	reader, scan := r.adm.IDReader(), r.adm.Scanner()
	rider, _ := demo.RiderByKey("green-fresh")

	// A read before the switch, on A.
	if err := r.idA.Place(rider.Identity, idcard.KindResident); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if id, err := reader.ReadID(ctx); err != nil || !id.Doc.Equal(rider.Identity.Doc) {
		t.Fatalf("read on A: %v %v", id, err)
	}
	r.idA.Lift()

	type idRes struct {
		id  app.Identity
		err error
	}
	idc := make(chan idRes, 1)
	go func() { id, err := reader.ReadID(ctx); idc <- idRes{id, err} }()
	type scanRes struct {
		code string
		err  error
	}
	scc := make(chan scanRes, 1)
	go func() { c, err := scan.Scan(ctx); scc <- scanRes{c, err} }()
	// Both waiters are queued on the old drivers before the switch, so the
	// test checks the hand-over, not only a read after it.
	r.waitFor("the read and the scan queued on A", func() bool {
		return r.adm.Waiting(app.DeviceIDReader) && r.adm.Waiting(app.DeviceScanner)
	})

	cur := r.adm.Current()
	next := cur.With(app.DeviceIDReader, app.DevicePort{Port: r.idB.Path(), Baud: 115200}).
		With(app.DeviceScanner, app.DevicePort{Port: r.scanB.Path(), Baud: 115200})
	if err := r.adm.Apply(ctx, next, "9001"); err != nil {
		t.Fatal(err)
	}
	r.waitState(app.CompIDReader, app.StateReady, r.idB.Path())
	r.waitState(app.CompScanner, app.StateReady, r.scanB.Path())

	if err := r.idB.Place(rider.Identity, idcard.KindResident); err != nil {
		t.Fatal(err)
	}
	if err := r.scanB.Scan("BJMETRO:after-switch", "\r"); err != nil {
		t.Fatal(err)
	}
	if res := <-idc; res.err != nil || !res.id.Doc.Equal(rider.Identity.Doc) {
		t.Fatalf("waiting read after switch: %v %v", res.id, res.err)
	}
	if res := <-scc; res.err != nil || res.code != "BJMETRO:after-switch" {
		t.Fatalf("waiting scan after switch: %q %v", res.code, res.err)
	}
	r.idB.Lift()

	if got := r.adm.Current(); got.IDReader.Port != r.idB.Path() || got.Scanner.Port != r.scanB.Path() || got.CardReader != cur.CardReader {
		t.Fatalf("current %+v", got)
	}
	saved, err := devices.LoadSettings(r.path, devices.Config{})
	if err != nil || saved.IDReader.Port != r.idB.Path() || saved.Scanner.Port != r.scanB.Path() || saved.Scanner.Baud != 115200 {
		t.Fatalf("saved %+v %v", saved, err)
	}
	var subjects []string
	for _, e := range r.audit.entries() {
		if e.Action != app.ActConfigChange || e.Operator != "9001" || e.Outcome != app.OutcomeSuccess {
			t.Fatalf("audit entry %+v", e)
		}
		subjects = append(subjects, e.Subject)
	}
	if strings.Join(subjects, ",") != "device:idreader,device:scanner" {
		t.Fatalf("audited %v", subjects)
	}

	// Applying the same settings again changes nothing and audits nothing.
	if err := r.adm.Apply(ctx, r.adm.Current(), "9001"); err != nil || len(r.audit.entries()) != 2 {
		t.Fatalf("no-op apply: %v, %d entries", err, len(r.audit.entries()))
	}
	// A second read on the same reader value, on B.
	if err := r.idB.Place(rider.Identity, idcard.KindResident); err != nil {
		t.Fatal(err)
	}
	if id, err := reader.ReadID(ctx); err != nil || !id.Doc.Equal(rider.Identity.Doc) {
		t.Fatalf("second read on B: %v %v", id, err)
	}
}

func TestAdminApplyRejects(t *testing.T) {
	r := newAdminRig(t)
	ctx := r.ctx
	cur := r.adm.Current()
	for _, tc := range []struct {
		name   string
		s      app.DeviceSettings
		reason string
	}{
		{"ErrBaud", cur.With(app.DeviceIDReader, app.DevicePort{Port: r.idB.Path(), Baud: 12345}), "baud"},
		{"ErrPortTwice", cur.With(app.DeviceScanner, app.DevicePort{Port: r.idA.Path(), Baud: 9600}), "port_twice"},
		{"ErrPortTwiceViaLink", cur.With(app.DeviceScanner, app.DevicePort{Port: r.idA.Line().PTS(), Baud: 9600}), "port_twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.adm.Apply(ctx, tc.s, "9001"); app.ErrorReason(err) != tc.reason {
				t.Fatalf("got %v, want %s", err, tc.reason)
			}
			if r.adm.Current() != cur {
				t.Fatalf("settings changed: %+v", r.adm.Current())
			}
		})
	}
	t.Run("ErrSaveLeavesDrivers", func(t *testing.T) {
		if err := os.Mkdir(r.path, 0o700); err != nil { // a directory where the file goes: rename fails
			t.Fatal(err)
		}
		defer os.Remove(r.path)
		err := r.adm.Apply(ctx, cur.With(app.DeviceIDReader, app.DevicePort{Port: r.idB.Path()}), "9001")
		if app.ErrorReason(err) != "settings_save" || r.adm.Current() != cur {
			t.Fatalf("got %v, current %+v", err, r.adm.Current())
		}
		if st := r.board.Get(app.CompIDReader); st.Detail != r.idA.Path() {
			t.Fatalf("driver moved: %+v", st)
		}
		es := r.audit.entries()
		if len(es) != 1 || es[0].Outcome != app.OutcomeFailure {
			t.Fatalf("audit %+v", es)
		}
	})
}

func TestAdminProbe(t *testing.T) {
	r := newAdminRig(t)
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		kind   app.DeviceKind
		port   string
		baud   int
		reason string // "" = success
		detail string // substring of a successful detail
	}{
		{"OwnPortAnswersFromDriver", app.DeviceIDReader, r.idA.Path(), 115200, "", "in use by this device"},
		{"FreePortProbed", app.DeviceIDReader, r.idB.Path(), 115200, "", ""},
		{"ErrPortBusyOtherDevice", app.DeviceCardReader, r.idA.Path(), 115200, "port_busy", ""},
		{"ErrPortBusyOtherBaud", app.DeviceIDReader, r.idA.Path(), 9600, "port_busy", ""},
		{"ErrPortNotFound", app.DeviceIDReader, filepath.Join(r.dir, "ttyNONE"), 115200, "port_not_found", ""},
		{"ErrNoPort", app.DeviceIDReader, "", 115200, "port_not_found", ""},
		{"ErrBaud", app.DeviceIDReader, r.idB.Path(), 1234, "baud", ""},
		{"ErrKind", app.DeviceKind("printer"), r.idB.Path(), 115200, "kind", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			detail, err := r.adm.Probe(ctx, tc.kind, tc.port, tc.baud)
			if tc.reason != "" {
				if app.ErrorReason(err) != tc.reason {
					t.Fatalf("got %q %v, want %s", detail, err, tc.reason)
				}
				return
			}
			if err != nil || !strings.Contains(detail, tc.detail) {
				t.Fatalf("got %q %v", detail, err)
			}
		})
	}
}

func TestAdminPorts(t *testing.T) {
	r := newAdminRig(t)
	ports := r.adm.Ports()
	byPath := map[string]app.PortInfo{}
	for _, p := range ports {
		byPath[p.Path] = p
	}
	usb := byPath["/dev/serial/by-id/usb-FTDI_FT232R-if00"]
	if usb.Description != "FTDI FT232R USB UART · USB 0403:6001 · ftdi_sio · S/N A5XK3RJT" || usb.InUseBy != "" {
		t.Fatalf("usb port %+v", usb)
	}
	if p := byPath[r.idB.Path()]; p.Description != "simulated ID-card reader B" || p.InUseBy != "" {
		t.Fatalf("extra port %+v", p)
	}
	if p := byPath[r.idA.Path()]; p.InUseBy != app.DeviceIDReader {
		t.Fatalf("configured ID port %+v", p)
	}
	if p := byPath[r.scanA.Path()]; p.InUseBy != app.DeviceScanner {
		t.Fatalf("configured scanner port %+v", p)
	}
	if len(ports) != 4 {
		t.Fatalf("ports %+v", ports)
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	base := devices.Config{IDReader: devices.PortConfig{Port: "/dev/ttyUSB0", Baud: 115200}, Scanner: devices.PortConfig{Port: "/dev/ttyACM0", Baud: 9600}}
	for _, tc := range []struct {
		name    string
		content string // "" = no file
		want    devices.Config
		wantErr bool
	}{
		{"NoFileKeepsBase", "", base, false},
		{"FileWinsPerDevice", `{"version":1,"id_reader":{"port":"/dev/ttyUSB3","baud":57600}}`,
			devices.Config{IDReader: devices.PortConfig{Port: "/dev/ttyUSB3", Baud: 57600}, Scanner: base.Scanner}, false},
		{"SavedEmptyPortUnconfigures", `{"version":1,"scanner":{"port":"","baud":0}}`,
			devices.Config{IDReader: base.IDReader}, false},
		{"ErrMalformedKeepsBase", `{"version":1,"id_reader":`, base, true},
		{"ErrVersionKeepsBase", `{"version":7}`, base, true},
		{"ErrBaudKeepsBase", `{"version":1,"id_reader":{"port":"/dev/x","baud":3}}`, base, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := devices.LoadSettings(path, base)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %+v %v", got, err)
			}
		})
	}
}
