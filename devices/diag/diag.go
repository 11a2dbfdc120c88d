// Package diag is the field technicians' command line for the serial
// devices: `stationdesk devices list | read-id | read-card | scan | sim |
// bench`. main.go calls Main with the arguments after "devices", and
// cmd/devdiag runs it as a headless binary. It is a command package: it
// parses flags and prints, and holds no logic of its own beyond formatting;
// the drivers it starts are devices/idcard, devices/transitcard and
// devices/scanner, the simulators devices/sim.
//
// Every command prints JSON lines on stdout (one object per line, an
// "event" field first) and human-readable errors on stderr. Personal
// fields (document number, names, address, card number, scanned code) are
// masked unless --reveal is given; the photo is never printed.
//
// Exit codes: 0 success, 1 device or protocol error (or a rejected card),
// 2 usage error or missing port, 3 timeout.
package diag

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/devices/idcard"
	"stationdesk/devices/scanner"
	"stationdesk/devices/serial"
	"stationdesk/devices/transitcard"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitDevice  = 1
	ExitUsage   = 2
	ExitTimeout = 3
)

const usage = `usage: stationdesk devices <command> [flags]

commands:
  list                                   list candidate serial ports
  read-id   --port P [--baud N] [--timeout D] [--reveal] [--at YYYY-MM-DD]
                                         wait for an ID card and print it
  read-card --port P [--baud N] [--timeout D] [--reveal]
                                         wait for a transit card and print it
  scan      --port P [--baud N] [--timeout D] [--reveal]
                                         wait for a scanned code and print it
  sim       [--dir D] [--baud N] [--place-id KEY] [--place-card NUMBER]
                                         run the simulated devices on ptys; commands on stdin
  bench     [--n N] [--idle D]           measure read latency and idle CPU against the simulators
`

// Main runs a devices command with os.Stdin as input; see MainIO.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return MainIO(ctx, args, os.Stdin, stdout, stderr)
}

// MainIO runs a devices command and returns the exit code. stdin is read
// by `sim` only.
func MainIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	out := &jsonOut{w: stdout}
	switch args[0] {
	case "list":
		return list(out, stderr)
	case "read-id", "read-card", "scan":
		return read(ctx, args[0], args[1:], out, stderr)
	case "sim":
		return runSim(ctx, args[1:], stdin, out, stderr)
	case "bench":
		return runBench(ctx, args[1:], out, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return ExitUsage
}

// jsonOut writes one JSON object per line; safe for concurrent use.
type jsonOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *jsonOut) emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Write(append(b, '\n'))
}

func list(out *jsonOut, stderr io.Writer) int {
	ports := serial.List()
	if len(ports) == 0 {
		fmt.Fprintln(stderr, "no serial ports found (looked for /dev/serial/by-id/*, /dev/ttyUSB*, /dev/ttyACM*)")
	}
	for _, p := range ports {
		out.emit(struct {
			Event string `json:"event"`
			serial.PortInfo
		}{"port", p})
	}
	return ExitOK
}

type readFlags struct {
	port    string
	baud    int
	timeout time.Duration
	reveal  bool
	at      string
	verbose bool
}

