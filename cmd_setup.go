package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/term"

	"stationdesk/app"
	"stationdesk/app/config"
	"stationdesk/offline/ledger"
	"stationdesk/offline/setup"
	"stationdesk/offline/verify"
)

const setupUsage = `usage: stationdesk setup --station-id ID --central URL --supervisor NUMBER [--name NAME]
                         [--terminal-id T01] [--data DIR] [--config FILE] [--user ACCOUNT]
                         [--admin-token-out FILE]
       stationdesk setup --upgrade [--data DIR] [--config FILE] [--admin-token-out FILE]

Prepares this PC's production data folder: the folder (private to the
account that runs the desk), the station keys, the first supervisor account
and the configuration file. The supervisor's PIN is asked for twice (6
digits, not all the same or consecutive); with no terminal it is read as
two lines from standard input. There is no default PIN.
An existing folder is refused; --upgrade opens it with this version instead
(its data is kept and migrated).
--admin-token-out FILE also makes the station admin token, for managing the
gates of a headless station server (stationdesk gates ... --admin-token-file);
it is written to FILE (0600, never over an existing file), the data folder
keeps only its hash keyed with the station key, and its creation is audited.
`

// cmdSetup is `stationdesk setup`; the work is in offline/setup.
func cmdSetup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSetup(ctx, args, os.Stdin, stdout, stderr)
}

func runSetup(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, setupUsage); fs.PrintDefaults() }
	var p setup.Plan
	var account, tokenOut string
	def := setupDefaults()
	fs.StringVar(&p.StationID, "station-id", "", "station code, e.g. BJ-0101")
	fs.StringVar(&p.CentralURL, "central", "", "central backend URL (https)")
	fs.StringVar(&p.TerminalID, "terminal-id", "T01", "window / desk number")
	fs.StringVar(&p.Supervisor.ID, "supervisor", "", "operator number of the first supervisor")
	fs.StringVar(&p.Supervisor.DisplayName, "name", "", "display name of the first supervisor (default: the number)")
	fs.StringVar(&p.DataDir, "data", def.data, "production data folder")
	fs.StringVar(&p.ConfigPath, "config", def.config, "configuration file to write")
	fs.BoolVar(&p.Upgrade, "upgrade", false, "open an existing data folder with this version (keeps and migrates its data)")
	fs.StringVar(&tokenOut, "admin-token-out", "", "also make the station admin token (gates ... --admin-token-file) and write it to this file, 0600")
	if runtime.GOOS != "windows" {
		fs.StringVar(&account, "user", "", "the account that runs the desk, when setup runs as root (it gets the data folder)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "setup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		var ae *app.Error
		if errors.As(err, &ae) {
			fmt.Fprintln(stderr, "setup:", ae.Message(app.LangEN))
			fmt.Fprintln(stderr, "setup:", ae.Message(app.LangZH))
		} else {
			fmt.Fprintln(stderr, "setup:", err)
		}
		return 1
	}
	if account != "" {
		o, err := lookupOwner(account)
		if err != nil {
			return fail(err)
		}
		p.Owner = o
	} else if runtime.GOOS != "windows" && os.Geteuid() == 0 && !p.Upgrade {
		return fail(errors.New("run as root, setup needs --user ACCOUNT: the account that runs the desk gets the data folder (mode 0700), and root's would be unusable to it"))
	}
	needPIN, err := setup.Check(&p)
	if err != nil {
		return fail(err)
	}
	if tokenOut != "" {
		if _, err := os.Stat(tokenOut); err == nil {
			return fail(app.NewError(app.CodeInvalid, "admin_token_out_exists", tokenOut+" 已存在：请换一个文件名或先删除它", tokenOut+" exists: choose another file or remove it first"))
		}
	}
	var pin string
	if needPIN {
		if pin, err = askPIN(stdin, stderr, p.Supervisor.ID); err != nil {
			return fail(err)
		}
	}
	rep, err := setup.Run(ctx, p, pin)
	if err != nil {
		return fail(err)
	}
	// The file must be one the desk accepts, with these values.
	if c, err := loadConfig(rep.ConfigPath); err != nil {
		return fail(fmt.Errorf("the configuration written does not load: %w", err))
	} else if c.Defaults(); c.Validate() != nil {
		return fail(fmt.Errorf("the configuration written is not valid: %w", c.Validate()))
	}
	var tokenID string
	if tokenOut != "" {
		if tokenID, err = setupAdminToken(ctx, p, tokenOut); err != nil {
			return fail(err)
		}
	}
	writeJSON(stdout, rep)
	if tokenID != "" {
		fmt.Fprintf(stderr, "\nStation admin token %s written to %s (0600): it manages the gates like a supervisor (stationdesk gates ... --admin-token-file %s); keep it where only the station's administrators can read it.\n", tokenID, tokenOut, tokenOut)
	}
	fmt.Fprintf(stderr, "\nStationDesk %s: data folder %s (%s), configuration %s (%s).\nStill to do:\n", rep.Action, rep.DataDir, rep.KeyID, rep.ConfigPath, rep.Config)
	for i, t := range rep.Todo {
		fmt.Fprintf(stderr, "  %d. %s\n", i+1, t)
	}
	return 0
}

