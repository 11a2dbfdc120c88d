//go:build !windows

package serial_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"stationdesk/devices/serial"
	"stationdesk/devices/sim"
)

func newLine(t *testing.T, link bool) *sim.Line {
	t.Helper()
	name := ""
	if link {
		name = filepath.Join(t.TempDir(), "ttyTEST")
	}
	l, err := sim.NewLine(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readUntil reads from p until want bytes arrived or the deadline passed.
func readUntil(t *testing.T, p *serial.Port, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	deadline := time.Now().Add(3 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := p.Read(buf)
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			t.Fatalf("read: %v", err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		path func(l *sim.Line) string
		baud int
		want error
	}{
		{"OK", func(l *sim.Line) string { return l.Path() }, 115200, nil},
		{"ErrNotFound", func(*sim.Line) string { return "/dev/does-not-exist-ttyUSB9" }, 115200, serial.ErrNotFound},
		{"ErrBadBaud", func(l *sim.Line) string { return l.Path() }, 12345, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLine(t, false)
			p, err := serial.Open(tt.path(l), tt.baud, 0)
			if tt.name == "ErrBadBaud" {
				if err == nil {
					p.Close()
					t.Fatal("opened with baud 12345")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			if err == nil {
				p.Close()
			}
		})
	}
}

func TestReadWriteThroughPTY(t *testing.T) {
	l := newLine(t, false)
	p, err := serial.Open(l.Path(), 115200, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Bytes a cooked tty would translate pass unchanged.
	msg := []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x0D, 0x0A, 0x11, 0x13, 0x03, 0x7F}
	if _, err := l.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, p, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("driver got % X, want % X", got, msg)
	}
	if _, err := p.Write(msg); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64)
	for len(got) < len(msg) {
		n, err := l.Read(buf, time.Second)
		if err != nil || n == 0 {
			t.Fatalf("device read: %d %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("device got % X, want % X", got, msg)
	}
}

func TestIdleReadIsTimeout(t *testing.T) {
	l := newLine(t, false)
	p, err := serial.Open(l.Path(), 115200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	buf := make([]byte, 16)
	for i := 0; i < 5; i++ {
		n, err := p.Read(buf)
		if n != 0 || !errors.Is(err, serial.ErrTimeout) {
			t.Fatalf("idle read %d: (%d, %v), want ErrTimeout", i, n, err)
		}
	}
}

func TestUnplugIsDisconnected(t *testing.T) {
	for _, link := range []bool{false, true} {
		name := "PTSNode"
		if link {
			name = "StableLink"
		}
		t.Run(name, func(t *testing.T) {
			l := newLine(t, link)
			p, err := serial.Open(l.Path(), 115200, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := l.Unplug(); err != nil {
				t.Fatal(err)
			}
			if link {
				// Same name, new device: the driver must still notice.
				if err := l.Replug(); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 16)
			var last error
			for i := 0; i < 10; i++ {
				_, last = p.Read(buf)
				if errors.Is(last, serial.ErrDisconnected) {
					break
				}
			}
			if !errors.Is(last, serial.ErrDisconnected) {
				t.Fatalf("after unplug: %v, want ErrDisconnected", last)
			}
			if _, err := p.Write([]byte{1}); err == nil && !link {
				t.Fatal("write to unplugged line succeeded")
			}
		})
	}
}

func TestCloseInterruptsRead(t *testing.T) {
	l := newLine(t, false)
	p, err := serial.Open(l.Path(), 115200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	reading := make(chan struct{})
	go func() {
		buf := make([]byte, 16)
		for first := true; ; first = false {
			_, err := p.Read(buf)
			if errors.Is(err, serial.ErrDisconnected) {
				done <- err
				return
			}
			if first {
				close(reading) // one read timed out: the loop is reading
			}
		}
	}()
	select {
	case <-reading:
	case err := <-done:
		t.Fatalf("the first read on an open port failed: %v", err)
	}
	p.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5 s after Close")
	}
}

func TestKeepReconnectsUnderSameName(t *testing.T) {
	l := newLine(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var states []serial.LinkState
	sessions := make(chan string, 10)
	ended := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- serial.Keep(ctx, serial.KeepConfig{
			Path: l.Path(), Baud: 115200,
			OnState: func(s serial.LinkState, err error) {
				mu.Lock()
				states = append(states, s)
				mu.Unlock()
			},
		}, func(ctx context.Context, p *serial.Port) error {
			sessions <- "up"
			defer func() { ended <- struct{}{} }()
			buf := make([]byte, 64)
			for ctx.Err() == nil {
				if _, err := p.Read(buf); errors.Is(err, serial.ErrDisconnected) {
					return err
				}
			}
			return ctx.Err()
		})
	}()
	wait := func(what string) {
		select {
		case <-sessions:
		case <-time.After(30 * time.Second):
			t.Fatalf("no session %s", what)
		}
	}
	wait("at start")
	for i := 0; i < 3; i++ {
		if err := l.Unplug(); err != nil {
			t.Fatal(err)
		}
		// Replug only once the session has seen the cable go.
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Fatal("the session did not end after the unplug")
		}
		if err := l.Replug(); err != nil {
			t.Fatal(err)
		}
		wait("after replug")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Keep returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var ups, downs int
	for _, s := range states {
		switch s {
		case serial.LinkUp:
			ups++
		case serial.LinkDown:
			downs++
		}
	}
	if ups != 4 || downs < 3 {
		t.Fatalf("states %v: %d ups, %d downs", states, ups, downs)
	}
}

func TestListFindsNoPTYAndDoesNotFail(t *testing.T) {
	for _, pi := range serial.List() {
		if pi.Path == "" || pi.Device == "" {
			t.Fatalf("incomplete entry %+v", pi)
		}
	}
}
