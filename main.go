// Command stationdesk is the station window terminal of Beijing's transit
// ticketing upgrade (站务台): the Fyne desk for ticket clerks and service-desk
// assistants, the serial readers, and the gate verify service.
//
// This file is the composition root: it reads the configuration and flags,
// builds the parts, starts the services and hands the use cases to the ui.
//
//	stationdesk                         the desk in demo mode (no config)
//	stationdesk --config FILE           the desk against real devices and central
//	stationdesk version                 build information (JSON)
//	stationdesk doc check --type T NUM  validate a document number (JSON)
//	stationdesk config example          print a commented example configuration
//
// Sub-commands print JSON and exit non-zero on failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	fyneapp "fyne.io/fyne/v2/app"

	"stationdesk/app"
	"stationdesk/app/config"
	"stationdesk/devices"
	"stationdesk/devices/diag"
	"stationdesk/offline/central"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/verify"
	"stationdesk/ui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a sub-command or starts the desk; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest := args[0], args[1:]
		switch cmd {
		case "version":
			return cmdVersion(stdout)
		case "doc":
			return cmdDoc(rest, stdout, stderr)
		case "config":
			return cmdConfig(rest, stdout, stderr)
		}
		if f, ok := subcommands[cmd]; ok {
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return f(ctx, rest, stdout, stderr)
		}
		fmt.Fprintf(stderr, "stationdesk: unknown command %q\n%s", cmd, usage)
		return 2
	}
	return runDesk(ctx, args, stdout, stderr)
}

// subcommands are the headless tools, each in a cmd_NAME.go file of this
// package (devices: the field diagnostics of devices/diag, also built
// alone as devdiag); each returns its exit code.
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"devices":    diag.Main,
	"centralsim": cmdCentralsim,
	"serve":      cmdServe,
	"gates":      cmdGates,
	"gatesim":    cmdGatesim,
	"audit":      cmdAudit,
	"bench":      cmdBench,
	"setup":      cmdSetup,
}

const usage = `usage:
  stationdesk [--config FILE] [--data DIR] [--demo] [--lang zh|en] [--text-size normal|large|larger]
  stationdesk version
  stationdesk doc check --type cn-id|residence-permit|foreign-pr|hkmo-permit|tw-permit|passport|auto NUMBER
  stationdesk config example
  stationdesk setup --station-id ID --central URL --supervisor NUMBER  (production data folder; --help)
  stationdesk devices list | read-id | read-card | scan | sim | bench   (field diagnostics; --help)
  stationdesk centralsim --listen ADDR --data DIR [--synthetic N]      (central simulator)
  stationdesk serve --config FILE                                      (gate verify service, headless)
  stationdesk gates list|add|rotate|revoke|mode|export|import|cert --config FILE   (gate registry; --help)
  stationdesk gatesim --target URL --gate-id ID --key-file F --rate R --duration D
  stationdesk audit verify --data DIR                                  (check the audit hash chain)
  stationdesk bench gate [--size N] | bench devices
`

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// runDesk starts the GUI. Start-up problems (bad flags or config, a data
// folder that cannot be written, a damaged ledger) are reported on stderr
// with exit code 1 (2 for usage errors) before any window opens.
func runDesk(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, cfg, err := parseDeskFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "stationdesk:", err)
		return 2
	}
	rt, err := startRuntime(ctx, cfg, stderr)
	if err != nil {
		// Start-up errors name files and ports, never personal data, so
		// an unclassified one is shown as it is: it is what the technician
		// needs.
		var ae *app.Error
		if errors.As(err, &ae) {
			fmt.Fprintln(stderr, "stationdesk:", ae.Message(app.LangEN))
			fmt.Fprintln(stderr, "stationdesk:", ae.Message(app.LangZH))
		} else {
			fmt.Fprintln(stderr, "stationdesk:", err)
		}
		return 1
	}
	defer rt.close()

	a := fyneapp.NewWithID("cn.bjsubway.stationdesk")
	w := a.NewWindow("站务台 StationDesk")
	w.Resize(ui.DefaultWindowSize)
	prefs := a.Preferences()
	lang, scale := app.Lang(cfg.Language), ui.ParseTextScale(cfg.TextSize)
	// The clerk's last choice wins over the configuration file; a flag
	// given on this command line wins over both.
	if v := prefs.String("lang"); (v == "zh" || v == "en") && flags.lang == "" {
		lang = app.Lang(v)
	}
	if v := prefs.String("text_size"); v != "" && flags.textSize == "" {
		scale = ui.ParseTextScale(v)
	}
	deps := rt.uiDeps(lang, scale, func(l app.Lang, s ui.TextScale) {
		prefs.SetString("lang", string(l))
		prefs.SetString("text_size", string(s))
	})
	desk := ui.NewDesk(a, w, deps)
	desk.Start()
	// The window never exceeds the screen: sized from the monitor once
	// GLFW runs (DefaultWindowSize until then, and where it cannot tell).
	a.Lifecycle().SetOnStarted(func() {
		if area, ok := screenArea(w); ok {
			desk.FitScreen(area)
			rt.log.Info("window fitted", "screen", fmt.Sprintf("%.0fx%.0f", area.Width, area.Height))
		}
	})
	defer desk.Stop()
	rt.log.Info("desk ready", "demo", cfg.Demo, "data", cfg.DataDir)
	fmt.Fprintln(stdout, "STATIONDESK READY")
	w.ShowAndRun()
	return 0
}

