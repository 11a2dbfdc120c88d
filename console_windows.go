//go:build windows

package main

import (
	"os"
	"strings"
	"syscall"
)

// The Windows build is a GUI-subsystem program (-H=windowsgui), so the desk
// started from the Start menu opens no console window behind it. Such a
// program gets no console of its own, though: without this, the
// sub-commands (version, doc check, setup, …) typed at a command prompt
// would print nothing. For a sub-command, attachConsole attaches to the
// console of the prompt that started it and points whichever standard
// handles are not already redirected (to a file or a pipe) at it.
func init() {
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		return // the desk itself
	}
	attachConsole()
}

func attachConsole() {
	kernel32 := syscall.NewLazyDLL("kernel32.dll")
	attach := kernel32.NewProc("AttachConsole")
	const attachParentProcess = ^uintptr(0) // (DWORD)-1
	if r, _, _ := attach.Call(attachParentProcess); r == 0 {
		return // no parent console (started from Explorer) or one already
	}
	if !usable(syscall.Stdin) {
		if f, err := os.OpenFile("CONIN$", os.O_RDWR, 0); err == nil {
			os.Stdin = f
		}
	}
	if !usable(syscall.Stdout) {
		if f, err := os.OpenFile("CONOUT$", os.O_RDWR, 0); err == nil {
			os.Stdout = f
		}
	}
	if !usable(syscall.Stderr) {
		if f, err := os.OpenFile("CONOUT$", os.O_RDWR, 0); err == nil {
			os.Stderr = f
		}
	}
}

// usable reports whether a standard handle inherited at start leads
// somewhere (a file, pipe or console).
func usable(h syscall.Handle) bool {
	if h == 0 || h == syscall.InvalidHandle {
		return false
	}
	t, err := syscall.GetFileType(h)
	return err == nil && t != syscall.FILE_TYPE_UNKNOWN
}
