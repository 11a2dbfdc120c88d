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
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"github.com/BurntSushi/toml"

	"stationdesk/app"
	"stationdesk/assets"
	"stationdesk/devices"
	"stationdesk/devices/diag"
	"stationdesk/offline/central"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/outbox/upgrades"
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

// subcommands are the headless tools implemented by the adapters; each
// returns its exit code.
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"devices":    diag.Main,
	"centralsim": cmdCentralsim,
	"serve":      cmdServe,
	"gatesim":    cmdGatesim,
	"audit":      ledger.AuditMain,
	"bench":      cmdBench,
}

const usage = `usage:
  stationdesk [--config FILE] [--data DIR] [--demo] [--lang zh|en] [--text-size normal|large|larger]
  stationdesk version
  stationdesk doc check --type cn-id|residence-permit|foreign-pr|hkmo-permit|tw-permit|passport|auto NUMBER
  stationdesk config example
  stationdesk devices list | read-id | read-card | scan | sim | bench   (field diagnostics; --help)
  stationdesk centralsim --listen ADDR --data DIR [--synthetic N]      (central simulator)
  stationdesk serve --config FILE                                      (gate verify service, headless)
  stationdesk gatesim --target URL --gate-id ID --key-file F --rate R --duration D
  stationdesk audit verify --data DIR                                  (check the audit hash chain)
  stationdesk bench gate [--size N] | bench devices
`

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func cmdVersion(stdout io.Writer) int {
	info := map[string]string{"name": "stationdesk", "version": version, "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "-tags" {
				info[strings.TrimPrefix(s.Key, "-")] = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "fyne.io/fyne/v2" {
				info["fyne"] = d.Version
			}
		}
	}
	writeJSON(stdout, info)
	return 0
}

