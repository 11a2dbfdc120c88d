//go:build unix

package datadir

import "os"

func chmodOwnerOnly(f *os.File) error { return f.Chmod(0o600) }
