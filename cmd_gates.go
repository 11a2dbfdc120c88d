package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/offline/ledger"
	"stationdesk/offline/verify"
)

const gatesUsage = `usage: stationdesk gates COMMAND (--config serve.toml | --data DIR) [flags]
  list                              the gates, their key ids and the mode (no PIN)
  add GATE      --operator ID       commission a gate: prints its key once, writes a provisioning file
  rotate GATE   --operator ID       a second key (the old one stays valid until the next rotation)
  revoke GATE   --operator ID       every key of the gate refused from now on
  mode off|test|enforce --operator ID
  export --out FILE --passphrase-file F --operator ID   the registry, encrypted, for the second server
  import FILE --passphrase-file F --operator ID         take a registry export (replaces this one)
  cert --host ADDR[,ADDR]           self-signed station certificate for TLS; prints its SHA-256 pin
  token create --out FILE --operator ID   a station admin token (replaces the old one), written to FILE 0600
  token revoke --operator ID              the station admin token refused from now on
flags for add/rotate: --endpoint URL (repeat; primary first; default from listen), --out FILE,
  --qr / --no-qr (the provisioning as a QR code in the terminal; default: when stdout is a terminal),
  --qr-png FILE (the same QR code as a PNG, 0600)
The supervisor PIN is read from --pin-file, else from the terminal, else the first line of stdin.
Instead of --operator and the PIN, --admin-token-file F gives the station admin token (audited as
operator admin-token; it cannot make or revoke tokens).
Every change is audited in the ledger of the data folder; a running serve picks it up within a second.
`

// gatesEnv is the data folder a gates command works on.
type gatesEnv struct {
	cfg verify.ServeConfig
}

