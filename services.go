package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"stationdesk/app"
	"stationdesk/devices"
	"stationdesk/offline/central"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/outbox/upgrades"
	"stationdesk/offline/verify"
)

// links are where the desk's parts are: central (URL and station token),
// the readers' ports and the gate service's listen address.
type links struct {
	centralURL, token string
	devices           devices.Config
	gateListen        string
}

// startServices starts what the configuration asks for, one concern per
// function: the readers, the central client with its outboxes (pending
// upgrades, the ticket window) and the gate verify service. In demo mode
// that is everything, on loopback and pseudo-terminals, against the
// simulators of demo.go. Otherwise each part starts only when configured;
// the rest say "not configured".
func (rt *deskRuntime) startServices(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	rt.closers = append(rt.closers, cancel)
	l, err := rt.resolveLinks(ctx)
	if err != nil {
		return err
	}
	if err := rt.startDevices(ctx, cancel, l.devices); err != nil {
		return err
	}
	if l.centralURL == "" {
		rt.board.Set(app.CompCentral, app.StateNotConfigured, "")
		return nil
	}
	cc, err := rt.startCentral(ctx, l)
	if err != nil {
		return err
	}
	tokens, err := app.NewTokenizer(rt.ledger.Keys().Index[:])
	if err != nil {
		return err
	}
	if err := rt.startUpgrades(ctx, cancel, cc, tokens); err != nil {
		return err
	}
	if l.gateListen == "" {
		return nil
	}
	return rt.startGate(ctx, l)
}

// resolveLinks reads the links from the configuration or, in demo mode,
// starts the central simulator and the simulated readers (demo.go).
func (rt *deskRuntime) resolveLinks(ctx context.Context) (links, error) {
	cfg := rt.cfg
	l := links{centralURL: cfg.Central.URL, gateListen: cfg.Gate.Listen, devices: devices.Config{
		IDReader:   devices.PortConfig{Port: cfg.Devices.IDReader, Baud: cfg.Devices.IDReaderBaud},
		CardReader: devices.PortConfig{Port: cfg.Devices.CardReader, Baud: cfg.Devices.CardReaderBaud},
		Scanner:    devices.PortConfig{Port: cfg.Devices.Scanner, Baud: cfg.Devices.ScannerBaud},
	}}
	if cfg.Demo {
		return rt.startDemoLinks(ctx, l)
	}
	if cfg.Central.TokenFile != "" {
		b, err := os.ReadFile(cfg.Central.TokenFile)
		if err != nil {
			return l, fmt.Errorf("central token file: %w", err)
		}
		l.token = strings.TrimSpace(string(b))
	}
	return l, nil
}

// startDevices starts the three readers. The supervisor's choice in
// Settings (devices.json) wins over the configuration file and the demo
// ptys.
func (rt *deskRuntime) startDevices(ctx context.Context, cancel context.CancelFunc, devCfg devices.Config) error {
	settingsPath := filepath.Join(rt.cfg.DataDir, devices.SettingsFile)
	if merged, err := devices.LoadSettings(settingsPath, devCfg); err != nil {
		rt.log.Warn("device settings file ignored", "err", err)
	} else {
		devCfg = merged
	}
	adm, err := devices.StartAdmin(ctx, devices.AdminConfig{Config: devCfg, SettingsPath: settingsPath, Board: rt.board, Clock: rt.clock,
		Logger: rt.log.With("part", "devices"), Audit: rt.ledger, Terminal: rt.cfg.TerminalID, ExtraPorts: rt.demoPorts()})
	if err != nil {
		return err
	}
	rt.devAdmin = adm
	// Cancel before waiting: closers run in reverse order, after this one
	// the context would still be live.
	rt.closers = append(rt.closers, func() { cancel(); adm.Wait() })
	return nil
}

// startCentral builds the central client and probes it in the background
// (the status board shows the answer).
func (rt *deskRuntime) startCentral(ctx context.Context, l links) (*central.Client, error) {
	cfg := rt.cfg
	cc, err := central.New(central.Config{BaseURL: l.centralURL, StationToken: l.token, CAFile: cfg.Central.CAFile,
		ClientCertFile: cfg.Central.ClientCert, ClientKeyFile: cfg.Central.ClientKey, CallTimeout: cfg.CentralTimeout(),
		Status: rt.board, Clock: rt.clock, Logger: rt.log.With("part", "central")})
	if err != nil {
		return nil, fmt.Errorf("central client: %w", err)
	}
	rt.central = cc
	go func() { _ = cc.Probe(ctx) }()
	return cc, nil
}

// startUpgrades opens the pending-upgrade outbox (pending.db), builds the
// upgrade use case and the ticket window, and starts the worker that
// completes pending upgrades when central answers.
func (rt *deskRuntime) startUpgrades(ctx context.Context, cancel context.CancelFunc, cc *central.Client, tokens *app.Tokenizer) error {
	outbox, err := upgrades.OpenOutbox(ctx, filepath.Join(rt.cfg.DataDir, "pending.db"), upgrades.OutboxOptions{Sealer: rt.ledger.Keys(), MACKey: rt.ledger.Keys().PendingKey(), Clock: rt.clock, Logger: rt.log})
	if err != nil {
		return err
	}
	rt.closers = append(rt.closers, func() { outbox.Close() })
	if err := rt.checkPending(ctx, outbox); err != nil {
		return err
	}
	rt.purgers = append(rt.purgers, func(ctx context.Context, now time.Time) error {
		_, err := outbox.Purge(ctx, now.AddDate(0, 0, -settledPendingDays))
		return err
	})
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
	return nil
}

