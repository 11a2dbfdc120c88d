//go:build windows

package sim

import (
	"context"
	"errors"

	"stationdesk/app"
)

// The simulated readers talk to the real drivers over pseudo-terminals,
// which Windows does not have (a com0com virtual null-modem pair would be
// needed). On Windows StartDemo therefore refuses with ErrNoPTY; the
// types exist so the program builds, and a Windows station is set up with
// real readers (`stationdesk setup`). Demo mode runs on Linux.

// ErrNoPTY is StartDemo's error on Windows.
var ErrNoPTY = errors.New("sim: the simulated readers of demo mode need pseudo-terminals, which Windows lacks; run demo mode on Linux")

// DemoConfig configures StartDemo.
type DemoConfig struct {
	Dir  string
	Baud int
}

// DemoPorts are the paths the drivers open in demo mode.
type DemoPorts struct {
	IDReader   string `json:"id_reader"`
	CardReader string `json:"card_reader"`
	Scanner    string `json:"scanner"`
}

// Demo is never started on Windows; see ErrNoPTY.
type Demo struct{}

var _ app.DeviceSimulator = (*Demo)(nil)

// StartDemo returns ErrNoPTY on Windows.
func StartDemo(context.Context, DemoConfig) (*Demo, error) { return nil, ErrNoPTY }

func (d *Demo) Ports() DemoPorts              { return DemoPorts{} }
func (d *Demo) Close() error                  { return nil }
func (d *Demo) IDCards() []app.DemoItem       { return nil }
func (d *Demo) TransitCards() []app.DemoItem  { return nil }
func (d *Demo) PlaceIDCard(string) error      { return ErrNoPTY }
func (d *Demo) LiftIDCard()                   {}
func (d *Demo) PlaceTransitCard(string) error { return ErrNoPTY }
func (d *Demo) LiftTransitCard()              {}
func (d *Demo) ScanCode(string) error         { return ErrNoPTY }
func (d *Demo) Unplug(app.SimDevice) error    { return ErrNoPTY }
func (d *Demo) Replug(app.SimDevice) error    { return ErrNoPTY }
func (d *Demo) Plugged(app.SimDevice) bool    { return false }