// cmdGates is `stationdesk gates ...`: the gate registry of a data folder,
// headless (the desk's Gates screen works on the same file).
func cmdGates(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, gatesUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("gates "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "serve config (data_dir, keys_dir, listen, tls_cert, station_id, mode)")
	data := fs.String("data", "", "data folder (instead of --config)")
	operator := fs.String("operator", "", "supervisor's operator number")
	pinFile := fs.String("pin-file", "", "file holding the supervisor PIN (default: terminal or stdin)")
	tokenFile := fs.String("admin-token-file", "", "file holding the station admin token (instead of --operator and the PIN)")
	var endpoints multiFlag
	fs.Var(&endpoints, "endpoint", "station server base URL for the provisioning file (repeat; primary first)")
	out := fs.String("out", "", "provisioning file (add/rotate; default GATE-kN.provision.json) or export file")
	passFile := fs.String("passphrase-file", "", "transfer passphrase file (export/import, at least 16 characters)")
	hosts := fs.String("host", "", "cert: addresses or names gates connect to, comma-separated")
	asJSON := fs.Bool("json", false, "list: JSON")
	var qc qrChoice
	fs.BoolVar(&qc.on, "qr", false, "add/rotate: print the provisioning as a QR code (default when stdout is a terminal)")
	fs.BoolVar(&qc.off, "no-qr", false, "add/rotate: no QR code in the terminal")
	fs.StringVar(&qc.png, "qr-png", "", "add/rotate: also write the provisioning QR code as a PNG file (0600)")
	// Flags may come before or after the positional argument.
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var env gatesEnv
	switch {
	case *cfgPath != "":
		c, err := verify.LoadServeConfig(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, "gates:", err)
			return 2
		}
		env.cfg = c
	case *data != "":
		env.cfg = verify.ServeConfig{DataDir: *data, Mode: app.ModeTest}
	default:
		fmt.Fprint(stderr, "gates: give --config FILE or --data DIR\n", gatesUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gates:", app.UserMessage(err, app.LangEN))
		if app.ErrorCode(err) == app.CodeInvalid {
			return 2
		}
		return 1
	}
	need := func(n int, what string) bool {
		if len(pos) != n {
			fmt.Fprintf(stderr, "gates %s: %s\n", sub, what)
			return false
		}
		return true
	}
	if sub == "cert" {
		return gatesCert(env, *hosts, stdout, stderr)
	}
	ks, err := verify.OpenStationRegistry(env.cfg, nil, app.SystemClock{})
	if err != nil {
		return fail(err)
	}
	if ks.Migrated {
		fmt.Fprintln(stdout, "gate registry: clear keys sealed with the station key")
	}
	if sub == "list" {
		return gatesList(ks, *asJSON, stdout)
	}
	// Every other command changes the registry: a supervisor's PIN first.
	switch sub {
	case "add", "rotate", "revoke":
		if !need(1, "give one gate id") {
			return 2
		}
		if err := qc.validate(); err != nil {
			fmt.Fprintf(stderr, "gates %s: %v\n", sub, err)
			return 2
		}
	case "mode":
		if !need(1, "give off, test or enforce") {
			return 2
		}
	case "import":
		if !need(1, "give the export file") {
			return 2
		}
	case "export":
		if len(pos) != 0 || *out == "" {
			fmt.Fprintln(stderr, "gates export: --out FILE is required (and no argument)")
			return 2
		}
	case "token":
		if len(pos) != 1 || (pos[0] != "create" && pos[0] != "revoke") {
			fmt.Fprintln(stderr, "gates token: give create or revoke")
			return 2
		}
		if pos[0] == "create" && *out == "" {
			fmt.Fprintln(stderr, "gates token create: --out FILE is required (the token is written there, 0600)")
			return 2
		}
		if *tokenFile != "" {
			fmt.Fprintln(stderr, "gates token: the admin token cannot make or revoke tokens; give --operator and the supervisor's PIN")
			return 2
		}
	default:
		fmt.Fprintf(stderr, "gates: unknown command %q\n%s", sub, gatesUsage)
		return 2
	}
	var pass []byte
	if sub == "export" || sub == "import" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			fmt.Fprintln(stderr, "gates: --passphrase-file: a readable file is required")
			return 2
		}
		pass = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	var l *ledger.Ledger
	var sup app.Operator
	via := " via=cli"
	if *tokenFile != "" {
		if *operator != "" {
			fmt.Fprintln(stderr, "gates: give --operator (with the PIN) or --admin-token-file, not both")
			return 2
		}
		var tid string
		l, sup, tid, err = gatesTokenAuth(ctx, env, *tokenFile)
		via += " token=" + tid
	} else {
		l, sup, err = gatesAuth(ctx, env, *operator, *pinFile, stderr)
	}
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	audit := func(subject, detail string, err error) error {
		e := app.NewAuditEntry(sup.ID, "?", app.ActConfigChange, subject, app.OutcomeOf(err), detail+via)
		e.Terminal = env.terminal()
		if aerr := l.Append(ctx, e); aerr != nil && err == nil {
			return aerr
		}
		return err
	}
	switch sub {
	case "add", "rotate":
		id := pos[0]
		var key string
		var kid int
		if sub == "add" {
			key, kid, err = ks.AddKey(id)
		} else {
			key, kid, err = ks.RotateKey(id)
		}
		if err = audit("gate:"+gateSubject(id), "gate."+sub+fmt.Sprintf(" key_id=%d", kid), err); err != nil {
			return fail(err)
		}
		return gatesProvision(env, ks, id, kid, key, endpoints, *out, qc, stdout, stderr)
	case "revoke":
		err = audit("gate:"+gateSubject(pos[0]), "gate.revoke", ks.Revoke(pos[0]))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "gate %s revoked: its requests get 401 from now on\n", pos[0])
	case "mode":
		m := app.GateMode(pos[0])
		old := ks.Mode()
		err = audit("gate.mode", "from="+string(old)+" to="+string(m), ks.SetMode(m))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "gate mode %s (was %s); set by an operator, the configuration's mode is ignored from now on\n", m, old)
	case "export":
		b, err := ks.Export(env.cfg.StationID, pass, time.Now())
		if err == nil {
			err = atomicfile.WriteFile(*out, b, 0o600)
		}
		if err = audit("gate.registry", fmt.Sprintf("gate.export gates=%d", len(ks.Gates())), err); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "exported %d gates to %s (encrypted with the transfer passphrase)\n", len(ks.Gates()), *out)
	case "import":
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return fail(err)
		}
		res, err := ks.Import(b, env.cfg.StationID, pass)
		if err = audit("gate.registry", fmt.Sprintf("gate.import gates=%d exported=%s", res.Gates, res.Exported.Format(time.RFC3339)), err); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "imported %d gates (mode %s) exported by station %s at %s\n", res.Gates, res.Mode, res.StationID, res.Exported.Format(time.RFC3339))
	case "token":
		return gatesToken(env, pos[0], *out, sup, audit, stdout, stderr)
	}
	return 0
}

