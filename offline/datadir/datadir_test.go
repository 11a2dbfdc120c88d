package datadir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
)

// childEnv makes the test binary a child that holds a folder's lock: it
// opens the folder named by the variable, prints "LOCKED", and waits
// until it is killed.
const childEnv = "DATADIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		d, err := Open(dir, Production)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(3)
		}
		fmt.Println("LOCKED", os.Getpid(), d.Path())
		select {} // until killed
	}
	os.Exit(m.Run())
}

func reason(err error) string { return app.ErrorReason(err) }

func mustOpen(t *testing.T, dir string, k Kind) *Dir {
	t.Helper()
	d, err := Open(dir, k)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", dir, k, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func perm(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestCreateRecordsKindWithPrivateModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes are ACLs on Windows")
	}
	old := setUmask(0) // the modes must not depend on the umask
	defer setUmask(old)
	dir := filepath.Join(t.TempDir(), "new", "data")
	d := mustOpen(t, dir, Production)
	if !d.Created() || d.Kind() != Production || d.Path() != dir {
		t.Fatalf("created %v kind %s path %s", d.Created(), d.Kind(), d.Path())
	}
	if m := perm(t, dir); m != 0o700 {
		t.Errorf("folder mode %04o, want 0700", m)
	}
	for _, f := range []string{MarkerFile, LockFile} {
		if m := perm(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %04o, want 0600", f, m)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if err != nil {
		t.Fatal(err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Kind != Production {
		t.Fatalf("marker %s: %v", b, err)
	}
	if k, ok, err := ReadKind(dir); err != nil || !ok || k != Production {
		t.Fatalf("ReadKind: %s %v %v", k, ok, err)
	}
	pid, _ := os.ReadFile(filepath.Join(dir, LockFile))
	if strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q, want this process's ID", pid)
	}
	d.Close()
	d2 := mustOpen(t, dir, Production)
	if d2.Created() {
		t.Fatal("a second open created the folder again")
	}
}

func TestKindMismatchRefusedBothWays(t *testing.T) {
	for _, c := range []struct{ made, asked Kind }{{Demo, Production}, {Production, Demo}} {
		dir := t.TempDir()
		d := mustOpen(t, dir, c.made)
		d.Close()
		_, err := Open(dir, c.asked)
		if reason(err) != "data_dir_kind" {
			t.Fatalf("%s folder opened as %s: %v", c.made, c.asked, err)
		}
		var ae *app.Error
		errors.As(err, &ae)
		if !strings.Contains(ae.EN, dir) || !strings.Contains(ae.ZH, dir) || !strings.Contains(ae.EN, string(c.made)) {
			t.Errorf("message does not name the folder and its kind: %q / %q", ae.EN, ae.ZH)
		}
		// The refusal changed nothing: the folder is still what it was.
		if k, _, _ := ReadKind(dir); k != c.made {
			t.Errorf("kind now %s", k)
		}
	}
}

func TestDamagedMarkerRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, MarkerFile), []byte(`{"kind":"prod`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Production); reason(err) != "data_dir_marker" {
		t.Fatalf("damaged marker: %v", err)
	}
}

func TestOlderFolderAdoptedOnlyAsWhatItHolds(t *testing.T) {
	mk := func(names ...string) string {
		dir := t.TempDir()
		for _, n := range names {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// A production folder made before markers existed.
	prod := mk("ledger.db", "station-keys.json")
	if _, err := Open(prod, Demo); reason(err) != "data_dir_kind" {
		t.Fatalf("records without a marker opened as demo: %v", err)
	}
	if d := mustOpen(t, prod, Production); !d.Created() {
		t.Fatal("not adopted")
	}
	// A demo folder made before markers existed.
	demo := mk("ledger.db", "central-sim/central.db")
	if _, err := Open(demo, Production); reason(err) != "data_dir_kind" {
		t.Fatalf("folder with the demo simulator's data opened as production: %v", err)
	}
	mustOpen(t, demo, Demo)
	// An empty folder becomes what is asked for.
	mustOpen(t, t.TempDir(), Demo)
}

func TestSecondOpenInProcessRefused(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, Production)
	_, err := Open(dir, Production)
	if reason(err) != "data_dir_locked" || !strings.Contains(err.Error(), "PID "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second open: %v", err)
	}
}

// startHolder runs the test binary as a child that holds dir's lock and
// returns once it says so.
func startHolder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "LOCKED ") {
			t.Fatalf("child: %q", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("child did not take the lock within 60 s")
	}
	return cmd
}

