//go:build windows

package datadir

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is where the locked byte lies: far past the process ID at
// the start of the file, because Windows locks are mandatory and a locked
// range cannot be read by the process that wants to name the holder.
const lockOffset = 1 << 30

// tryLock takes an exclusive LockFileEx lock on one byte of f without
// waiting. Windows releases it when the handle's process ends.
func tryLock(f *os.File) error {
	ol := windows.Overlapped{Offset: lockOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return errHeld
	}
	return err
}

func unlock(f *os.File) error {
	ol := windows.Overlapped{Offset: lockOffset}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// chmodOwnerOnly: on Windows the folder's ACL, inherited from the folder
// the installer prepared, decides who may open the file.
func chmodOwnerOnly(*os.File) error { return nil }