// cmdDoc implements `stationdesk doc check --type TYPE NUMBER`. It exits 0
// only when the number is valid; the output never holds the full number.
func cmdDoc(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("doc check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "auto", "document type: auto, "+docTypeNames())
	lang := fs.String("lang", "en", "language of the error message: en or zh")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// Allow the number before or after --type.
	number := strings.Join(fs.Args(), " ")
	r := app.CheckDocument(*typ, number, app.Lang(*lang))
	writeJSON(stdout, r)
	if !r.Valid {
		return 1
	}
	return 0
}

func docTypeNames() string {
	var s []string
	for _, t := range app.DocTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "example" {
		_, _ = stdout.Write(assets.ConfigExample)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

// Config is the configuration file (TOML); see assets/config/stationdesk.example.toml.
type Config struct {
	DataDir    string `toml:"data_dir"`
	StationID  string `toml:"station_id"`
	TerminalID string `toml:"terminal_id"`
	Language   string `toml:"language"`
	TextSize   string `toml:"text_size"`
	IdleLock   string `toml:"idle_lock"`
	FareTable  string `toml:"fare_table"`
	Devices    struct {
		IDReader       string `toml:"id_reader"`
		IDReaderBaud   int    `toml:"id_reader_baud"`
		CardReader     string `toml:"card_reader"`
		CardReaderBaud int    `toml:"card_reader_baud"`
		Scanner        string `toml:"scanner"`
		ScannerBaud    int    `toml:"scanner_baud"`
	} `toml:"devices"`
	Central struct {
		URL        string `toml:"url"`
		TokenFile  string `toml:"token_file"`
		CAFile     string `toml:"ca_file"`
		ClientCert string `toml:"client_cert"`
		ClientKey  string `toml:"client_key"`
		Timeout    string `toml:"timeout"`
	} `toml:"central"`
	Gate struct {
		Listen string `toml:"listen"`
		Mode   string `toml:"mode"`
	} `toml:"gate"`

	demo bool
}

// loadConfig reads path (TOML). Unknown keys are an error: a misspelt key
// silently ignored is how a station ends up on the wrong port.
func loadConfig(path string) (Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("read config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("config %s: unknown setting %q", path, und[0].String())
	}
	return c, nil
}

// defaults fills what the file left empty.
func (c *Config) defaults() {
	if c.Language == "" {
		c.Language = "zh"
	}
	if c.TextSize == "" {
		c.TextSize = "large"
	}
	if c.IdleLock == "" {
		c.IdleLock = "5m"
	}
	if c.StationID == "" {
		c.StationID = "BJ-0000"
	}
	if c.TerminalID == "" {
		c.TerminalID = "T01"
	}
	if c.Devices.IDReaderBaud == 0 {
		c.Devices.IDReaderBaud = 115200
	}
	if c.Devices.CardReaderBaud == 0 {
		c.Devices.CardReaderBaud = 115200
	}
	if c.Devices.ScannerBaud == 0 {
		c.Devices.ScannerBaud = 9600
	}
	if c.Central.Timeout == "" {
		c.Central.Timeout = "4s"
	}
	if c.Gate.Mode == "" {
		c.Gate.Mode = "test"
	}
}

func (c *Config) validate() error {
	if c.Language != "zh" && c.Language != "en" {
		return fmt.Errorf("language must be zh or en, not %q", c.Language)
	}
	switch c.TextSize {
	case "normal", "large", "larger":
	default:
		return fmt.Errorf("text_size must be normal, large or larger, not %q", c.TextSize)
	}
	for name, v := range map[string]string{"idle_lock": c.IdleLock, "central.timeout": c.Central.Timeout} {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%s must be a duration like 5m or 4s, not %q", name, v)
		}
	}
	switch c.Gate.Mode {
	case "off", "test", "enforce":
	default:
		return fmt.Errorf("gate.mode must be off, test or enforce, not %q", c.Gate.Mode)
	}
	return nil
}

// defaultDataDir is the user's data directory for StationDesk (demo mode
// uses a folder of its own so demo riders never mix with real records).
func defaultDataDir(demo bool) (string, error) {
	name := "stationdesk"
	if demo {
		name = "stationdesk-demo"
	}
	if runtime.GOOS == "windows" {
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "StationDesk", map[bool]string{true: "demo", false: "data"}[demo]), nil
		}
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, name), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the data folder; pass --data DIR: %w", err)
	}
	if runtime.GOOS == "darwin" {
		return filepath.Join(home, "Library", "Application Support", name), nil
	}
	return filepath.Join(home, ".local", "share", name), nil
}

// ensureWritable creates dir (0700: it holds personal data) and proves it
// can be written, so a read-only or full data folder is reported at start
// with its path rather than at the first sale.
func ensureWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	os.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	return nil
}

// deskFlags are the flags of the desk itself.
type deskFlags struct {
	config, data, lang, textSize string
	demo                         bool
}

