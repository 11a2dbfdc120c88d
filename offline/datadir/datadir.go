// Package datadir opens a StationDesk data folder: it takes the folder's
// lock, checks which kind of folder it is (demo or production) and keeps
// the folder private to the account that runs the desk.
//
// The order is fixed. The folder itself is checked (and tightened) first,
// then the OS lock on the lock file is taken, and only then is anything
// else in the folder read or written — the kind marker, the permissions of
// the files, and afterwards every store the caller opens. So a second
// process on the same folder stops before it has touched a single record.
//
// The lock is the operating system's (offline/filelock: flock on Unix, LockFileEx on
// Windows): it is released when its holder exits, however it exits, so a
// lock file left behind by a killed process is not a lock. The holder's
// process ID is written into the lock file so that the second process can
// say who holds the folder.
//
// The kind is written once, when the folder is created, to a small file
// (MarkerFile), durably (written, synced, renamed, folder synced). A demo
// folder is never opened as a production one and the other way round.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/offline/filelock"
)

// Kind is what a data folder is for.
type Kind string

// The two kinds. They never mix: demo riders, demo accounts with public
// PINs and demo keys live in demo folders only.
const (
	Demo       Kind = "demo"
	Production Kind = "production"
)

// Valid reports whether k is one of the two kinds.
func (k Kind) Valid() bool { return k == Demo || k == Production }

const (
	// MarkerFile records the folder's kind.
	MarkerFile = "folder-kind.json"
	// LockFile is the file the OS lock is taken on; it holds the
	// holder's process ID.
	LockFile = "stationdesk.lock"
)

// demoOnlyNames are what only demo mode ever creates in a data folder
// (the embedded central simulator's folder, the simulated readers'
// pseudo-terminals, the simulator's own database when it runs alone). A
// folder without a marker that holds one of them was used by demo mode.
var demoOnlyNames = []string{"central-sim", "ports", "centralsim.db"}

// DemoOnlyNames lists the entries that only demo mode creates in a data
// folder.
func DemoOnlyNames() []string { return slices.Clone(demoOnlyNames) }

// marker is the content of MarkerFile.
type marker struct {
	Kind    Kind   `json:"kind"`
	Created string `json:"created"`
	Format  int    `json:"format"`
}

// Dir is an open, locked data folder. Close releases the lock.
type Dir struct {
	path    string
	kind    Kind
	created bool
	lock    *os.File
}

// Path is the folder's absolute path.
func (d *Dir) Path() string { return d.path }

// Kind is the folder's kind (the one asked for: Open refuses any other).
func (d *Dir) Kind() Kind { return d.kind }

// Created reports whether this Open wrote the kind marker (a new folder,
// or an empty one, or an older folder without a marker that was adopted).
func (d *Dir) Created() bool { return d.created }

// Close releases the lock. The lock file stays; it is not a lock once no
// process holds the OS lock on it.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := filelock.Unlock(d.lock)
	if cerr := d.lock.Close(); err == nil {
		err = cerr
	}
	d.lock = nil
	return err
}

// Secure checks the folder and everything in it again and tightens what
// the stores created since Open (SQLite creates its files with the
// process's umask). The caller runs it after opening its stores.
func (d *Dir) Secure() error { return secureTree(d.path) }

// Open opens the data folder at path as kind want, creating it (mode 0700)
// when it does not exist. It refuses, with a bilingual app.Error naming
// the folder:
//
//   - a folder another process holds (reason "data_dir_locked", with its
//     process ID),
//   - a folder of the other kind ("data_dir_kind"),
//   - a folder, or anything in it, that others may read or write and that
//     this account does not own ("data_dir_perms", with the chmod to run);
//     what this account owns is tightened instead.
//
// A folder without a marker that already holds files (made by an earlier
// version) is adopted as want, except that one holding what only demo mode
// creates is never adopted as production, and one without those is never
// adopted as demo.
func Open(path string, want Kind) (*Dir, error) {
	if !want.Valid() {
		return nil, fmt.Errorf("datadir: kind %q", want)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := createFolder(abs); err != nil {
		return nil, err
	}
	if err := secureFolder(abs); err != nil {
		return nil, err
	}
	lf, err := takeLock(abs)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: abs, kind: want, lock: lf}
	if err := d.checkKind(want); err != nil {
		d.Close()
		return nil, err
	}
	if err := secureTree(abs); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// ReadKind reports the kind recorded in the folder at path without
// taking the lock or writing anything (for read-only tools). ok is false
// when the folder has no marker.
func ReadKind(path string) (k Kind, ok bool, err error) {
	m, ok, err := readMarker(path)
	return m.Kind, ok, err
}

func createFolder(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return app.NewError(app.CodeInvalid, "data_dir_not_folder",
				"数据目录路径不是文件夹："+dir+"。", "The data folder path is not a folder: "+dir+".")
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return unavailable(err, dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return unavailable(err, dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return unavailable(err, dir)
	}
	// Mkdir's mode passes through the umask; set it outright.
	if err := os.Chmod(dir, 0o700); err != nil {
		return unavailable(err, dir)
	}
	return nil
}

func unavailable(err error, dir string) error {
	return app.WrapError(err, app.CodeUnavailable, "data_dir",
		"数据目录无法创建或写入："+dir+"。请检查磁盘空间和权限。",
		"The data folder cannot be created or written: "+dir+". Check disk space and permissions.")
}

// takeLock opens the lock file and takes the OS lock on it, or says who
// holds it.
func takeLock(dir string) (*os.File, error) {
	p := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, unavailable(err, dir)
	}
	if err := filelock.TryLock(f); err != nil {
		f.Close()
		if !errors.Is(err, filelock.ErrHeld) {
			return nil, unavailable(err, dir)
		}
		return nil, lockedError(dir)
	}
	_ = chmodOwnerOnly(f)
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
		if err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		_ = filelock.Unlock(f)
		f.Close()
		return nil, unavailable(err, dir)
	}
	return f, nil
}