func TestSecondProcessRefusedNamingPID(t *testing.T) {
	dir := t.TempDir()
	child := startHolder(t, dir)
	_, err := Open(dir, Production)
	if reason(err) != "data_dir_locked" {
		t.Fatalf("open while another process holds it: %v", err)
	}
	var ae *app.Error
	errors.As(err, &ae)
	want := "PID " + strconv.Itoa(child.Process.Pid)
	for _, msg := range []string{ae.EN, ae.ZH} {
		if !strings.Contains(msg, want) || !strings.Contains(msg, dir) {
			t.Errorf("message %q does not name %s and the folder", msg, want)
		}
	}
}

func TestLockOfKilledProcessIsNotALock(t *testing.T) {
	dir := t.TempDir()
	child := startHolder(t, dir)
	if _, err := Open(dir, Production); reason(err) != "data_dir_locked" {
		t.Fatalf("held: %v", err)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no clean-up runs
		t.Fatal(err)
	}
	child.Wait()
	if b, _ := os.ReadFile(filepath.Join(dir, LockFile)); strings.TrimSpace(string(b)) != strconv.Itoa(child.Process.Pid) {
		t.Fatalf("the killed child's lock file should still be there with its PID, holds %q", b)
	}
	d := mustOpen(t, dir, Production)
	if b, _ := os.ReadFile(filepath.Join(d.Path(), LockFile)); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q after taking over", b)
	}
}

func TestLooseModesTightened(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes are ACLs on Windows")
	}
	dir := t.TempDir()
	mustOpen(t, dir, Production).Close()
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "gate")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "cache.db")
	if err := os.WriteFile(file, []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(sub, 0o755)
	os.Chmod(file, 0o666)
	d := mustOpen(t, dir, Production)
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 || st.Mode()&fs.ModeSticky != 0 {
		t.Errorf("folder %v, want 0700", st.Mode())
	}
	if m := perm(t, sub); m != 0o700 {
		t.Errorf("sub-folder %04o", m)
	}
	if m := perm(t, file); m != 0o600 {
		t.Errorf("file %04o", m)
	}
	// What a store creates later (SQLite honours the umask) is tightened
	// by Secure.
	late := filepath.Join(dir, "ledger.db-wal")
	if err := os.WriteFile(late, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(late, 0o644)
	if err := d.Secure(); err != nil {
		t.Fatal(err)
	}
	if m := perm(t, late); m != 0o600 {
		t.Errorf("file created after Open: %04o", m)
	}
}

func TestLooseModesNotOursRefusedWithChmod(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes are ACLs on Windows")
	}
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another account needs root")
	}
	dir := t.TempDir()
	mustOpen(t, dir, Production).Close()
	file := filepath.Join(dir, "ledger.db")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(file, 0o644)
	if err := os.Chown(file, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Production)
	if reason(err) != "data_dir_perms" {
		t.Fatalf("a loose file of another account: %v", err)
	}
	var ae *app.Error
	errors.As(err, &ae)
	cmd := "chmod -R go-rwx " + dir
	for _, msg := range []string{ae.EN, ae.ZH} {
		if !strings.Contains(msg, cmd) || !strings.Contains(msg, file) {
			t.Errorf("message %q does not give %q for %s", msg, cmd, file)
		}
	}
	if m := perm(t, file); m != 0o644 {
		t.Errorf("another account's file was changed: %04o", m)
	}
	// The folder is not left locked by the refusal.
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, Production)
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/var/lib/x": "/var/lib/x", "/a b": "'/a b'", "/it's": `'/it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