func read(ctx context.Context, cmd string, args []string, out *jsonOut, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f readFlags
	defBaud := 115200
	if cmd == "scan" {
		defBaud = 9600
	}
	fs.StringVar(&f.port, "port", "", "serial port path (see `devices list`)")
	fs.IntVar(&f.baud, "baud", defBaud, "baud rate")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for a card or code")
	fs.BoolVar(&f.reveal, "reveal", false, "print personal fields unmasked")
	fs.BoolVar(&f.verbose, "v", false, "log driver events to stderr")
	if cmd == "read-id" {
		fs.StringVar(&f.at, "at", "", "validate the document as of this date (YYYY-MM-DD; default today)")
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if f.port == "" {
		fmt.Fprintf(stderr, "%s: --port is required (see `stationdesk devices list`)\n", cmd)
		return ExitUsage
	}
	if _, err := os.Stat(f.port); err != nil {
		fmt.Fprintf(stderr, "%s: port %s not found\n", cmd, f.port)
		return ExitUsage
	}
	var clock app.Clock = app.SystemClock{}
	if f.at != "" {
		t, err := time.ParseInLocation("2006-01-02", f.at, time.FixedZone("CST", 8*3600))
		if err != nil {
			fmt.Fprintf(stderr, "%s: --at: want YYYY-MM-DD\n", cmd)
			return ExitUsage
		}
		clock = app.NewFakeClock(t.Add(12 * time.Hour))
	}
	log := slog.New(slog.DiscardHandler)
	if f.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	board := app.NewStatusBoard(app.SystemClock{})
	board.Subscribe(func(s app.Status) {
		out.emit(map[string]string{"event": "status", "component": string(s.Component), "state": string(s.State), "detail": s.Detail})
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var run func(context.Context) error
	var wait func(context.Context) (any, error)
	switch cmd {
	case "read-id":
		r := idcard.New(idcard.Config{Port: f.port, Baud: f.baud, Board: board, Clock: clock, Logger: log})
		run = r.Run
		wait = func(c context.Context) (any, error) {
			id, err := r.ReadID(c)
			if err != nil {
				return nil, err
			}
			return identityJSON(id, f.reveal, r.SAMID()), nil
		}
	case "read-card":
		r := transitcard.New(transitcard.Config{Port: f.port, Baud: f.baud, Board: board, Clock: clock, Logger: log})
		run = r.Run
		wait = func(c context.Context) (any, error) {
			card, err := r.ReadCard(c)
			if err != nil {
				return nil, err
			}
			return cardJSON(card, f.reveal), nil
		}
	case "scan":
		s := scanner.New(scanner.Config{Port: f.port, Baud: f.baud, Board: board, Logger: log})
		run = s.Run
		wait = func(c context.Context) (any, error) {
			code, err := s.Scan(c)
			if err != nil {
				return nil, err
			}
			shown := code
			if !f.reveal {
				shown = maskCode(code)
			}
			return map[string]any{"event": "code", "len": len(code), "code": shown}, nil
		}
	}
	done := make(chan struct{})
	go func() { run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	v, err := wait(wctx)
	if err != nil {
		st := board.Get(componentOf(cmd))
		reason := app.ErrorReason(err)
		out.emit(map[string]string{"event": "error", "reason": reason, "message": app.UserMessage(err, app.LangEN)})
		switch {
		case reason == "timeout":
			fmt.Fprintf(stderr, "%s: timeout: nothing read within %s (device %s %s)\n", cmd, f.timeout, st.State, st.Detail)
			return ExitTimeout
		case app.ErrorCode(err) == app.CodeInvalid:
			fmt.Fprintf(stderr, "%s: rejected: %s (%s)\n", cmd, app.UserMessage(err, app.LangEN), reason)
		default:
			fmt.Fprintf(stderr, "%s: %s (%s; device %s %s)\n", cmd, app.UserMessage(err, app.LangEN), reason, st.State, st.Detail)
		}
		return ExitDevice
	}
	out.emit(v)
	return ExitOK
}

func componentOf(cmd string) app.Component {
	switch cmd {
	case "read-id":
		return app.CompIDReader
	case "read-card":
		return app.CompCardReader
	}
	return app.CompScanner
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// identityJSON is the printed form of an identity: masked unless reveal.
func identityJSON(id app.Identity, reveal bool, samID string) map[string]any {
	m := map[string]any{
		"event": "identity", "doc_type": string(id.Doc.Type()), "doc": id.Doc.Masked(),
		"name": id.Name.Masked(), "gender": id.Gender.Code(), "gender_label": id.Gender.Label(app.LangEN),
		"valid_from": date(id.ValidFrom), "valid_to": date(id.ValidTo), "long_term": id.LongTerm,
		"photo_bytes": len(id.Photo), "source": id.Source,
	}
	if !id.OtherName.IsZero() {
		m["other_name"] = id.OtherName.Masked()
	}
	if id.Nation != "" {
		m["nation"] = id.Nation
		if n, ok := app.NationName(id.Nation, app.LangZH); ok {
			m["nation_label"] = n
		}
	}
	if id.Nationality != "" {
		m["nationality"] = id.Nationality
	}
	if id.Authority != "" {
		m["authority"] = id.Authority
	}
	if id.PermitNumber != "" {
		m["permit_number"] = maskCode(id.PermitNumber)
	}
	if id.IssueCount != 0 {
		m["issue_count"] = id.IssueCount
	}
	if samID != "" {
		m["sam_id"] = samID
	}
	if reveal {
		m["doc"] = id.Doc.Reveal()
		m["name"] = id.Name.Reveal()
		if !id.OtherName.IsZero() {
			m["other_name"] = id.OtherName.Reveal()
		}
		m["birth"] = date(id.Birth)
		m["address"] = id.Address.Reveal()
		if id.PermitNumber != "" {
			m["permit_number"] = id.PermitNumber
		}
	}
	return m
}

func cardJSON(c app.Card, reveal bool) map[string]any {
	m := map[string]any{"event": "card", "number": c.MaskedNumber(), "kind": string(c.Kind), "form": string(c.Form),
		"upgradeable": c.Kind.Upgradeable()}
	if reveal {
		m["number"] = c.Number
	}
	if c.City != "" {
		m["city"] = c.City
	}
	if !c.ValidTo.IsZero() {
		m["valid_to"] = date(c.ValidTo)
	}
	if c.Balance >= 0 || c.Kind == app.CardOrdinary {
		m["balance_fen"] = c.Balance
	}
	return m
}

// maskCode keeps the first four characters of a code.
func maskCode(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", min(len(r)-4, 16))
}
