package devices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/devices/idcard"
	"stationdesk/devices/scanner"
	"stationdesk/devices/serial"
	"stationdesk/devices/transitcard"
)

// SettingsFile is the name of the device settings file in the data folder.
//
// Precedence at start (main.go): the devices section of the configuration
// file gives the ports; demo mode replaces them with the simulator ptys;
// then every device that SettingsFile names wins over both, because it is
// the supervisor's later, audited choice made on this terminal (a device
// missing from the file keeps the earlier value). Delete the file to go
// back to the configuration file.
const SettingsFile = "devices.json"

// settingsVersion is the format of SettingsFile.
const settingsVersion = 1

// savedSettings is SettingsFile's JSON. A nil device is "not saved".
type savedSettings struct {
	Version    int         `json:"version"`
	IDReader   *PortConfig `json:"id_reader,omitempty"`
	CardReader *PortConfig `json:"card_reader,omitempty"`
	Scanner    *PortConfig `json:"scanner,omitempty"`
}

// LoadSettings returns base with the devices saved in the file at path laid
// over it (see SettingsFile for the precedence). A missing file is not an
// error. An unreadable or malformed file returns base and an error: the
// caller logs it and runs with base rather than refusing to start.
func LoadSettings(path string, base Config) (Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return base, fmt.Errorf("device settings %s: %w", filepath.Base(path), err)
	}
	var s savedSettings
	if err := json.Unmarshal(b, &s); err != nil || s.Version != settingsVersion {
		return base, fmt.Errorf("device settings %s: malformed (version %d): %v", filepath.Base(path), s.Version, err)
	}
	out := base
	for _, x := range []struct {
		saved *PortConfig
		dst   *PortConfig
	}{{s.IDReader, &out.IDReader}, {s.CardReader, &out.CardReader}, {s.Scanner, &out.Scanner}} {
		if x.saved != nil {
			if x.saved.Baud != 0 && !validBaud(x.saved.Baud) {
				return base, fmt.Errorf("device settings %s: baud %d", filepath.Base(path), x.saved.Baud)
			}
			*x.dst = *x.saved
		}
	}
	return out, nil
}

