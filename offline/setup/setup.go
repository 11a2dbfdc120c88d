// Package setup prepares a station's production data folder in one step,
// the work behind `stationdesk setup`: the folder itself (private to the
// account that runs the desk), the station keys, the first supervisor
// account and the configuration file that points the desk at it. With
// Upgrade it instead opens an existing folder with this build, so its
// migrations run, and reports what it found.
//
// Everything that can refuse is checked (Check) before anything is asked
// for or written, so a refusal leaves the machine as it was. An existing
// folder that holds anything is never set up again: that would either
// replace the station keys — making every sealed record and the audit
// chain unreadable — or mix two installations' data.
package setup

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/assets"
	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
)

// Plan is what the installer asked for.
type Plan struct {
	DataDir    string // production data folder (absolute after Check)
	ConfigPath string // configuration file the desk is started with
	StationID  string // station code, e.g. BJ-0101
	TerminalID string // window / desk number; default T01
	CentralURL string // central backend (https; http only on loopback)
	// Supervisor is the first account (ID and DisplayName; the role is
	// always supervisor). Needed for a new folder, and on Upgrade of a
	// folder that has no account yet.
	Supervisor app.Operator
	Upgrade    bool
	// Owner, when set (Unix, setup run as root for the desk's account),
	// is given the data folder and everything in it.
	Owner *Owner
}

// Owner is a Unix account by number.
type Owner struct {
	Name     string
	UID, GID int
}

// Report says what Run did, for the installer's screen and log.
type Report struct {
	Action     string   `json:"action"` // "created" or "upgraded"
	DataDir    string   `json:"data_dir"`
	ConfigPath string   `json:"config"`
	Config     string   `json:"config_file"` // "written", "replaced the example", "kept"
	KeyID      string   `json:"key_id"`
	Migrations []string `json:"migrations_applied"`
	Schema     int      `json:"ledger_schema"`
	Operators  int      `json:"operators"`
	Supervisor string   `json:"first_supervisor,omitempty"`
	Todo       []string `json:"todo"`
}

var stationIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

func invalid(reason, zh, en string) error { return app.NewError(app.CodeInvalid, reason, zh, en) }

// folderState is what Check found at the data folder.
type folderState int

const (
	folderMissing folderState = iota
	folderEmpty
	folderHasData
)

func inspect(dir string) (folderState, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return folderMissing, nil
	case err != nil:
		return 0, app.WrapError(err, app.CodeUnavailable, "data_dir_unreadable",
			"无法读取数据目录："+dir+"。", "Cannot read the data folder: "+dir+".")
	}
	// The lock file and the kind marker are not data: a folder holding
	// only them (a setup stopped right after it took the folder) is empty.
	for _, e := range entries {
		if e.Name() != datadir.LockFile && e.Name() != datadir.MarkerFile {
			return folderHasData, nil
		}
	}
	return folderEmpty, nil
}

// Check validates p and the state of the machine, filling in defaults
// (TerminalID, absolute paths). It writes nothing. needPIN reports whether
// Run will create the first supervisor, so the caller asks for a PIN only
// then. Refusals: CodeInvalid for a bad station ID, URL or account;
// CodeConflict "data_dir_exists" for a folder holding data without
// Upgrade, "config_exists" for a configuration file other than the
// shipped example without Upgrade; CodeNotFound "data_dir_missing" for
// Upgrade of nothing.
func Check(p *Plan) (needPIN bool, err error) {
	if p.DataDir == "" || p.ConfigPath == "" {
		return false, invalid("paths", "须指定数据目录和配置文件。", "The data folder and the configuration file must be given.")
	}
	if p.DataDir, err = filepath.Abs(p.DataDir); err != nil {
		return false, err
	}
	if p.ConfigPath, err = filepath.Abs(p.ConfigPath); err != nil {
		return false, err
	}
	if p.TerminalID == "" {
		p.TerminalID = "T01"
	}
	state, err := inspect(p.DataDir)
	if err != nil {
		return false, err
	}
	if p.Upgrade {
		if state != folderHasData {
			return false, app.NewError(app.CodeNotFound, "data_dir_missing",
				"没有可升级的数据目录："+p.DataDir+"。新装请去掉 --upgrade。",
				"There is no data folder to upgrade at "+p.DataDir+". For a new installation leave out --upgrade.")
		}
		if _, err := os.Stat(filepath.Join(p.DataDir, ledger.FileName)); err != nil {
			return false, app.NewError(app.CodeNotFound, "data_dir_missing",
				"数据目录 "+p.DataDir+" 中没有 "+ledger.FileName+"，不是站务台的数据目录。",
				"The folder "+p.DataDir+" has no "+ledger.FileName+"; it is not a StationDesk data folder.")
		}
		action, err := configAction(p.ConfigPath, true)
		if err != nil {
			return false, err
		}
		// A configuration is written only when there is none (or only the
		// example): then it needs this station's values.
		if action != "kept" || p.StationID != "" || p.CentralURL != "" {
			if err := checkIDs(p); err != nil {
				return false, err
			}
		}
		// A folder with no account yet (a setup interrupted after the
		// ledger was made) gets its first supervisor when one is given.
		if p.Supervisor.ID == "" {
			return false, nil
		}
		return true, checkSupervisor(p)
	}
	if state == folderHasData {
		return false, app.NewError(app.CodeConflict, "data_dir_exists",
			"数据目录已存在且有数据："+p.DataDir+"。升级现有安装请加 --upgrade；不会覆盖已有数据。",
			"The data folder already exists and holds data: "+p.DataDir+". To upgrade that installation add --upgrade; existing data is never overwritten.")
	}
	if err := checkIDs(p); err != nil {
		return false, err
	}
	if err := checkSupervisor(p); err != nil {
		return false, err
	}
	if _, err := configAction(p.ConfigPath, false); err != nil {
		return false, err
	}
	return true, nil
}