// startTicketWindow builds the ticket-window use cases and starts the
// worker that forwards sales, exchanges and manual checks to central.
// Without a fare table the ticket window is not available.
func (rt *deskRuntime) startTicketWindow(ctx context.Context, cancel context.CancelFunc, cc *central.Client, tokens *app.Tokenizer) error {
	var fares *app.FareTable
	var err error
	switch {
	case rt.cfg.FareTable != "":
		fares, err = sales.LoadFares(rt.cfg.FareTable)
	case rt.cfg.Demo:
		fares, err = demoFares()
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
	rt.shifts, err = app.NewShifts(app.ShiftsConfig{Store: rt.ledger, ExportDir: rt.cfg.DataDir, Clock: rt.clock, Logger: rt.log.With("part", "shifts"),
		PendingUpgrades: rt.upgrades.Waiting})
	return err
}

// startGate starts the gate verify service (cache, sync, gate-event
// outbox) on the gate LAN address and, in demo mode, the simulated gate in
// front of it.
func (rt *deskRuntime) startGate(ctx context.Context, l links) error {
	cfg := rt.cfg
	sc := verify.ServeConfig{DataDir: cfg.DataDir, Listen: l.gateListen, Mode: app.GateMode(cfg.Gate.Mode), StationID: cfg.StationID,
		StatusListen: cfg.Gate.StatusListen, MaxConnsPerIP: cfg.Gate.MaxConnsPerIP, TLSCert: cfg.Gate.TLSCert, TLSKey: cfg.Gate.TLSKey, CacheOnDisk: cfg.Gate.CacheOnDisk}
	sc.Central.URL, sc.Central.CAFile = l.centralURL, cfg.Central.CAFile
	sc.Central.TokenFile = cfg.Central.TokenFile
	seal := verify.RegistryKey(rt.ledger.Keys().Enc)
	d := verify.Deps{Clock: rt.clock, Logger: rt.log.With("part", "gate"), Status: rt.board, Audit: rt.ledger, RegistrySeal: &seal}
	if cfg.Demo {
		if err := rt.demoGateConfig(&sc, &d, l.token); err != nil {
			return err
		}
	}
	st, err := verify.Start(ctx, sc, d)
	if err != nil {
		return fmt.Errorf("gate verify service: %w", err)
	}
	rt.gate = st
	rt.closers = append(rt.closers, func() { st.Stop() })
	if cfg.Demo {
		return rt.startDemoGate(ctx, st)
	}
	return nil
}

// settledPendingDays is how long a settled pending upgrade stays in the
// pending list (its personal data is erased when it settles; the audit log
// keeps the record).
const settledPendingDays = 30

// auditAlarm is what the ledger's start check found, for the supervisor's
// red banner ("" when the chain and its checkpoint held). The ledger has
// already recorded it in the audit log (audit.chain_broken).
func (rt *deskRuntime) auditAlarm() string {
	var parts []string
	if st := rt.ledger.StartStatus(); st.Broken {
		r := st.Result
		s := fmt.Sprintf("%s · seq %d", r.Reason, r.FirstBroken)
		if r.Table != "" {
			s += " · " + r.Table + "/" + r.Record
		}
		parts = append(parts, s)
	}
	if rt.pendingAlarm != "" {
		parts = append(parts, rt.pendingAlarm)
	}
	return strings.Join(parts, "; ")
}

// checkPending runs the pending store's start check (every item's MAC, the
// head, no hole; upgrades.Outbox.Check): a problem is logged, recorded in
// the audit log as audit.chain_broken naming the item, and put in the
// supervisor's red banner. The desk still starts: the items are the
// station's record and a person must look at them. The full check against
// the ledger's entries is `stationdesk audit verify`.
func (rt *deskRuntime) checkPending(ctx context.Context, ob *upgrades.Outbox) error {
	_, probs, err := ob.Check(ctx)
	if err != nil || len(probs) == 0 {
		return err
	}
	p := probs[0]
	rt.pendingAlarm = fmt.Sprintf("%s · %s/%s", p.Reason, p.Table, p.Record)
	if len(probs) > 1 {
		rt.pendingAlarm += fmt.Sprintf(" (+%d)", len(probs)-1)
	}
	rt.log.Error("pending upgrades do not verify at start", "reason", p.Reason, "record", p.Record, "problems", len(probs))
	return rt.ledger.Append(ctx, app.AuditEntry{Operator: "system", Action: ledger.ActChainBroken, Outcome: app.OutcomeFailure,
		Subject: p.Table + ":" + p.Record, Detail: fmt.Sprintf("pending.db: %s, %d problem(s) at start", p.Reason, len(probs))})
}
