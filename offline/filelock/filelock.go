// Package filelock takes the operating system's exclusive lock on a file:
// flock on Unix, LockFileEx on Windows. It is the one lock of the station:
// the data folder's lock (offline/datadir) and the gate registry's
// read-modify-write across processes (offline/verify) both take it here.
//
// The lock belongs to the open file, and the kernel drops it when the
// process dies, so a lock file left behind by a killed process is not a
// lock. On Windows, where locks are mandatory, the locked byte lies far
// past the start of the file, so the file's content (the holder's process
// ID in the data folder's lock) stays readable by the process that wants
// to name the holder.
package filelock

import (
	"errors"
	"os"
)

// ErrHeld is what TryLock returns when another open file (in this process
// or another) holds the lock.
var ErrHeld = errors.New("lock held by another process")

// lockOffset is where the locked byte lies on Windows (see the package
// comment); Unix locks the whole file.
const lockOffset = 1 << 30

// Acquire opens path (created 0600 if missing), waits for its exclusive
// lock and returns the function that releases the lock and closes the
// file.
func Acquire(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := Lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = Unlock(f); f.Close() }, nil
}