func checkIDs(p *Plan) error {
	if !stationIDRe.MatchString(p.StationID) {
		return invalid("station_id", "站点编号须为1–32位字母、数字、- 或 _。", "The station ID must be 1–32 letters, digits, - or _.")
	}
	if !stationIDRe.MatchString(p.TerminalID) {
		return invalid("terminal_id", "终端编号须为1–32位字母、数字、- 或 _。", "The terminal ID must be 1–32 letters, digits, - or _.")
	}
	return checkCentralURL(p.CentralURL)
}

// checkCentralURL accepts https, and http only to a loopback host (a test
// rig): the station token and riders' data travel on this link.
func checkCentralURL(s string) error {
	u, err := url.Parse(s)
	bad := invalid("central_url", "中心地址须为 https://主机[:端口]。", "The central URL must be https://host[:port].")
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1" {
			return nil
		}
		return invalid("central_url_http", "中心地址必须使用 https（明文 http 只允许本机测试）。", "The central URL must use https (plain http only to this machine, for tests).")
	}
	return bad
}

func checkSupervisor(p *Plan) error {
	p.Supervisor.Role = app.RoleSupervisor
	if p.Supervisor.ID == "" {
		return invalid("supervisor_missing", "须用 --supervisor 指定第一位值班站长的工号。", "Give the first supervisor's operator number with --supervisor.")
	}
	if p.Supervisor.DisplayName == "" {
		p.Supervisor.DisplayName = p.Supervisor.ID
	}
	return app.ValidateOperator(p.Supervisor)
}

// configAction decides what happens to the configuration file: it is
// written when missing or when it is the example the package installed
// unchanged; an edited file is the station's and is kept on Upgrade and
// refused otherwise.
func configAction(path string, upgrade bool) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "written", nil
	case err != nil:
		return "", app.WrapError(err, app.CodeUnavailable, "config_unreadable", "无法读取配置文件："+path+"。", "Cannot read the configuration file: "+path+".")
	case bytes.Equal(b, assets.ConfigExample):
		return "replaced the example", nil
	case upgrade:
		return "kept", nil
	}
	return "", app.NewError(app.CodeConflict, "config_exists",
		"配置文件已存在且已修改："+path+"。请用 --config 指定另一个文件，或升级时加 --upgrade（保留原文件）。",
		"The configuration file exists and was edited: "+path+". Choose another with --config, or add --upgrade to keep it.")
}

