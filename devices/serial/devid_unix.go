//go:build !windows

package serial

import (
	"os"
	"syscall"
)

// deviceID returns the device number of the node path resolves to, so a
// replaced node (a replugged adapter, a re-pointed symlink) can be told
// from the one that was opened.
func deviceID(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Rdev), nil
	}
	return 0, nil
}
