// Package atomicfile writes small durable files (keys, cursors, settings,
// reports) so that a crash or power cut leaves either the old file or the
// new one, never half of one (after tailscale's atomicfile). Standard
// library only, so every layer may use it.
package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile writes data to path through a temporary file in the same
// folder: write, fsync, set perm, rename over path, then fsync the folder
// so the rename itself is durable. On any error path is left as it was and
// the temporary file is removed.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// Chmod is not meaningful on Windows; elsewhere the permission is set
	// before any byte is written, so a secret is never world-readable.
	if err = f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