func parseDeskFlags(args []string, stderr io.Writer) (deskFlags, Config, error) {
	var f deskFlags
	fs := flag.NewFlagSet("stationdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&f.config, "config", "", "configuration file (TOML); without it StationDesk runs in demo mode")
	fs.StringVar(&f.data, "data", "", "data folder (overrides data_dir)")
	fs.BoolVar(&f.demo, "demo", false, "demo mode: simulated readers, central simulator, demo riders (default when no --config)")
	fs.StringVar(&f.lang, "lang", "", "interface language: zh or en")
	fs.StringVar(&f.textSize, "text-size", "", "text size: normal, large or larger")
	if err := fs.Parse(args); err != nil {
		return f, Config{}, err
	}
	if fs.NArg() > 0 {
		return f, Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var c Config
	if f.config != "" {
		var err error
		if c, err = loadConfig(f.config); err != nil {
			return f, c, err
		}
	}
	c.demo = f.demo || f.config == ""
	if f.data != "" {
		c.DataDir = f.data
	}
	if f.lang != "" {
		c.Language = f.lang
	}
	if f.textSize != "" {
		c.TextSize = f.textSize
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return f, c, err
	}
	if c.DataDir == "" {
		d, err := defaultDataDir(c.demo)
		if err != nil {
			return f, c, err
		}
		c.DataDir = d
	}
	return f, c, nil
}

// newLogger writes JSON lines to dir/stationdesk.log and stderr. Domain
// types redact themselves, so a log line never holds a full ID number.
func newLogger(dir string, stderr io.Writer) (*slog.Logger, func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "stationdesk.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	h := slog.NewJSONHandler(io.MultiWriter(f, stderr), &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(h), func() { f.Close() }, nil
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
	w.Resize(fyne.NewSize(1280, 860))
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
	idle, _ := time.ParseDuration(cfg.IdleLock)
	deps := ui.Deps{
		Auth: rt.ledger, Board: rt.board, Clock: rt.clock, Log: rt.log,
		Upgrades: rt.upgrades,
		Lang:     lang, Scale: scale, IdleLock: idle,
		SavePrefs: func(l app.Lang, s ui.TextScale) {
			prefs.SetString("lang", string(l))
			prefs.SetString("text_size", string(s))
		},
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
	if cfg.demo {
		deps.Mode = "DEMO"
		for _, d := range ledger.DemoOperators {
			deps.Demo = append(deps.Demo, ui.DemoLogin{ID: d.ID, PIN: d.PIN, Role: d.Role})
		}
	}
	desk := ui.NewDesk(a, w, deps)
	desk.Start()
	defer desk.Stop()
	rt.log.Info("desk ready", "demo", cfg.demo, "data", cfg.DataDir)
	fmt.Fprintln(stdout, "STATIONDESK READY")
	w.ShowAndRun()
	return 0
}

// runtime holds the started parts of the terminal.
type deskRuntime struct {
	cfg     Config
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
}

func (r *deskRuntime) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// startRuntime opens the data folder and the ledger and, in demo mode,
// seeds the demo operators.
func startRuntime(ctx context.Context, cfg Config, stderr io.Writer) (rt *deskRuntime, err error) {
	if err := ensureWritable(cfg.DataDir); err != nil {
		return nil, app.WrapError(err, app.CodeUnavailable, "data_dir",
			"数据目录无法写入："+cfg.DataDir+"。请检查磁盘空间和权限，或用 --data 指定其他目录。",
			"The data folder cannot be written: "+cfg.DataDir+". Check disk space and permissions, or choose another with --data.")
	}
	started := &deskRuntime{cfg: cfg, clock: app.SystemClock{}}
	rt = started
	defer func() {
		if err != nil {
			started.close()
		}
	}()
	if f, err := os.OpenFile(filepath.Join(cfg.DataDir, "crash.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
		// A crash prints goroutine stacks, never values of personal-data
		// types (they are not in stack traces' argument words as text).
		_ = debug.SetCrashOutput(f, debug.CrashOptions{})
		rt.closers = append(rt.closers, func() { f.Close() })
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
	if cfg.demo {
		if _, err := l.SeedDemo(ctx); err != nil {
			return nil, err
		}
	}
	rt.purgers = append(rt.purgers, func(ctx context.Context, now time.Time) error {
		_, err := l.Purge(ctx, now)
		return err
	})
	if err := rt.startServices(ctx); err != nil {
		return nil, err
	}
	rt.startPurge(ctx)
	return rt, nil
}

// startTicketWindow builds the ticket-window use cases (issue 5) and starts
// the worker that forwards sales, exchanges and manual checks to central.
func (rt *deskRuntime) startTicketWindow(ctx context.Context, cancel context.CancelFunc, cc *central.Client, tokens *app.Tokenizer) error {
	var fares *app.FareTable
	var err error
	switch {
	case rt.cfg.FareTable != "":
		fares, err = sales.LoadFares(rt.cfg.FareTable)
	case rt.cfg.demo:
		fares, err = sales.ParseFares(assets.FaresDemo)
	default:
		rt.log.Warn("no fare_table configured: the ticket window is not available")
		return nil
	}
	if err != nil {
		return fmt.Errorf("fare table: %w", err)
	}
	sfw, err := sales.New(sales.Config{Ledger: rt.ledger, Sender: cc, Clock: rt.clock, Logger: rt.log.With("part", "salesfwd")})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = sfw.Run(ctx) }()
	rt.closers = append(rt.closers, func() { cancel(); <-done })
	rt.salesFwd = sfw
	rt.sales, err = app.NewSales(app.SalesConfig{Store: rt.ledger, Audit: rt.ledger, Cards: rt.devAdmin.CardReader(), Tokens: tokens, Fares: fares,
		Health: sales.Central{Client: cc}, Welfare: sales.Central{Client: cc}, Auth: rt.ledger, Station: rt.cfg.StationID,
		Forwarded: sfw.Kick, Clock: rt.clock, Logger: rt.log.With("part", "sales")})
	if err != nil {
		return err
	}
	up := rt.upgrades
	rt.shifts, err = app.NewShifts(app.ShiftsConfig{Store: rt.ledger, ExportDir: rt.cfg.DataDir, Clock: rt.clock, Logger: rt.log.With("part", "shifts"),
		PendingUpgrades: func(ctx context.Context) (int, error) {
			list, err := up.Pending(ctx, 1000)
			n := 0
			for _, p := range list {
				if p.State == app.PendingWaiting {
					n++
				}
			}
			return n, err
		}})
	return err
}

// settledPendingDays is how long a settled pending upgrade stays in the
// pending list (its personal data is erased when it settles; the audit log
// keeps the record).
const settledPendingDays = 30

// startPurge applies the retention periods (PIPL art. 19, 47) at start and
// then daily: personal data is deleted when its period ends even on a
// terminal that is never restarted.
func (rt *deskRuntime) startPurge(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	rt.closers = append(rt.closers, func() { cancel(); <-done })
	go func() {
		defer close(done)
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			for _, p := range rt.purgers {
				if err := p(ctx, rt.clock.Now()); err != nil && ctx.Err() == nil {
					rt.log.Warn("retention purge failed", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// startServices starts what the configuration asks for. In demo mode that
// is everything, on loopback and pseudo-terminals: the central simulator
// with the demo riders, the three simulated readers driven through the real
// serial code, the central client, the pending-upgrade worker and the gate
// verify service with its cache synced from the simulator. Otherwise each
// part starts only when configured; the rest say "not configured".
func (rt *deskRuntime) startServices(ctx context.Context) error {
	cfg := rt.cfg
	ctx, cancel := context.WithCancel(ctx)
	rt.closers = append(rt.closers, cancel)
	centralURL, token := cfg.Central.URL, ""
	devCfg := devices.Config{
		IDReader:   devices.PortConfig{Port: cfg.Devices.IDReader, Baud: cfg.Devices.IDReaderBaud},
		CardReader: devices.PortConfig{Port: cfg.Devices.CardReader, Baud: cfg.Devices.CardReaderBaud},
		Scanner:    devices.PortConfig{Port: cfg.Devices.Scanner, Baud: cfg.Devices.ScannerBaud},
	}
	gateListen := cfg.Gate.Listen

	if cfg.demo {
		rt.demo = &demoRig{}
		var err error
		if centralURL, token, err = rt.startDemoCentral(ctx); err != nil {
			return err
		}
		if err := rt.startDemoDevices(ctx, &devCfg); err != nil {
			return err
		}
		gateListen = "127.0.0.1:0"
		rt.log.Info("demo mode", "central", centralURL, "id_reader", devCfg.IDReader.Port, "card_reader", devCfg.CardReader.Port, "scanner", devCfg.Scanner.Port)
	} else if cfg.Central.TokenFile != "" {
		b, err := os.ReadFile(cfg.Central.TokenFile)
		if err != nil {
			return fmt.Errorf("central token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}

	// The supervisor's choice in Settings (devices.json) wins over the
	// configuration file and the demo ptys.
	settingsPath := filepath.Join(cfg.DataDir, devices.SettingsFile)
	if merged, err := devices.LoadSettings(settingsPath, devCfg); err != nil {
		rt.log.Warn("device settings file ignored", "err", err)
	} else {
		devCfg = merged
	}
	extraPorts := rt.demoPorts()
	adm, err := devices.StartAdmin(ctx, devices.AdminConfig{Config: devCfg, SettingsPath: settingsPath, Board: rt.board, Clock: rt.clock,
		Logger: rt.log.With("part", "devices"), Audit: rt.ledger, Terminal: cfg.TerminalID, ExtraPorts: extraPorts})
	if err != nil {
		return err
	}
	rt.devAdmin = adm
	// Cancel before waiting: closers run in reverse order, after this one
	// the context would still be live.
	rt.closers = append(rt.closers, func() { cancel(); adm.Wait() })

	if centralURL != "" {
		timeout, _ := time.ParseDuration(cfg.Central.Timeout)
		cc, err := central.New(central.Config{BaseURL: centralURL, StationToken: token, CAFile: cfg.Central.CAFile,
			ClientCertFile: cfg.Central.ClientCert, ClientKeyFile: cfg.Central.ClientKey, CallTimeout: timeout,
			Status: rt.board, Clock: rt.clock, Logger: rt.log.With("part", "central")})
		if err != nil {
			return fmt.Errorf("central client: %w", err)
		}
		rt.central = cc
		go func() { _ = cc.Probe(ctx) }()

		outbox, err := upgrades.OpenOutbox(ctx, filepath.Join(cfg.DataDir, "pending.db"), upgrades.OutboxOptions{Sealer: rt.ledger.Keys(), Clock: rt.clock, Logger: rt.log})
		if err != nil {
			return err
		}
		rt.closers = append(rt.closers, func() { outbox.Close() })
		rt.purgers = append(rt.purgers, func(ctx context.Context, now time.Time) error {
			_, err := outbox.Purge(ctx, now.AddDate(0, 0, -settledPendingDays))
			return err
		})
		tokens, err := app.NewTokenizer(rt.ledger.Keys().Index[:])
		if err != nil {
			return err
		}
		up, err := app.NewUpgrades(app.UpgradesConfig{Central: cc, Outbox: outbox, Audit: rt.ledger, Tokens: tokens, Clock: rt.clock, Logger: rt.log.With("part", "upgrades")})
		if err != nil {
			return err
		}
		rt.upgrades = up
		if err := rt.startTicketWindow(ctx, cancel, cc, tokens); err != nil {
			return err
		}
		w, err := upgrades.New(upgrades.Config{Outbox: outbox, Completer: up, Clock: rt.clock, Logger: rt.log.With("part", "forward")})
		if err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		rt.closers = append(rt.closers, func() { cancel(); <-done })
	} else {
		rt.board.Set(app.CompCentral, app.StateNotConfigured, "")
	}

	if gateListen != "" && centralURL != "" {
		sc := verify.ServeConfig{DataDir: cfg.DataDir, Listen: gateListen, Mode: app.GateMode(cfg.Gate.Mode), StationID: cfg.StationID}
		sc.Central.URL, sc.Central.CAFile = centralURL, cfg.Central.CAFile
		sc.Central.TokenFile = cfg.Central.TokenFile
		d := verify.Deps{Clock: rt.clock, Logger: rt.log.With("part", "gate"), Status: rt.board, Audit: rt.ledger}
		if cfg.demo {
			if err := rt.demoGateConfig(&sc, &d, token); err != nil {
				return err
			}
		}
		st, err := verify.Start(ctx, sc, d)
		if err != nil {
			return fmt.Errorf("gate verify service: %w", err)
		}
		rt.gate = st
		rt.closers = append(rt.closers, func() { st.Stop() })
		if cfg.demo {
			if err := rt.startDemoGate(ctx, st); err != nil {
				return err
			}
		}
	}
	return nil
}