// gatesToken creates or revokes the station admin token (a supervisor
// with the PIN only).
func gatesToken(env gatesEnv, what, out string, sup app.Operator, audit func(subject, detail string, err error) error, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gates token:", app.UserMessage(err, app.LangEN))
		if app.ErrorCode(err) == app.CodeInvalid {
			return 2
		}
		return 1
	}
	keys, err := ledger.LoadKeys(env.keysDir())
	if err != nil {
		return fail(err)
	}
	if what == "revoke" {
		id, err := verify.RevokeAdminToken(env.cfg.DataDir)
		if err = audit("gate.admin-token", "admin_token.revoke token="+id, err); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "station admin token %s revoked: it is refused from now on\n", id)
		return 0
	}
	tok, err := writeAdminToken(env.cfg.DataDir, keys, sup.ID, out)
	id := ""
	if err == nil {
		id = verify.AdminTokenID(tok)
	}
	if err = audit("gate.admin-token", "admin_token.create token="+id, err); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "station admin token %s written to %s (0600; it manages the gates like a supervisor: keep it where only the station's administrators can read it; an earlier token no longer works)\n", id, out)
	return 0
}

// writeAdminToken makes the data folder's admin token and writes it to
// out (0600, never over an existing file, so a token file is not silently
// replaced).
func writeAdminToken(dataDir string, keys *ledger.Keys, by, out string) (string, error) {
	if _, err := os.Stat(out); err == nil {
		return "", app.NewError(app.CodeInvalid, "admin_token_out_exists", out+" 已存在：请换一个文件名或先删除它", out+" exists: choose another file or remove it first")
	}
	tok, err := verify.CreateAdminToken(dataDir, verify.AdminTokenKey(keys.Enc), by, time.Now())
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(out, []byte(tok+"\n"), 0o600); err != nil {
		// The folder holds a token nobody has: remove it again.
		_, _ = verify.RevokeAdminToken(dataDir)
		return "", app.WrapError(err, app.CodeUnavailable, "admin_token_out", "无法写入令牌文件 "+out, "cannot write the token file "+out)
	}
	return tok, nil
}

func (e gatesEnv) terminal() string {
	if e.cfg.StationID != "" {
		return e.cfg.StationID
	}
	return "cli"
}

func (e gatesEnv) keysDir() string {
	if e.cfg.KeysDir != "" {
		return e.cfg.KeysDir
	}
	return e.cfg.DataDir
}

// gateSubject is a gate id as typed, if it is one, for the audit subject.
func gateSubject(id string) string {
	if app.ValidGateID(id) {
		return id
	}
	return "?"
}

