//go:build !windows

package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/devices/idcard"
)

// DemoConfig configures StartDemo.
type DemoConfig struct {
	// Dir holds the stable port links (ttyIDREADER, ttyCARDREADER,
	// ttySCANNER); a fresh temporary directory when "" (removed by Close).
	Dir string
	// Baud throttles the simulated lines (115200 like the real readers);
	// 0 = unthrottled.
	Baud int
}

// DemoPorts are the paths the drivers open in demo mode.
type DemoPorts struct {
	IDReader   string `json:"id_reader"`
	CardReader string `json:"card_reader"`
	Scanner    string `json:"scanner"`
}

// Demo runs the three simulators of demo mode and implements
// app.DeviceSimulator for the GUI's simulator panel. The cards are the
// fictitious riders and cards of app/demo. Safe for concurrent use.
type Demo struct {
	ID      *IDReader
	Card    *CardReader
	Scanner *Scanner

	dir     string
	tempDir bool
	cancel  context.CancelFunc

	mu        sync.Mutex
	newTokens int // fresh blank tokens handed out (demo.NewTokenItem)
}

var _ app.DeviceSimulator = (*Demo)(nil)

// StartDemo creates the three simulated devices on ptys, each behind a
// stable link in cfg.Dir, and serves them until ctx ends or Close.
func StartDemo(ctx context.Context, cfg DemoConfig) (*Demo, error) {
	d := &Demo{dir: cfg.Dir}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "stationdesk-sim-")
		if err != nil {
			return nil, err
		}
		d.dir, d.tempDir = dir, true
	}
	ctx, d.cancel = context.WithCancel(ctx)
	var err error
	if d.ID, err = NewIDReader(ctx, filepath.Join(d.dir, "ttyIDREADER"), cfg.Baud); err != nil {
		d.Close()
		return nil, err
	}
	if d.Card, err = NewCardReader(ctx, filepath.Join(d.dir, "ttyCARDREADER"), cfg.Baud); err != nil {
		d.Close()
		return nil, err
	}
	if d.Scanner, err = NewScanner(filepath.Join(d.dir, "ttySCANNER"), cfg.Baud); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Ports returns the paths to configure the drivers with.
func (d *Demo) Ports() DemoPorts {
	return DemoPorts{IDReader: d.ID.Path(), CardReader: d.Card.Path(), Scanner: d.Scanner.Path()}
}

// Close stops the simulators and removes their ptys and links.
func (d *Demo) Close() error {
	d.cancel()
	var errs []error
	if d.ID != nil {
		errs = append(errs, d.ID.Close())
	}
	if d.Card != nil {
		errs = append(errs, d.Card.Close())
	}
	if d.Scanner != nil {
		errs = append(errs, d.Scanner.Close())
	}
	if d.tempDir {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	return errors.Join(errs...)
}

// chipDoc reports whether a document type is read by a GA 467 reader.
func chipDoc(t app.DocType) bool {
	return t == app.DocCNID || t == app.DocResidencePermit || t == app.DocForeignPR
}

// IDCards lists the demo riders whose document is a chip card, labelled
// with the document type, masked number and masked name.
func (d *Demo) IDCards() []app.DemoItem {
	var out []app.DemoItem
	for _, r := range demo.Riders() {
		id := r.Identity
		if !chipDoc(id.Doc.Type()) {
			continue
		}
		label := id.Doc.Type().Label(app.LangZH) + " " + id.Doc.Masked() + " " + id.Name.Masked()
		out = append(out, app.DemoItem{ID: r.Key, Label: label})
	}
	return out
}

// TransitCards lists every demo card (and the blank token) by kind and
// masked number.
func (d *Demo) TransitCards() []app.DemoItem {
	var out []app.DemoItem
	for _, c := range demo.Cards() {
		label := string(c.Kind) + " " + c.MaskedNumber()
		if c.Form == app.FormNFC {
			label += " (NFC)"
		}
		if c.City != "" {
			label += " " + c.City
		}
		out = append(out, app.DemoItem{ID: c.Number, Label: label})
	}
	return append(out, app.DemoItem{ID: demo.NewTokenItem, Label: "new blank single-journey token"})
}

var errNoSuchItem = app.NewError(app.CodeNotFound, "demo_item", "没有这张演示卡。", "No such demo card.")

// PlaceIDCard places the document of demo rider key on the ID reader
// (foreign-pr documents as a 2017 card for 15-character numbers, a 2023
// card otherwise).
func (d *Demo) PlaceIDCard(key string) error {
	r, ok := demo.RiderByKey(key)
	if !ok || !chipDoc(r.Identity.Doc.Type()) {
		return errNoSuchItem
	}
	kind := idcard.KindForeign2023
	if len(r.Identity.Doc.Reveal()) == 15 {
		kind = idcard.KindForeign2017
	}
	return d.ID.Place(r.Identity, kind)
}

// LiftIDCard lifts the card from the ID reader.
func (d *Demo) LiftIDCard() { d.ID.Lift() }

// PlaceTransitCard places the demo card with this number on the card
// reader; demo.NewTokenItem places a fresh blank token with a new serial.
// A token placed again carries what was written on it (see
// CardReader.Place).
func (d *Demo) PlaceTransitCard(number string) error {
	if number == demo.NewTokenItem {
		d.mu.Lock()
		d.newTokens++
		n := d.newTokens
		d.mu.Unlock()
		return d.Card.Place(app.Card{Number: fmt.Sprintf("99%08d", 100+n), Kind: app.CardSingleJourney, Form: app.FormPhysical})
	}
	for _, c := range demo.Cards() {
		if c.Number == number {
			return d.Card.Place(c)
		}
	}
	return errNoSuchItem
}

// LiftTransitCard lifts the card from the card reader.
func (d *Demo) LiftTransitCard() { d.Card.Lift() }

// ScanCode makes the scanner send code with a CR terminator. It returns
// once the bytes are written (a few ms at 115200 baud).
func (d *Demo) ScanCode(code string) error {
	if len(code) > 64*1024 {
		return app.NewError(app.CodeInvalid, "code_too_long", "码过长。", "Code too long.")
	}
	return d.Scanner.Scan(code, "\r")
}

func (d *Demo) line(dev app.SimDevice) (*Line, error) {
	switch dev {
	case app.SimIDReader:
		return d.ID.Line(), nil
	case app.SimCardReader:
		return d.Card.Line(), nil
	case app.SimScanner:
		return d.Scanner.Line(), nil
	}
	return nil, app.NewError(app.CodeNotFound, "sim_device", "没有这个模拟设备。", "No such simulated device.")
}

// Unplug pulls the simulated cable of dev.
func (d *Demo) Unplug(dev app.SimDevice) error {
	l, err := d.line(dev)
	if err != nil {
		return err
	}
	return l.Unplug()
}

// Replug plugs dev back in under the same port name.
func (d *Demo) Replug(dev app.SimDevice) error {
	l, err := d.line(dev)
	if err != nil {
		return err
	}
	return l.Replug()
}

// Plugged reports whether dev is plugged in.
func (d *Demo) Plugged(dev app.SimDevice) bool {
	l, err := d.line(dev)
	return err == nil && l.Plugged()
}
