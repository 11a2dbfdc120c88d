//go:build unix

package filelock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// TryLock takes the exclusive lock on f without waiting; ErrHeld when
// another open file holds it.
func TryLock(f *os.File) error {
	err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrHeld
	}
	return err
}

// Lock takes the exclusive lock on f, waiting while another holds it.
func Lock(f *os.File) error { return flock(f, unix.LOCK_EX) }

// Unlock releases f's lock (closing f releases it too).
func Unlock(f *os.File) error { return flock(f, unix.LOCK_UN) }

// flock is unix.Flock, again after a signal interrupted it.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
