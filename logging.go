package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Log rotation: stationdesk.log is rotated at logMaxMB and logKeep old
// files are kept (compressed), so the log never takes more than about
// logMaxMB × (1 + logKeep) of the data folder's disk.
const (
	logMaxMB = 20
	logKeep  = 5
)

// newLogger writes JSON lines to dir/stationdesk.log (rotated, see logMaxMB)
// and stderr. Domain types redact themselves, so a log line never holds a
// full ID number.
func newLogger(dir string, stderr io.Writer) (*slog.Logger, func(), error) {
	return newRotatingLogger(dir, logMaxMB, logKeep, stderr)
}

func newRotatingLogger(dir string, maxMB, keep int, stderr io.Writer) (*slog.Logger, func(), error) {
	path := filepath.Join(dir, "stationdesk.log")
	// Create it 0600 first: lumberjack creates new files 0600 too, and keeps
	// an existing file's mode on rotation.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	f.Close()
	lj := &lumberjack.Logger{Filename: path, MaxSize: maxMB, MaxBackups: keep, Compress: true}
	h := slog.NewJSONHandler(io.MultiWriter(lj, stderr), &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(h), func() { lj.Close() }, nil
}

// openCrashLog sends the runtime's crash report (a fatal error's
// goroutine stacks) to dir/crash.log as well as stderr. It reports false
// when the file cannot be opened; the desk starts without it.
func openCrashLog(dir string) (closeLog func(), ok bool) {
	f, err := os.OpenFile(filepath.Join(dir, "crash.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, false
	}
	// A crash prints goroutine stacks, never values of personal-data
	// types (they are not in stack traces' argument words as text).
	_ = debug.SetCrashOutput(f, debug.CrashOptions{})
	return func() { f.Close() }, true
}