// setupAdminToken makes the station admin token of the folder setup has
// just prepared, writes it to out and audits it (operator: the first
// supervisor, or "setup" on --upgrade). Run as root with --user, the
// folder's new files are given to that account like the rest of it.
func setupAdminToken(ctx context.Context, p setup.Plan, out string) (string, error) {
	keys, err := ledger.LoadKeys(p.DataDir)
	if err != nil {
		return "", err
	}
	by := p.Supervisor.ID
	if by == "" {
		by = "setup"
	}
	tok, err := writeAdminToken(p.DataDir, keys, by, out)
	if err != nil {
		return "", err
	}
	id := verify.AdminTokenID(tok)
	l, err := ledger.Open(ctx, filepath.Join(p.DataDir, ledger.FileName), keys, ledger.Options{Terminal: p.TerminalID})
	if err != nil {
		return "", err
	}
	err = l.Append(ctx, app.NewAuditEntry(by, "?", app.ActConfigChange, "gate.admin-token", app.OutcomeSuccess, "admin_token.create token="+id+" via=setup"))
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.Owner != nil {
		err = filepath.WalkDir(p.DataDir, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, p.Owner.UID, p.Owner.GID)
		})
	}
	return id, err
}

type setupPaths struct{ data, config string }

// setupDefaults are where a production desk keeps its data and
// configuration: machine-wide on Windows (%ProgramData%\StationDesk, whose
// ACL the installer sets) and for root on Linux (/var/lib, /etc — where the
// menu entry looks); a user's own folders otherwise.
func setupDefaults() setupPaths {
	if runtime.GOOS == "windows" {
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return setupPaths{filepath.Join(pd, "StationDesk", "data"), filepath.Join(pd, "StationDesk", "stationdesk.toml")}
	}
	if os.Geteuid() == 0 {
		return setupPaths{"/var/lib/stationdesk-desk", "/etc/stationdesk/stationdesk.toml"}
	}
	data, _ := config.DefaultDataDir(false)
	cfg, err := os.UserConfigDir()
	if err != nil {
		cfg = filepath.Dir(data)
	}
	return setupPaths{data, filepath.Join(cfg, "stationdesk", "stationdesk.toml")}
}

func lookupOwner(name string) (*setup.Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("no account %q on this machine: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("account %q has no numeric uid/gid", name)
	}
	return &setup.Owner{Name: name, UID: uid, GID: gid}, nil
}

// askPIN reads the first supervisor's PIN twice: from the terminal without
// echo (three tries), or as two lines of stdin when it is not a terminal
// (scripted installs). The PIN never appears in output or errors.
func askPIN(stdin io.Reader, stderr io.Writer, id string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		for try := 0; try < 3; try++ {
			fmt.Fprintf(stderr, "PIN for supervisor %s (6 digits): ", id)
			a, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return "", fmt.Errorf("read PIN: %w", err)
			}
			if err := app.ValidatePIN(string(a)); err != nil {
				fmt.Fprintln(stderr, app.UserMessage(err, app.LangEN), "/", app.UserMessage(err, app.LangZH))
				continue
			}
			fmt.Fprint(stderr, "The same PIN again: ")
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return "", fmt.Errorf("read PIN: %w", err)
			}
			if string(a) == string(b) {
				return string(a), nil
			}
			fmt.Fprintln(stderr, "The two PINs differ. / 两次输入的密码不一致。")
		}
		return "", errors.New("no PIN chosen after three tries")
	}
	r := bufio.NewReader(stdin)
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && s != "") {
			return "", errors.New("the supervisor's PIN is read from standard input, twice, one per line; none was given")
		}
		return strings.TrimRight(s, "\r\n"), nil
	}
	a, err := line()
	if err != nil {
		return "", err
	}
	b, err := line()
	if err != nil {
		return "", err
	}
	if a != b {
		return "", app.NewError(app.CodeInvalid, "pin_mismatch", "两次输入的密码不一致。", "The two PINs differ.")
	}
	if err := app.ValidatePIN(a); err != nil {
		return "", err
	}
	return a, nil
}