// uiDeps hands the started parts to the interface: the use cases that
// are running (a nil one hides its screens), the demo panels in demo mode,
// the initial language and text size, and where the clerk's choice of
// them is saved.
func (rt *deskRuntime) uiDeps(lang app.Lang, scale ui.TextScale, save func(app.Lang, ui.TextScale)) ui.Deps {
	deps := ui.Deps{
		Auth: rt.ledger, Board: rt.board, Clock: rt.clock, Log: rt.log,
		Upgrades: rt.upgrades, AuditAlarm: rt.auditAlarm(),
		Lang: lang, Scale: scale, IdleLock: rt.cfg.IdleLockDuration(),
		SavePrefs: save,
	}
	if rt.devAdmin != nil {
		deps.IDReader, deps.CardReader, deps.Scanner = rt.devAdmin.IDReader(), rt.devAdmin.CardReader(), rt.devAdmin.Scanner()
		deps.DeviceAdmin = rt.devAdmin
	}
	if rt.gate != nil {
		deps.Gates, deps.GateSync = rt.gate.Server, rt.gate.Sync
	}
	if rt.sales != nil {
		deps.Sales, deps.Shifts, deps.Backlog = rt.sales, rt.shifts, rt.salesFwd
	}
	deps.Operators, deps.AuditLog = rt.ledger, rt.ledger
	rt.demoUIDeps(&deps)
	return deps
}

// deskRuntime holds the started parts of the terminal.
type deskRuntime struct {
	cfg     config.Config
	dir     *datadir.Dir // the locked data folder
	clock   app.Clock
	log     *slog.Logger
	board   *app.StatusBoard
	ledger  *ledger.Ledger
	closers []func()

	central  *central.Client
	upgrades *app.Upgrades
	sales    *app.Sales
	shifts   *app.Shifts
	salesFwd *sales.Worker
	devAdmin *devices.Admin
	gate     *verify.Station
	demo     *demoRig // demo mode only (demo.go)
	// purgers apply each store's retention periods (see startPurge).
	purgers []func(context.Context, time.Time) error
	// pendingAlarm is what the pending store's start check found
	// (checkPending), for the supervisor's banner.
	pendingAlarm string
}

func (r *deskRuntime) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// startRuntime brings the terminal up in order: the data folder (lock,
// kind, writable; datafolder.go), the crash log and the log (logging.go),
// the ledger with the demo operators in demo mode, the services
// (services.go), the files' permissions and the retention loop
// (retention.go). On an error it closes what it had started.
func startRuntime(ctx context.Context, cfg config.Config, stderr io.Writer) (rt *deskRuntime, err error) {
	// The folder's lock and kind come before anything in it is opened: a
	// second desk or serve stops here, and so does demo mode on a
	// production folder (or the other way round).
	kind := datadir.Production
	if cfg.Demo {
		kind = datadir.Demo
	}
	dir, err := datadir.Open(cfg.DataDir, kind)
	if err != nil {
		return nil, err
	}
	started := &deskRuntime{cfg: cfg, clock: app.SystemClock{}, dir: dir}
	started.closers = append(started.closers, func() { dir.Close() })
	rt = started
	defer func() {
		if err != nil {
			started.close()
		}
	}()
	if err := checkWritable(cfg.DataDir); err != nil {
		return nil, err
	}
	if closeCrash, ok := openCrashLog(cfg.DataDir); ok {
		rt.closers = append(rt.closers, closeCrash)
	}
	log, closeLog, err := newLogger(cfg.DataDir, stderr)
	if err != nil {
		return nil, err
	}
	rt.log = log
	rt.closers = append(rt.closers, closeLog)
	rt.board = app.NewStatusBoard(rt.clock)

	l, err := ledger.OpenDir(ctx, cfg.DataDir, ledger.Options{Clock: rt.clock, Logger: log, Terminal: cfg.TerminalID})
	if err != nil {
		return nil, err
	}
	rt.ledger = l
	rt.closers = append(rt.closers, func() { l.Close() })
	if cfg.Demo {
		if _, err := l.SeedDemo(ctx, dir, demoOperators()); err != nil {
			return nil, err
		}
	} else if err := refuseDemoData(ctx, l, cfg.DataDir); err != nil {
		return nil, err
	}
	rt.purgers = append(rt.purgers, func(ctx context.Context, now time.Time) error {
		_, err := l.Purge(ctx, now)
		return err
	})
	if err := rt.startServices(ctx); err != nil {
		return nil, err
	}
	// The stores have created their files (SQLite's follow the umask).
	if err := dir.Secure(); err != nil {
		return nil, err
	}
	rt.startPurge(ctx)
	return rt, nil
}