// gatesAuth opens the data folder's ledger (never creating one) and checks
// that operator is an active supervisor with this PIN (the login is
// audited by the ledger).
func gatesAuth(ctx context.Context, env gatesEnv, operator, pinFile string, stderr io.Writer) (*ledger.Ledger, app.Operator, error) {
	if operator == "" {
		return nil, app.Operator{}, app.NewError(app.CodeInvalid, "operator_missing", "需要 --operator（值班站长工号）", "--operator (a supervisor's number) is required")
	}
	path := filepath.Join(env.cfg.DataDir, ledger.FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, app.Operator{}, app.WrapError(err, app.CodeNotFound, "ledger_missing", "找不到账本："+path+"（先运行 stationdesk setup）", "No ledger at "+path+" (run stationdesk setup first)")
	}
	keys, err := ledger.LoadKeys(env.keysDir())
	if err != nil {
		return nil, app.Operator{}, err
	}
	pin, err := readPIN(pinFile, stderr)
	if err != nil {
		return nil, app.Operator{}, err
	}
	l, err := ledger.Open(ctx, path, keys, ledger.Options{Terminal: env.terminal()})
	if err != nil {
		return nil, app.Operator{}, err
	}
	op, err := l.Login(ctx, operator, pin)
	if err != nil {
		l.Close()
		return nil, app.Operator{}, err
	}
	if op.Role != app.RoleSupervisor {
		e := app.NewAuditEntry(op.ID, "?", app.ActConfigChange, "gate.registry", app.OutcomeDenied, "not_supervisor via=cli")
		e.Terminal = env.terminal()
		_ = l.Append(ctx, e)
		l.Close()
		return nil, app.Operator{}, app.NewError(app.CodeUnauthorized, "not_supervisor", "只有值班站长可以管理闸机。", "Only the duty supervisor can manage gates.")
	}
	return l, op, nil
}

// gatesTokenAuth opens the ledger and checks the station admin token in
// tokenFile against the data folder's; a refused token is audited
// (operator admin-token, denied). It returns the token's public id.
func gatesTokenAuth(ctx context.Context, env gatesEnv, tokenFile string) (*ledger.Ledger, app.Operator, string, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, app.Operator{}, "", app.WrapError(err, app.CodeInvalid, "admin_token_file", "无法读取站点管理令牌文件 "+tokenFile, "cannot read the admin token file "+tokenFile)
	}
	path := filepath.Join(env.cfg.DataDir, ledger.FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, app.Operator{}, "", app.WrapError(err, app.CodeNotFound, "ledger_missing", "找不到账本："+path+"（先运行 stationdesk setup）", "No ledger at "+path+" (run stationdesk setup first)")
	}
	keys, err := ledger.LoadKeys(env.keysDir())
	if err != nil {
		return nil, app.Operator{}, "", err
	}
	l, err := ledger.Open(ctx, path, keys, ledger.Options{Terminal: env.terminal()})
	if err != nil {
		return nil, app.Operator{}, "", err
	}
	id, err := verify.CheckAdminToken(env.cfg.DataDir, verify.AdminTokenKey(keys.Enc), string(b))
	if err != nil {
		e := app.NewAuditEntry(verify.AdminTokenOperator, "?", app.ActConfigChange, "gate.registry", app.OutcomeDenied, app.ErrorReason(err)+" via=cli")
		e.Terminal = env.terminal()
		_ = l.Append(ctx, e)
		l.Close()
		return nil, app.Operator{}, "", err
	}
	return l, app.Operator{ID: verify.AdminTokenOperator, Role: app.RoleSupervisor}, id, nil
}

func readPIN(pinFile string, stderr io.Writer) (string, error) {
	if pinFile != "" {
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return "", app.WrapError(err, app.CodeInvalid, "pin_file", "无法读取 PIN 文件", "cannot read the PIN file")
		}
		return strings.TrimSpace(string(b)), nil
	}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprint(stderr, "supervisor PIN: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		return strings.TrimSpace(string(b)), err
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func gatesList(ks *verify.KeyStore, asJSON bool, stdout io.Writer) int {
	gs := ks.Gates()
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(struct {
			Mode       app.GateMode   `json:"mode"`
			ModeSource string         `json:"mode_source"`
			Sealed     bool           `json:"sealed"`
			Gates      []app.GateInfo `json:"gates"`
		}{ks.Mode(), ks.ModeSource(), ks.Sealed(), gs})
		return 0
	}
	fmt.Fprintf(stdout, "mode %s (set by %s); keys sealed with the station key: %v\n", ks.Mode(), ks.ModeSource(), ks.Sealed())
	for _, g := range gs {
		state := "active"
		if g.Revoked {
			state = "revoked"
		}
		fmt.Fprintf(stdout, "%-32s %-8s key ids %v\n", g.ID, state, g.KeyIDs)
	}
	if len(gs) == 0 {
		fmt.Fprintln(stdout, "no gates")
	}
	return 0
}