// saveSettings writes cfg to path atomically: a temp file in the same
// folder, fsync, rename, fsync of the folder — a crash leaves the old file
// or the new one, never half of one.
func saveSettings(path string, cfg Config) error {
	s := savedSettings{Version: settingsVersion, IDReader: &cfg.IDReader, CardReader: &cfg.CardReader, Scanner: &cfg.Scanner}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// AdminConfig configures StartAdmin.
type AdminConfig struct {
	// Config is the starting configuration, already merged with the
	// settings file (LoadSettings).
	Config Config
	// SettingsPath is where Apply persists the choice (normally
	// DataDir/SettingsFile); "" keeps changes in memory only.
	SettingsPath string
	Board        *app.StatusBoard // may be nil (a private board is used)
	Clock        app.Clock
	Logger       *slog.Logger
	Audit        app.AuditLog // optional; Apply records config.change
	Terminal     string       // terminal id for audit entries
	// ExtraPorts are listed beside the discovered ones (demo mode: the
	// simulator ptys, which discovery does not find).
	ExtraPorts []app.PortInfo
	// List discovers ports [serial.List].
	List func() []serial.PortInfo
}

// Admin runs the three device drivers like Start, and lets the settings
// screen test ports and switch a driver to another port or baud rate while
// the terminal runs. It implements app.DeviceAdmin.
//
// The readers it hands out (IDReader, CardReader, Scanner) are stable
// forwarders: they stay valid across Apply. A ReadID, ReadCard or Scan
// waiting when its driver is replaced is moved to the new driver (the
// caller sees nothing); IssueSingleJourney is never repeated — it fails
// with the old driver's error and the clerk tries again. Safe for
// concurrent use.
type Admin struct {
	cfg   AdminConfig
	board *app.StatusBoard
	ctx   context.Context
	log   *slog.Logger

	applyMu sync.Mutex // serialises Apply
	mu      sync.Mutex // guards cur and run
	cur     Config
	run     map[app.DeviceKind]*running

	id   *slot[*idcard.Reader]
	card *slot[*transitcard.Reader]
	scan *slot[*scanner.Scanner]
}

// running is one started driver.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

var _ app.DeviceAdmin = (*Admin)(nil)

// StartAdmin validates cfg.Config, starts the drivers and returns at once
// (they connect in the background). The drivers stop when ctx ends; Wait
// returns once every one has closed its port. An invalid baud rate is a
// CodeInvalid *app.Error with reason "baud".
func StartAdmin(ctx context.Context, cfg AdminConfig) (*Admin, error) {
	c := cfg.Config
	for _, pc := range []PortConfig{c.IDReader, c.CardReader, c.Scanner} {
		if pc.Baud != 0 && !validBaud(pc.Baud) {
			return nil, errBaud(pc.Baud)
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.List == nil {
		cfg.List = serial.List
	}
	a := &Admin{cfg: cfg, board: cfg.Board, ctx: ctx, log: cfg.Logger, cur: withDefaults(c), run: map[app.DeviceKind]*running{},
		id: newSlot[*idcard.Reader](), card: newSlot[*transitcard.Reader](), scan: newSlot[*scanner.Scanner]()}
	if a.board == nil {
		a.board = app.NewStatusBoard(cfg.Clock)
	}
	a.mu.Lock()
	for _, k := range app.DeviceKinds {
		a.startLocked(k)
	}
	a.mu.Unlock()
	return a, nil
}

// withDefaults fills a zero baud with the device's default, so Current
// shows the rate actually in use.
func withDefaults(c Config) Config {
	if c.IDReader.Baud == 0 {
		c.IDReader.Baud = 115200
	}
	if c.CardReader.Baud == 0 {
		c.CardReader.Baud = 115200
	}
	if c.Scanner.Baud == 0 {
		c.Scanner.Baud = 9600
	}
	return c
}

func errBaud(b int) error {
	return app.NewError(app.CodeInvalid, "baud", "串口波特率无效。", fmt.Sprintf("Unsupported baud rate %d.", b))
}

func portOf(c Config, k app.DeviceKind) PortConfig {
	switch k {
	case app.DeviceIDReader:
		return c.IDReader
	case app.DeviceCardReader:
		return c.CardReader
	default:
		return c.Scanner
	}
}

func setPort(c *Config, k app.DeviceKind, p PortConfig) {
	switch k {
	case app.DeviceIDReader:
		c.IDReader = p
	case app.DeviceCardReader:
		c.CardReader = p
	case app.DeviceScanner:
		c.Scanner = p
	}
}

// startLocked builds and runs device k's driver from a.cur and installs it
// behind its forwarder. Caller holds a.mu.
func (a *Admin) startLocked(k app.DeviceKind) {
	pc := portOf(a.cur, k)
	ctx, cancel := context.WithCancel(a.ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	var run func(context.Context) error
	switch k {
	case app.DeviceIDReader:
		d := idcard.New(idcard.Config{Port: pc.Port, Baud: pc.Baud, Board: a.board, Clock: a.cfg.Clock, Logger: a.log})
		a.id.install(d)
		run = d.Run
	case app.DeviceCardReader:
		d := transitcard.New(transitcard.Config{Port: pc.Port, Baud: pc.Baud, Board: a.board, Clock: a.cfg.Clock, Logger: a.log})
		a.card.install(d)
		run = d.Run
	case app.DeviceScanner:
		d := scanner.New(scanner.Config{Port: pc.Port, Baud: pc.Baud, Board: a.board, Logger: a.log})
		a.scan.install(d)
		run = d.Run
	}
	go func() {
		defer close(r.done)
		_ = run(ctx)
	}()
	a.run[k] = r
}

// Wait blocks until every driver has stopped (after the context given to
// StartAdmin ended) and closed its port.
func (a *Admin) Wait() {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	rs := make([]*running, 0, len(a.run))
	for _, r := range a.run {
		rs = append(rs, r)
	}
	a.mu.Unlock()
	for _, r := range rs {
		<-r.done
	}
}

// IDReader returns the stable ID-card reader.
func (a *Admin) IDReader() app.IDReader { return idForward{a.id} }

// CardReader returns the stable transit-card reader.
func (a *Admin) CardReader() app.CardReader { return cardForward{a.card} }

// Scanner returns the stable QR scanner.
func (a *Admin) Scanner() app.Scanner { return scanForward{a.scan} }

// Waiting reports whether a read (or scan) of device k waits on the driver
// now installed: a screen can say "waiting for a card", and a test knows a
// waiter is queued before it places a card or switches the driver.
func (a *Admin) Waiting(k app.DeviceKind) bool {
	switch k {
	case app.DeviceIDReader:
		r := a.id.current()
		return r != nil && r.Waiting()
	case app.DeviceCardReader:
		r := a.card.current()
		return r != nil && r.Waiting()
	case app.DeviceScanner:
		r := a.scan.current()
		return r != nil && r.Waiting()
	}
	return false
}

// Bauds returns the rates the settings screen offers.
func (a *Admin) Bauds() []int { return slices.Clone(Bauds) }

// Current returns the ports and rates in use.
func (a *Admin) Current() app.DeviceSettings {
	a.mu.Lock()
	c := a.cur
	a.mu.Unlock()
	return app.DeviceSettings{
		IDReader:   app.DevicePort{Port: c.IDReader.Port, Baud: c.IDReader.Baud},
		CardReader: app.DevicePort{Port: c.CardReader.Port, Baud: c.CardReader.Baud},
		Scanner:    app.DevicePort{Port: c.Scanner.Port, Baud: c.Scanner.Baud},
	}
}

// samePort reports whether two port paths name the same device node (a
// /dev/serial/by-id link and its /dev/ttyUSB node, a demo link and its pty).
func samePort(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// holder returns the device configured on port, or "".
func (a *Admin) holder(c Config, port string) app.DeviceKind {
	for _, k := range app.DeviceKinds {
		if samePort(portOf(c, k).Port, port) {
			return k
		}
	}
	return ""
}

// Ports lists the discovered ports, then the extra (simulated) ones, then
// any configured port discovery did not find, each with what is known of
// it and the device using it.
func (a *Admin) Ports() []app.PortInfo {
	a.mu.Lock()
	c := a.cur
	a.mu.Unlock()
	var out []app.PortInfo
	seen := func(path string) bool {
		for _, p := range out {
			if samePort(p.Path, path) || samePort(p.Device, path) {
				return true
			}
		}
		return false
	}
	for _, p := range a.cfg.List() {
		out = append(out, app.PortInfo{Path: p.Path, Device: p.Device, Description: describePort(p)})
	}
	for _, p := range a.cfg.ExtraPorts {
		if !seen(p.Path) {
			out = append(out, p)
		}
	}
	for _, k := range app.DeviceKinds {
		if p := portOf(c, k).Port; p != "" && !seen(p) {
			out = append(out, app.PortInfo{Path: p, Device: p, Description: "configured, not found by discovery"})
		}
	}
	for i := range out {
		out[i].InUseBy = a.holder(c, out[i].Path)
		if out[i].InUseBy == "" && out[i].Device != "" {
			out[i].InUseBy = a.holder(c, out[i].Device)
		}
	}
	return out
}

// describePort turns discovery facts into one line, e.g. "FTDI FT232R
// USB UART · USB 0403:6001 · ftdi_sio · S/N A5XK3RJT".
func describePort(p serial.PortInfo) string {
	var parts []string
	if s := strings.TrimSpace(p.Manufacturer + " " + p.Product); s != "" {
		parts = append(parts, s)
	}
	if p.VendorID != "" {
		parts = append(parts, "USB "+p.VendorID+":"+p.ProductID)
	}
	if p.Driver != "" {
		parts = append(parts, p.Driver)
	}
	if p.Serial != "" {
		parts = append(parts, "S/N "+p.Serial)
	}
	if len(parts) == 0 {
		return "no USB details"
	}
	return strings.Join(parts, " · ")
}

var errNoPort = app.NewError(app.CodeNotFound, "port_not_found", "请先选择串口。", "Choose a port first.")

// Probe tests port for device kind (see Probe). A port that a running
// driver holds is never opened a second time — two readers of one tty
// would steal each other's bytes: for the device's own port at its own rate
// the driver's state answers; any other use is CodeUnavailable "port_busy".
func (a *Admin) Probe(ctx context.Context, kind app.DeviceKind, port string, baud int) (string, error) {
	if !slices.Contains(app.DeviceKinds, kind) {
		return "", app.NewError(app.CodeInvalid, "kind", "未知设备类型。", "Unknown device kind.")
	}
	if port == "" {
		return "", errNoPort
	}
	a.mu.Lock()
	c := a.cur
	a.mu.Unlock()
	if h := a.holder(c, port); h != "" {
		pc := portOf(c, h)
		if h != kind || (baud != 0 && baud != pc.Baud) {
			return "", app.NewError(app.CodeUnavailable, "port_busy",
				"该串口正由"+kindZH(h)+"使用；请先把它改到其他串口并应用，再测试。",
				"The port is in use by the "+kindEN(h)+"; move it to another port and apply first.")
		}
		return a.driverAnswer(kind)
	}
	return Probe(ctx, Kind(kind), port, baud)
}

// driverAnswer reports the running driver's own state for Probe.
func (a *Admin) driverAnswer(kind app.DeviceKind) (string, error) {
	st := a.board.Get(kind.Component())
	switch st.State {
	case app.StateReady, app.StateBusy:
		detail := "in use by this device and answering"
		switch kind {
		case app.DeviceIDReader:
			if d := a.id.current(); d != nil && d.SAMID() != "" {
				detail += "; SAM " + d.SAMID()
			}
		case app.DeviceCardReader:
			if d := a.card.current(); d != nil && d.Model() != "" {
				detail += "; " + d.Model()
			}
		}
		return detail, nil
	case app.StateConnecting:
		return "", app.NewError(app.CodeUnavailable, "reader_not_responding", "设备正在连接，请稍后再测试。",
			"The device is still connecting; test again in a moment.")
	default:
		d := st.Detail
		if d == "" {
			d = string(st.State)
		}
		return "", app.NewError(app.CodeUnavailable, "reader_not_responding", "设备未应答："+d+"。", "The device does not answer: "+d+".")
	}
}

func kindZH(k app.DeviceKind) string {
	switch k {
	case app.DeviceIDReader:
		return "身份证阅读器"
	case app.DeviceCardReader:
		return "交通卡读卡器"
	}
	return "扫码器"
}

func kindEN(k app.DeviceKind) string {
	switch k {
	case app.DeviceIDReader:
		return "ID-card reader"
	case app.DeviceCardReader:
		return "transit-card reader"
	}
	return "code scanner"
}

// Apply switches the devices to s. It validates s (bauds; no port for two
// devices), saves it to the settings file, then restarts only the drivers
// whose port or rate changed: each old driver is stopped and has closed its
// port before the new one opens, and waiting reads move to the new driver.
// Every changed device is audited (config.change, subject device:<kind>,
// detail port and baud — port paths are not personal data). If saving fails
// nothing changes (CodeUnavailable "settings_save").
func (a *Admin) Apply(ctx context.Context, s app.DeviceSettings, operator string) error {
	next := Config{
		IDReader:   PortConfig{Port: strings.TrimSpace(s.IDReader.Port), Baud: s.IDReader.Baud},
		CardReader: PortConfig{Port: strings.TrimSpace(s.CardReader.Port), Baud: s.CardReader.Baud},
		Scanner:    PortConfig{Port: strings.TrimSpace(s.Scanner.Port), Baud: s.Scanner.Baud},
	}
	for _, k := range app.DeviceKinds {
		if b := portOf(next, k).Baud; b != 0 && !validBaud(b) {
			return errBaud(b)
		}
	}
	next = withDefaults(next)
	for i, k := range app.DeviceKinds {
		for _, j := range app.DeviceKinds[i+1:] {
			if samePort(portOf(next, k).Port, portOf(next, j).Port) {
				return app.NewError(app.CodeInvalid, "port_twice", "同一个串口不能同时给两个设备使用。",
					"One port cannot be used by two devices.")
			}
		}
	}
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.ctx.Err() != nil {
		return app.NewError(app.CodeUnavailable, "stopped", "设备服务已停止。", "The device service has stopped.")
	}
	a.mu.Lock()
	old := a.cur
	a.mu.Unlock()
	var changed []app.DeviceKind
	for _, k := range app.DeviceKinds {
		if portOf(old, k) != portOf(next, k) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if a.cfg.SettingsPath != "" {
		if err := saveSettings(a.cfg.SettingsPath, next); err != nil {
			a.audit(ctx, operator, "devices", "save failed", err)
			return app.WrapError(err, app.CodeUnavailable, "settings_save", "设备设置无法保存，未作更改。",
				"The device settings could not be saved; nothing was changed.")
		}
	}
	for _, k := range changed {
		a.mu.Lock()
		r := a.run[k]
		a.mu.Unlock()
		// Retire first, so reads that fail while the old driver stops are
		// held for the new one rather than reported to the clerk.
		a.retire(k)
		r.cancel()
		<-r.done // the old driver has closed the port
		a.mu.Lock()
		setPort(&a.cur, k, portOf(next, k))
		a.startLocked(k)
		a.mu.Unlock()
		pc := portOf(next, k)
		a.log.Info("device switched", "device", string(k), "port", pc.Port, "baud", pc.Baud, "operator", operator)
		a.audit(ctx, operator, "device:"+string(k), fmt.Sprintf("port=%s baud=%d", pc.Port, pc.Baud), nil)
	}
	return nil
}

func (a *Admin) retire(k app.DeviceKind) {
	switch k {
	case app.DeviceIDReader:
		a.id.retire()
	case app.DeviceCardReader:
		a.card.retire()
	case app.DeviceScanner:
		a.scan.retire()
	}
}

func (a *Admin) audit(ctx context.Context, operator, subject, detail string, err error) {
	if a.cfg.Audit == nil {
		return
	}
	e := app.NewAuditEntry(operator, "system", app.ActConfigChange, subject, app.OutcomeOf(err), detail)
	e.Terminal = a.cfg.Terminal
	if aerr := a.cfg.Audit.Append(context.WithoutCancel(ctx), e); aerr != nil {
		a.log.Warn("audit device change", "err", aerr)
	}
}

// ---- stable forwarders ----

// gen is one installed driver; retired is closed when Apply starts
// replacing it.
type gen[T any] struct {
	drv     T
	retired chan struct{}
}

// slot holds the current driver of one device. next is closed (and
// renewed) whenever a new driver is installed.
type slot[T any] struct {
	mu   sync.Mutex
	cur  *gen[T]
	next chan struct{}
}

func newSlot[T any]() *slot[T] { return &slot[T]{next: make(chan struct{})} }

func (s *slot[T]) install(d T) {
	s.mu.Lock()
	s.cur = &gen[T]{drv: d, retired: make(chan struct{})}
	close(s.next)
	s.next = make(chan struct{})
	s.mu.Unlock()
}

func (s *slot[T]) retire() {
	s.mu.Lock()
	if s.cur != nil {
		select {
		case <-s.cur.retired:
		default:
			close(s.cur.retired)
		}
	}
	s.mu.Unlock()
}

func (s *slot[T]) current() T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if s.cur == nil {
		return zero
	}
	return s.cur.drv
}

// get returns the live generation, waiting while a replacement is under
// way (bounded by Apply: stop the old driver, start the new).
func (s *slot[T]) get(ctx context.Context) (*gen[T], error) {
	for {
		s.mu.Lock()
		g, n := s.cur, s.next
		s.mu.Unlock()
		select {
		case <-g.retired:
			select {
			case <-n:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		default:
			return g, nil
		}
	}
}

var errSwitchTimeout = app.NewError(app.CodeUnavailable, "timeout", "设备正在切换，请重试。", "The device is being switched; try again.")

// call runs f on the current driver with a context that also ends when
// that driver is retired; if it was retired under f and the caller's ctx
// is still alive, f runs again on the new driver. retry=false returns the
// first error (for writes that must never be repeated).
func call[T, R any](ctx context.Context, s *slot[T], retry bool, f func(context.Context, T) (R, error)) (R, error) {
	var zero R
	for {
		g, err := s.get(ctx)
		if err != nil {
			return zero, errSwitchTimeout
		}
		cctx, cancel := context.WithCancel(ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-g.retired:
				cancel()
			case <-stop:
			}
		}()
		v, err := f(cctx, g.drv)
		close(stop)
		cancel()
		if err == nil || ctx.Err() != nil || !retry {
			return v, err
		}
		select {
		case <-g.retired:
			continue
		default:
			return v, err
		}
	}
}

type idForward struct{ s *slot[*idcard.Reader] }

// ReadID implements app.IDReader on the current ID-card reader.
func (f idForward) ReadID(ctx context.Context) (app.Identity, error) {
	return call(ctx, f.s, true, func(ctx context.Context, r *idcard.Reader) (app.Identity, error) { return r.ReadID(ctx) })
}

type cardForward struct{ s *slot[*transitcard.Reader] }

// ReadCard implements app.CardReader on the current transit-card reader.
func (f cardForward) ReadCard(ctx context.Context) (app.Card, error) {
	return call(ctx, f.s, true, func(ctx context.Context, r *transitcard.Reader) (app.Card, error) { return r.ReadCard(ctx) })
}

// IssueSingleJourney implements app.CardReader; it is never retried on a
// new driver (a token must not be written twice).
func (f cardForward) IssueSingleJourney(ctx context.Context, spec app.TicketSpec) (string, error) {
	return call(ctx, f.s, false, func(ctx context.Context, r *transitcard.Reader) (string, error) {
		return r.IssueSingleJourney(ctx, spec)
	})
}

type scanForward struct{ s *slot[*scanner.Scanner] }

// Scan implements app.Scanner on the current scanner.
func (f scanForward) Scan(ctx context.Context) (string, error) {
	return call(ctx, f.s, true, func(ctx context.Context, r *scanner.Scanner) (string, error) { return r.Scan(ctx) })
}
