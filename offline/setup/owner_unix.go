//go:build unix

package setup

import (
	"io/fs"
	"os"
	"path/filepath"
)

// chownTree gives dir and everything in it to o: setup runs as root, the
// desk as the clerk's account, and the data folder must be that account's
// alone (mode 0700, files 0600).
func chownTree(dir string, o Owner) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, o.UID, o.GID)
	})
}
