// Package devices is the runtime of StationDesk's serial devices: Start
// builds the ID-card reader, the transit-card reader and the QR scanner
// from configuration, runs their poll loops (each reporting its state on
// the app.StatusBoard) and hands them to main as app interfaces. Probe
// tests one port for the settings screen.
//
// The drivers live in the sub-packages idcard, transitcard and scanner;
// serial is the only door to hardware; sim provides pty simulators for
// tests and demo mode; diag is the technicians' command line.
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"stationdesk/app"
	"stationdesk/devices/idcard"
	"stationdesk/devices/scanner"
	"stationdesk/devices/serial"
	"stationdesk/devices/transitcard"
)

// PortConfig is one device's port. An empty Port means the device is not
// installed (StateNotConfigured); Baud 0 takes the device's default
// (115200 for the readers, 9600 for the scanner).
type PortConfig struct {
	Port string `toml:"port" json:"port"`
	Baud int    `toml:"baud" json:"baud"`
}

// Config is the device section of the terminal's configuration.
type Config struct {
	IDReader   PortConfig `toml:"id_reader" json:"id_reader"`
	CardReader PortConfig `toml:"card_reader" json:"card_reader"`
	Scanner    PortConfig `toml:"scanner" json:"scanner"`
}

// Bauds lists the rates the settings screen offers (GA 467 allows 115200,
// 57600, 38400, 19200, 9600).
var Bauds = []int{115200, 57600, 38400, 19200, 9600}

// Set is the running devices. The fields are never nil: an unconfigured
// device answers every call with a CodeUnavailable "not_configured" error.
type Set struct {
	ID      *idcard.Reader
	Card    *transitcard.Reader
	Scanner *scanner.Scanner

	wg sync.WaitGroup
}

// Start validates cfg, builds the three drivers and runs them until ctx
// ends. It returns at once; the drivers connect in the background (state
// Connecting, then Ready or Error on the board). An invalid baud rate is a
// CodeInvalid *app.Error with reason "baud".
func Start(ctx context.Context, cfg Config, board *app.StatusBoard, clock app.Clock, log *slog.Logger) (*Set, error) {
	for _, pc := range []PortConfig{cfg.IDReader, cfg.CardReader, cfg.Scanner} {
		if pc.Baud != 0 && !validBaud(pc.Baud) {
			return nil, app.NewError(app.CodeInvalid, "baud", "串口波特率无效。", fmt.Sprintf("Unsupported baud rate %d.", pc.Baud))
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = app.SystemClock{}
	}
	s := &Set{
		ID: idcard.New(idcard.Config{Port: cfg.IDReader.Port, Baud: cfg.IDReader.Baud, Board: board, Clock: clock, Logger: log}),
		Card: transitcard.New(transitcard.Config{Port: cfg.CardReader.Port, Baud: cfg.CardReader.Baud, Board: board,
			Clock: clock, Logger: log}),
		Scanner: scanner.New(scanner.Config{Port: cfg.Scanner.Port, Baud: cfg.Scanner.Baud, Board: board, Logger: log}),
	}
	for _, run := range []func(context.Context) error{s.ID.Run, s.Card.Run, s.Scanner.Run} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = run(ctx)
		}()
	}
	return s, nil
}

// Wait blocks until every driver has stopped (after ctx ended) and closed
// its port.
func (s *Set) Wait() { s.wg.Wait() }

func validBaud(b int) bool {
	switch b {
	case 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600:
		return true
	}
	return false
}

// Kind names a device for Probe.
type Kind string

// Device kinds.
const (
	KindIDReader   Kind = "idreader"
	KindCardReader Kind = "cardreader"
	KindScanner    Kind = "scanner"
)

// Probe tests port for the settings screen: the ID reader answers a status
// check (detail: its SAM module number), the card reader its version
// (detail: the model), a scanner port merely opens (a scanner speaks only
// when it scans). The port must not be in use by a running driver. Errors
// are *app.Error: CodeNotFound "port_not_found", CodeUnavailable
// "reader_not_responding" or "port_busy", CodeInvalid "baud".
func Probe(ctx context.Context, kind Kind, port string, baud int) (detail string, err error) {
	if baud != 0 && !validBaud(baud) {
		return "", app.NewError(app.CodeInvalid, "baud", "串口波特率无效。", fmt.Sprintf("Unsupported baud rate %d.", baud))
	}
	switch kind {
	case KindIDReader:
		detail, err = idcard.Probe(ctx, port, baud)
	case KindCardReader:
		detail, err = transitcard.Probe(ctx, port, baud, nil)
	case KindScanner:
		var p *serial.Port
		if baud == 0 {
			baud = 9600
		}
		if p, err = serial.Open(port, baud, 0); err == nil {
			p.Close()
			detail = "port opens; scan a code to test the scanner"
		}
	default:
		return "", app.NewError(app.CodeInvalid, "kind", "未知设备类型。", "Unknown device kind.")
	}
	return detail, classifyPortErr(err)
}

// classifyPortErr turns serial errors into app errors; app errors pass.
func classifyPortErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *app.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, serial.ErrNotFound) {
		return app.WrapError(err, app.CodeNotFound, "port_not_found", "找不到该串口，请检查连接线或重新选择端口。",
			"The serial port does not exist; check the cable or pick another port.")
	}
	return app.WrapError(err, app.CodeUnavailable, "port_busy", "无法打开串口（可能被占用或无权限）。",
		"The serial port cannot be opened (in use, or no permission).")
}