// gatesProvision prints the new key once, writes the provisioning file and
// shows the same provisioning as a QR code (terminal and/or PNG) as qc
// asks.
func gatesProvision(env gatesEnv, ks *verify.KeyStore, id string, kid int, key string, endpoints []string, out string, qc qrChoice, stdout, stderr io.Writer) int {
	pin := ""
	if env.cfg.TLSCert != "" {
		p, err := verify.CertFilePin(env.cfg.TLSCert)
		if err != nil {
			fmt.Fprintln(stderr, "gates: station certificate:", err)
			return 1
		}
		pin = p
	}
	if len(endpoints) == 0 && env.cfg.Listen != "" {
		scheme := "http://"
		if pin != "" {
			scheme = "https://"
		}
		endpoints = []string{scheme + env.cfg.Listen}
	}
	if out == "" {
		out = fmt.Sprintf("%s-k%d.provision.json", id, kid)
	}
	p := verify.NewProvisioning(env.cfg.StationID, id, kid, key, endpoints, ks.Mode(), pin, time.Now())
	b, _ := json.MarshalIndent(p, "", "  ")
	fmt.Fprintf(stdout, "gate %s key %d (64 hex characters = 32 bytes; shown once):\n%s\n", id, kid, key)
	if err := atomicfile.WriteFile(out, append(b, '\n'), 0o600); err != nil {
		fmt.Fprintln(stderr, "gates: provisioning file:", err)
		return 1
	}
	fmt.Fprintf(stdout, "provisioning file %s (0600; holds the key: delete it once the gate has imported it)\n", out)
	if len(endpoints) == 0 {
		fmt.Fprintln(stdout, "warning: no endpoints in the provisioning file (give --endpoint or --config with listen)")
	}
	tty := stdoutIsTerminal(stdout)
	if qc.png == "" && !qc.on && (qc.off || !tty) {
		return 0
	}
	code, err := provisioningQR(p)
	if err != nil {
		fmt.Fprintln(stderr, "gates: QR code:", err)
		return 1
	}
	if qc.png != "" {
		if err := writeQRPNG(code, qc.png); err != nil {
			fmt.Fprintln(stderr, "gates: QR code PNG:", err)
			return 1
		}
		fmt.Fprintf(stdout, "QR code PNG %s (0600; holds the key like the provisioning file: delete it once the gate has scanned it)\n", qc.png)
	}
	if qc.on || (tty && !qc.off) {
		fmt.Fprintf(stdout, "provisioning QR code for gate %s (the provisioning file's content; it holds the key: let only the gate scan it, then clear the screen):\n", id)
		fmt.Fprint(stdout, qrHalfBlocks(code, tty))
	}
	return 0
}

func gatesCert(env gatesEnv, hosts string, stdout, stderr io.Writer) int {
	var hs []string
	for h := range strings.SplitSeq(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	cert, key := env.cfg.TLSCert, env.cfg.TLSKey
	if cert == "" {
		dir := filepath.Join(env.cfg.DataDir, "gate")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			fmt.Fprintln(stderr, "gates cert:", err)
			return 1
		}
		cert, key = filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
	}
	if _, err := os.Stat(cert); err == nil {
		fmt.Fprintf(stderr, "gates cert: %s exists; remove it first to make a new certificate (gates pinning the old one must be re-provisioned)\n", cert)
		return 1
	}
	pin, err := verify.GenerateCert(cert, key, env.cfg.StationID, hs, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "gates cert:", err)
		return 2
	}
	fmt.Fprintf(stdout, "certificate %s\nkey         %s\nsha256 pin  %s\n", cert, key, pin)
	if env.cfg.TLSCert == "" {
		fmt.Fprintf(stdout, "add to serve.toml:\ntls_cert = %q\ntls_key  = %q\n", cert, key)
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
