package main

// Demo mode's wiring: the only file of the desk's composition root that
// reaches the simulators (offline/sim/..., devices/sim) and the public demo
// keys. app/layering_test.go checks that no other file of package main, and
// no production package, imports them, so a production desk never runs a
// simulator or trusts a demo key by accident.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/devices"
	"stationdesk/devices/sim"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/sim/centralsim"
	"stationdesk/offline/sim/gatesim"
	"stationdesk/offline/sim/syncpub"
	"stationdesk/offline/syncwire"
	"stationdesk/offline/verify"
	"stationdesk/ui"
)

// demoRig is what demo mode runs in place of central and the hardware:
// the central simulator, the three simulated readers on pseudo-terminals
// and a simulated gate in front of the real verify service.
type demoRig struct {
	central *centralsim.Server
	devices *sim.Demo
	gate    *gatesim.DemoGate
}

// demoStationToken is the bearer token the embedded central simulator
// accepts; it is public and only ever used on loopback.
const demoStationToken = centralsim.DefaultStationToken

// demoManifestKey is the public demo manifest key that `serve --demo-key`
// pins; it signs only what the central simulator publishes.
func demoManifestKey() ed25519.PublicKey { return syncpub.DemoKeys().ManifestPublic }

// demoKeyFiles lists the files under dataDir that only demo mode writes:
// the gate cache's trust material when it was signed with the public
// demo manifest key or is the demo card-hash key, and the simulator's
// station token. A production folder must hold none of them.
func demoKeyFiles(dataDir string) []string {
	keys := syncpub.DemoKeys()
	var found []string
	sync := filepath.Join(dataDir, "gate", "sync")
	if env, err := os.ReadFile(filepath.Join(sync, "manifest.signed")); err == nil {
		if _, err := syncwire.Open(keys.ManifestPublic, "manifest", env); err == nil {
			found = append(found, filepath.Join("gate", "sync", "manifest.signed"))
		}
	}
	if b, err := os.ReadFile(filepath.Join(sync, "cardkey.json")); err == nil {
		var k struct {
			Key []byte `json:"key"`
		}
		if json.Unmarshal(b, &k) == nil && bytes.Equal(k.Key, keys.CardKey) {
			found = append(found, filepath.Join("gate", "sync", "cardkey.json"))
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "central-sim", "station-token")); err == nil {
		found = append(found, filepath.Join("central-sim", "station-token"))
	}
	return found
}

// demoCardKey is the public demo card-hash key (tests).
func demoCardKey() []byte { return syncpub.DemoKeys().CardKey }

// startDemoCentral starts the central simulator on loopback with sync
// enabled under the demo keys and returns its URL and station token.
func (rt *deskRuntime) startDemoCentral(ctx context.Context) (url, token string, err error) {
	cs, err := centralsim.New(centralsim.Config{DataDir: filepath.Join(rt.cfg.DataDir, "central-sim"), Clock: rt.clock, Logger: rt.log.With("part", "centralsim")})
	if err != nil {
		return "", "", fmt.Errorf("central simulator: %w", err)
	}
	rt.closers = append(rt.closers, func() { cs.Close() })
	if _, err := cs.EnableSync(ctx, syncpub.DemoKeys()); err != nil {
		return "", "", fmt.Errorf("central simulator sync: %w", err)
	}
	if err := cs.Start(ctx, "127.0.0.1:0"); err != nil {
		return "", "", fmt.Errorf("central simulator: %w", err)
	}
	rt.closers = append(rt.closers, cs.Stop)
	rt.demo.central = cs
	return cs.URL(), demoStationToken, nil
}

// startDemoLinks starts the central simulator and the simulated readers
// and points the links at them; the gate service listens on loopback.
func (rt *deskRuntime) startDemoLinks(ctx context.Context, l links) (links, error) {
	rt.demo = &demoRig{}
	var err error
	if l.centralURL, l.token, err = rt.startDemoCentral(ctx); err != nil {
		return l, err
	}
	if err := rt.startDemoDevices(ctx, &l.devices); err != nil {
		return l, err
	}
	l.gateListen = "127.0.0.1:0"
	rt.log.Info("demo mode", "central", l.centralURL, "id_reader", l.devices.IDReader.Port, "card_reader", l.devices.CardReader.Port, "scanner", l.devices.Scanner.Port)
	return l, nil
}

// startDemoDevices starts the simulated readers and points devCfg at
// their pseudo-terminals.
func (rt *deskRuntime) startDemoDevices(ctx context.Context, devCfg *devices.Config) error {
	portDir := filepath.Join(rt.cfg.DataDir, "ports")
	if err := os.MkdirAll(portDir, 0o700); err != nil {
		return err
	}
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: portDir, Baud: 115200})
	if err != nil {
		return fmt.Errorf("simulated readers: %w", err)
	}
	rt.closers = append(rt.closers, func() { d.Close() })
	rt.demo.devices = d
	ports := d.Ports()
	devCfg.IDReader.Port, devCfg.CardReader.Port, devCfg.Scanner.Port = ports.IDReader, ports.CardReader, ports.Scanner
	devCfg.Scanner.Baud = 115200
	return nil
}

