//go:build unix

package datadir

import "syscall"

func setUmask(m int) int { return syscall.Umask(m) }