// Run carries out a plan that passed Check. pin is the first supervisor's
// PIN (chosen and confirmed by the person at the keyboard; ignored when
// Check said none is needed).
func Run(ctx context.Context, p Plan, pin string) (Report, error) {
	r := Report{DataDir: p.DataDir, ConfigPath: p.ConfigPath}
	// A bad PIN must not leave a folder with keys and no account behind.
	if p.Supervisor.ID != "" {
		if err := app.ValidatePIN(pin); err != nil {
			return r, err
		}
	}
	if p.Upgrade {
		r.Action = "upgraded"
	} else {
		r.Action = "created"
	}
	// The folder's lock and kind, as the desk takes them: a running desk
	// or serve on the folder stops setup here (naming its PID), a demo
	// folder is never upgraded into a production one, and a new folder
	// gets its production marker now rather than at the desk's first
	// start. The folder is created 0700 when missing.
	dir, err := datadir.Open(p.DataDir, datadir.Production)
	if err != nil {
		return r, err
	}
	defer dir.Close()
	if p.Upgrade {
		if _, err := ledger.LoadKeys(p.DataDir); err != nil {
			// Never make new keys for a folder with data: its sealed
			// records and audit chain need the old ones.
			return r, err
		}
	}
	keys, err := ledger.LoadOrCreateKeys(p.DataDir)
	if err != nil {
		return r, err
	}
	r.KeyID = keys.ID
	migs := &migrationLog{}
	l, err := ledger.Open(ctx, filepath.Join(p.DataDir, ledger.FileName), keys, ledger.Options{Logger: slog.New(migs), Terminal: p.TerminalID})
	if err != nil {
		return r, err
	}
	defer l.Close()
	r.Migrations = migs.names()
	if r.Schema, err = l.DB().SchemaVersion(ctx); err != nil {
		return r, err
	}
	ops, err := l.ListOperators(ctx)
	if err != nil {
		return r, err
	}
	if len(ops) == 0 && p.Supervisor.ID != "" {
		if err := l.CreateFirstSupervisor(ctx, p.Supervisor, pin); err != nil {
			return r, err
		}
		r.Supervisor = p.Supervisor.ID
		ops = append(ops, p.Supervisor)
	}
	r.Operators = len(ops)
	if err := l.Close(); err != nil {
		return r, err
	}
	if err := dir.Secure(); err != nil {
		return r, err
	}

	action, err := configAction(p.ConfigPath, p.Upgrade)
	if err != nil {
		return r, err
	}
	r.Config = action
	if action != "kept" {
		if err := os.MkdirAll(filepath.Dir(p.ConfigPath), 0o755); err != nil {
			return r, err
		}
		if err := atomicfile.WriteFile(p.ConfigPath, RenderConfig(p), 0o644); err != nil {
			return r, app.WrapError(err, app.CodeUnavailable, "config_write", "无法写入配置文件："+p.ConfigPath+"。", "Cannot write the configuration file: "+p.ConfigPath+".")
		}
	}
	if p.Owner != nil {
		if err := chownTree(p.DataDir, *p.Owner); err != nil {
			return r, err
		}
	}
	r.Todo = todo(p, r)
	return r, nil
}

// RenderConfig is the example configuration with this station's values
// filled in, its comments kept, so the file explains itself.
func RenderConfig(p Plan) []byte {
	set := map[string]string{
		"data_dir":    p.DataDir,
		"station_id":  p.StationID,
		"terminal_id": p.TerminalID,
	}
	section := ""
	var out []string
	for _, line := range strings.Split(string(assets.ConfigExample), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			section = strings.Trim(t, "[]")
		}
		key, _, ok := strings.Cut(t, "=")
		key = strings.TrimSpace(key)
		if ok && !strings.HasPrefix(t, "#") {
			v, want := set[key], section == "" && set[key] != ""
			if section == "central" && key == "url" && p.CentralURL != "" {
				v, want = p.CentralURL, true
			}
			if want {
				comment := ""
				if i := strings.Index(line, "#"); i > 0 {
					comment = "   " + line[i:]
				}
				line = key + " = " + strconv.Quote(v) + comment
			}
		}
		out = append(out, line)
	}
	head := "# Written by `stationdesk setup` for station " + p.StationID + ".\n"
	return []byte(head + strings.Join(out, "\n"))
}

func todo(p Plan, r Report) []string {
	t := []string{
		"pin central's CA: put its PEM file in [central] ca_file of " + p.ConfigPath + " (and client_cert/client_key if central asks for them)",
		"put the station's central token in a 0600 file and name it in [central] token_file",
		"plug in the readers, run `stationdesk devices list`, and put the ports in [devices]",
		"give the gate service the gate VLAN address in [gate] listen, then add each gate on the Gates screen (its key is shown once)",
		"start the desk with `stationdesk --config " + p.ConfigPath + "` and log in as " + firstNonEmpty(r.Supervisor, "a supervisor") + " to add the clerks' accounts",
	}
	if r.Action == "upgraded" {
		t = t[len(t)-1:]
		if r.Operators == 0 {
			t = append(t, "this folder has no account yet: run setup --upgrade again with --supervisor ID to create the first supervisor")
		}
	}
	return t
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// migrationLog is a slog handler that records the store's "migration
// applied" lines (the only way the store reports them) and drops the rest.
type migrationLog struct {
	mu   sync.Mutex
	list []string
}

func (m *migrationLog) Enabled(context.Context, slog.Level) bool { return true }
func (m *migrationLog) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *migrationLog) WithGroup(string) slog.Handler            { return m }
func (m *migrationLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "migration applied" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "migration" {
			m.mu.Lock()
			m.list = append(m.list, a.Value.String())
			m.mu.Unlock()
		}
		return true
	})
	return nil
}

func (m *migrationLog) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string{}, m.list...)
}