// demoPorts lists the simulated readers' ptys for the Settings port list
// (nil outside demo mode).
func (rt *deskRuntime) demoPorts() []app.PortInfo {
	if rt.demo == nil || rt.demo.devices == nil {
		return nil
	}
	p := rt.demo.devices.Ports()
	return []app.PortInfo{
		{Path: p.IDReader, Description: "simulated ID-card reader (pty)"},
		{Path: p.CardReader, Description: "simulated transit-card reader (pty)"},
		{Path: p.Scanner, Description: "simulated QR scanner (pty)"},
	}
}

// demoGateConfig points the gate service at the simulator: its token goes
// through a 0600 file like a real one, and the demo manifest key is pinned.
func (rt *deskRuntime) demoGateConfig(sc *verify.ServeConfig, d *verify.Deps, token string) error {
	tf := filepath.Join(rt.cfg.DataDir, "central-sim", "station-token")
	if err := os.WriteFile(tf, []byte(token), 0o600); err != nil {
		return err
	}
	sc.Central.TokenFile = tf
	d.PinnedKey = demoManifestKey()
	return nil
}

// startDemoGate puts a simulated gate in front of the running verify
// service, with ride QR codes issued by the central simulator.
func (rt *deskRuntime) startDemoGate(ctx context.Context, st *verify.Station) error {
	dg, err := gatesim.NewDemoGate(ctx, "http://"+st.Addr.String(), st.Server, rt.demo.central.RideQRFunc(syncpub.DemoKeys()),
		gatesim.DemoGateOptions{Clock: rt.clock})
	if err != nil {
		return fmt.Errorf("simulated gate: %w", err)
	}
	rt.demo.gate = dg
	return nil
}

// demoOperators are the demo accounts (public PINs) as the ledger seeds
// and finds them.
func demoOperators() []ledger.DemoOperator {
	var out []ledger.DemoOperator
	for _, d := range demo.Operators() {
		out = append(out, ledger.DemoOperator{Operator: d.Operator, PIN: d.PIN})
	}
	return out
}

// demoFares is the demo station's fare table.
func demoFares() (*app.FareTable, error) { return sales.ParseFares(demo.Fares) }

// refuseDemoData stops a production desk on a folder that holds demo
// accounts (public PINs) or trust material signed with the public demo
// keys: someone ran demo mode on it, and it needs a person to sort out.
func refuseDemoData(ctx context.Context, l *ledger.Ledger, dir string) error {
	accounts, err := l.DemoAccounts(ctx, demoOperators())
	if err != nil {
		return err
	}
	if len(accounts) > 0 {
		ids := strings.Join(accounts, ", ")
		return app.NewError(app.CodeConflict, "demo_in_production",
			"正式数据目录 "+dir+" 中有演示账户（"+ids+"，其密码是公开的），站务台拒绝启动。该目录曾被用于演示模式：请联系技术支持核对其中的记录，并用 `stationdesk setup` 建立新的正式数据目录。",
			"The production data folder "+dir+" holds demo accounts ("+ids+", whose PINs are public); the desk will not start. Demo mode was run on this folder: have technical support check its records, and create a new production folder with `stationdesk setup`.")
	}
	if found := demoKeyFiles(dir); len(found) > 0 {
		files := strings.Join(found, ", ")
		return app.NewError(app.CodeConflict, "demo_in_production",
			"正式数据目录 "+dir+" 中有用公开演示密钥签发的数据（"+files+"），站务台拒绝启动。请联系技术支持；正式站点只信任中心的密钥。",
			"The production data folder "+dir+" holds data under the public demo keys ("+files+"); the desk will not start. Call technical support: a production station trusts central's keys only.")
	}
	return nil
}

// demoUIDeps hands the demo panels their simulators and the demo logins
// (no-op outside demo mode).
func (rt *deskRuntime) demoUIDeps(deps *ui.Deps) {
	if rt.cfg.Demo {
		deps.Mode = "DEMO"
		for _, d := range demo.Operators() {
			deps.Demo = append(deps.Demo, ui.DemoLogin{ID: d.ID, PIN: d.PIN, Role: d.Role, Name: d.DisplayName, NameEN: d.NameEN})
		}
	}
	if rt.demo == nil {
		return
	}
	if rt.demo.gate != nil {
		deps.DemoGate = rt.demo.gate
	}
	if rt.demo.devices != nil {
		deps.Simulator = rt.demo.devices
	}
	if rt.demo.central != nil {
		deps.DemoCentral = rt.demo.central.DemoControl()
	}
}
