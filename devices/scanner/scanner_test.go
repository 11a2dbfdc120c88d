//go:build !windows

package scanner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices/scanner"
	"stationdesk/devices/sim"
)

func newRig(t *testing.T) (*sim.Scanner, *scanner.Scanner, *app.StatusBoard) {
	t.Helper()
	s, err := sim.NewScanner(filepath.Join(t.TempDir(), "ttyQR"), 0)
	if err != nil {
		t.Fatal(err)
	}
	board := app.NewStatusBoard(app.SystemClock{})
	sc := scanner.New(scanner.Config{Port: s.Path(), Board: board, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	waitState(t, board, app.StateReady)
	return s, sc, board
}

func waitState(t *testing.T, b *app.StatusBoard, s app.State) {
	t.Helper()
	waitFor(t, "scanner "+string(s), func() bool { return b.Get(app.CompScanner).State == s })
}

// waitFor polls cond until it holds, or fails after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the deadline decides
	}
}

func scan(t *testing.T, sc *scanner.Scanner) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return sc.Scan(ctx)
}

func TestScanThroughPTY(t *testing.T) {
	s, sc, _ := newRig(t)
	for _, tt := range []struct{ name, code, term string }{
		{"CR", "BJMETRO:ride:0001", "\r"},
		{"LF", "BJMETRO:ride:0002", "\n"},
		{"CRLF", "https://health.example/c/0003", "\r\n"},
		{"NoTerminatorIdleGap", "BJMETRO:ride:0004", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := make(chan string, 1)
			go func() { c, _ := scan(t, sc); res <- c }()
			if err := s.Scan(tt.code, tt.term); err != nil {
				t.Fatal(err)
			}
			if got := <-res; got != tt.code {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestTenKilobyteCode(t *testing.T) {
	s, sc, _ := newRig(t)
	go s.Scan(strings.Repeat("X", 10*1024), "\r\n")
	if _, err := scan(t, sc); app.ErrorReason(err) != "code_too_long" {
		t.Fatalf("got %v, want code_too_long", err)
	}
	s.Scan("AFTER", "\r")
	if c, err := scan(t, sc); err != nil || c != "AFTER" {
		t.Fatalf("next code %q %v", c, err)
	}
}

func TestUnplugWhileWaiting(t *testing.T) {
	s, sc, board := newRig(t)
	res := make(chan error, 1)
	go func() { _, err := scan(t, sc); res <- err }()
	waitFor(t, "the scan queued", sc.Waiting) // the cable is pulled while it waits
	s.Line().Unplug()
	if err := <-res; app.ErrorReason(err) != "reader_disconnected" {
		t.Fatalf("got %v", err)
	}
	waitState(t, board, app.StateError)
	s.Line().Replug()
	waitState(t, board, app.StateReady)
	go s.Scan("BACK", "\r")
	if c, err := scan(t, sc); err != nil || c != "BACK" {
		t.Fatalf("after replug %q %v", c, err)
	}
}

func TestNotConfigured(t *testing.T) {
	if _, err := scanner.New(scanner.Config{}).Scan(context.Background()); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("got %v", err)
	}
}
