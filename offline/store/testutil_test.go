package store

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// readOnlyDir returns a folder this process cannot create files in. As
// root, permission bits do not stop writes, so it mounts a read-only tmpfs
// (skipping the test if mounting is not permitted).
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	mountTmpfs(t, dir, "ro,size=64k")
	return dir
}

// mountTmpfs mounts a tmpfs with the given options on dir and unmounts it
// at cleanup; it skips the test when mount is not permitted (not root, no
// CAP_SYS_ADMIN, no mount binary).
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}