func lockedError(dir string) error {
	pid := "?"
	if b, err := os.ReadFile(filepath.Join(dir, LockFile)); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			pid = strconv.Itoa(n)
		}
	}
	return app.NewError(app.CodeConflict, "data_dir_locked",
		"数据目录 "+dir+" 正被另一个进程（PID "+pid+"）使用：另一个站务台或 serve 已在运行。一个数据目录同时只能由一个进程使用；请先关闭那个进程。",
		"The data folder "+dir+" is in use by another process (PID "+pid+"): another desk or serve is running on it. Only one process may use a data folder at a time; close that one first.")
}

func readMarker(dir string) (marker, bool, error) {
	var m marker
	b, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, unavailable(err, dir)
	}
	if err := json.Unmarshal(b, &m); err != nil || !m.Kind.Valid() {
		return m, false, app.NewError(app.CodeInvalid, "data_dir_marker",
			"数据目录 "+dir+" 的类型记录文件 "+MarkerFile+" 已损坏，无法判断它是演示目录还是正式目录。请联系技术支持；不要删除该目录。",
			"The data folder "+dir+" has a damaged "+MarkerFile+": it cannot tell whether the folder is a demo or a production one. Call technical support; do not delete the folder.")
	}
	return m, true, nil
}

func (d *Dir) checkKind(want Kind) error {
	m, ok, err := readMarker(d.path)
	if err != nil {
		return err
	}
	if ok {
		if m.Kind != want {
			return kindError(d.path, m.Kind)
		}
		return nil
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return unavailable(err, d.path)
	}
	demoTrace, data := "", false
	for _, e := range entries {
		switch {
		case e.Name() == LockFile:
		case slices.Contains(demoOnlyNames, e.Name()):
			demoTrace, data = e.Name(), true
		default:
			data = true
		}
	}
	// An older folder is adopted only as what its contents say it is.
	if data && want == Production && demoTrace != "" {
		return kindError(d.path, Demo)
	}
	if data && want == Demo && demoTrace == "" {
		return app.NewError(app.CodeConflict, "data_dir_kind",
			"数据目录 "+d.path+" 中已有数据，但不是演示目录。演示模式只在自己的目录中运行：请去掉 --data（使用默认演示目录）或指定一个新的空目录。",
			"The data folder "+d.path+" holds data but is not a demo folder. Demo mode runs only in a folder of its own: leave out --data (the default demo folder) or name a new, empty folder.")
	}
	b, _ := json.Marshal(marker{Kind: want, Created: time.Now().UTC().Format(time.RFC3339), Format: 1})
	if err := atomicfile.WriteFile(filepath.Join(d.path, MarkerFile), append(b, '\n'), 0o600); err != nil {
		return unavailable(err, d.path)
	}
	d.created = true
	return nil
}

// kindError refuses a folder that is of kind have.
func kindError(dir string, have Kind) error {
	if have == Production {
		return app.NewError(app.CodeConflict, "data_dir_kind",
			"数据目录 "+dir+" 是正式（生产）目录，演示模式不能在其中运行。正式使用请用 --config 配置文件启动；演示请去掉 --data。",
			"The data folder "+dir+" is a production folder; demo mode never runs on it. Start production with --config FILE; for the demo leave out --data.")
	}
	return app.NewError(app.CodeConflict, "data_dir_kind",
		"数据目录 "+dir+" 是演示目录（含演示账户和演示数据），正式站务台不能使用它。请用 `stationdesk setup` 建立正式数据目录，或在配置中指定另一个 data_dir。",
		"The data folder "+dir+" is a demo folder (demo accounts and demo data); a production desk never uses it. Create the production folder with `stationdesk setup`, or set another data_dir in the configuration.")
}

// permError refuses path, which others may use and this account cannot
// change: it names the exact command for the folder's owner (or root).
func permError(dir, path string, mode fs.FileMode, owner string) error {
	cmd := "chmod -R go-rwx " + shellQuote(dir)
	return app.NewError(app.CodeUnauthorized, "data_dir_perms",
		fmt.Sprintf("数据目录中的 %s（权限 %04o，属主 %s）可被其他用户读取或写入，而本账户无法更改它。请以其属主或 root 身份执行：%s", path, mode.Perm(), owner, cmd),
		fmt.Sprintf("%s in the data folder (mode %04o, owner %s) can be read or written by other users, and this account cannot change that. As its owner or root, run: %s", path, mode.Perm(), owner, cmd))
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
