//go:build unix

package datadir

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// secureFolder makes dir itself private: mode 0700 when this account owns
// it (which also clears a sticky or set-group-ID bit), refused with the
// chmod to run when it does not and others may use it.
func secureFolder(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return unavailable(err, dir)
	}
	return secureEntry(dir, dir, st)
}

// secureTree does the same for everything in dir, without following
// symbolic links.
func secureTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed meanwhile (a SQLite journal, a temp file)
			}
			return unavailable(err, dir)
		}
		if e.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		st, err := e.Info()
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return unavailable(err, dir)
		}
		return secureEntry(dir, path, st)
	})
}

// groupOther are the bits that let anyone but the owner in, plus the
// special bits a private folder has no use for.
const groupOther = 0o077

func secureEntry(dir, path string, st fs.FileInfo) error {
	mode := st.Mode()
	loose := mode.Perm()&groupOther != 0 || (mode.IsDir() && mode&(fs.ModeSticky|fs.ModeSetgid) != 0)
	if !loose {
		return nil
	}
	uid := -1
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		uid = int(s.Uid)
	}
	if uid != os.Geteuid() {
		return permError(dir, path, mode, ownerName(uid))
	}
	want := mode.Perm() &^ groupOther
	if mode.IsDir() {
		want |= 0o700
	} else {
		want |= 0o600
	}
	if err := os.Chmod(path, want); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return permError(dir, path, mode, ownerName(uid))
	}
	return nil
}

func ownerName(uid int) string {
	if uid < 0 {
		return "?"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
