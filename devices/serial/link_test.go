//go:build !windows

package serial_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices/serial"
	"stationdesk/devices/sim"
)

// The tests below drive Link, Queue and Converse against a small line
// device on a real pseudo-terminal. Its protocol: a frame is
// "<payload>*<xor of the payload, two hex digits>\n"; a line without '*' is
// stray bytes, a line whose checksum fails is a rejected frame.

var (
	errStray    = errors.New("stray bytes")
	errChecksum = errors.New("checksum")
)

func frame(payload string) []byte {
	var x byte
	for i := 0; i < len(payload); i++ {
		x ^= payload[i]
	}
	return []byte(fmt.Sprintf("%s*%02X\n", payload, x))
}

type lineDecoder struct{ buf []byte }

func (d *lineDecoder) Feed(p []byte) ([]string, []error) {
	d.buf = append(d.buf, p...)
	var out []string
	var errs []error
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			return out, errs
		}
		line := string(d.buf[:i+1])
		d.buf = d.buf[i+1:]
		star := strings.LastIndexByte(line, '*')
		if star < 0 {
			errs = append(errs, errStray)
			continue
		}
		if string(frame(line[:star])) != line {
			errs = append(errs, errChecksum)
			continue
		}
		out = append(out, line[:star])
	}
}

func (d *lineDecoder) Reset()        { d.buf = d.buf[:0] }
func (d *lineDecoder) Buffered() int { return len(d.buf) }

// device answers each request frame on its line with what answer says
// (nil: no answer). It stops with the test.
type device struct {
	line   *sim.Line
	mu     sync.Mutex
	answer func(req string) []byte
	reqs   chan string
}

func newDevice(t *testing.T, answer func(string) []byte) *device {
	t.Helper()
	d := &device{line: newLine(t, true), answer: answer, reqs: make(chan string, 256)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		var dec lineDecoder
		buf := make([]byte, 256)
		for ctx.Err() == nil {
			n, err := d.line.Read(buf, 50*time.Millisecond)
			if errors.Is(err, sim.ErrUnplugged) {
				time.Sleep(10 * time.Millisecond) // unplugged: wait for the test to end
				continue
			}
			if n == 0 {
				continue
			}
			reqs, _ := dec.Feed(buf[:n])
			for _, r := range reqs {
				select {
				case d.reqs <- r:
				default:
				}
				d.mu.Lock()
				a := d.answer(r)
				d.mu.Unlock()
				if a != nil {
					_, _ = d.line.Write(a)
				}
			}
		}
	}()
	return d
}

func (d *device) setAnswer(f func(string) []byte) { d.mu.Lock(); d.answer = f; d.mu.Unlock() }

func openLink(t *testing.T, d *device, cfg serial.LinkConfig) *serial.Link[string] {
	t.Helper()
	p, err := serial.Open(d.line.Path(), 115200, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return serial.NewLink[string](p, &lineDecoder{}, cfg)
}

func echo(req string) []byte { return frame("re:" + req) }

func TestLinkExchange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := newDevice(t, echo)
	l := openLink(t, d, serial.LinkConfig{Rejected: func(err error) bool { return errors.Is(err, errChecksum) }})
	long := serial.Exchange{Timeout: 10 * time.Minute}

	t.Run("Answer", func(t *testing.T) {
		got, err := l.Do(ctx, frame("a"), long)
		if err != nil || got != "re:a" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("StrayBytesBeforeAnswer", func(t *testing.T) {
		d.setAnswer(func(r string) []byte { return append([]byte("garbage\n"), echo(r)...) })
		got, err := l.Do(ctx, frame("b"), serial.Exchange{Timeout: 10 * time.Minute, StopOnBadFrame: true})
		if err != nil || got != "re:b" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("NoAnswer", func(t *testing.T) {
		d.setAnswer(func(string) []byte { return nil })
		_, err := l.Do(ctx, frame("c"), serial.Exchange{Timeout: 100 * time.Millisecond})
		if !errors.Is(err, serial.ErrNoReply) || errors.Is(err, serial.ErrBadFrame) {
			t.Fatalf("got %v, want ErrNoReply", err)
		}
	})
	t.Run("BadFrameWaitsOutTheTimeout", func(t *testing.T) {
		d.setAnswer(func(string) []byte { return []byte("re:e*00\n") })
		_, err := l.Do(ctx, frame("e"), serial.Exchange{Timeout: 200 * time.Millisecond})
		if !errors.Is(err, serial.ErrBadFrame) || !errors.Is(err, serial.ErrNoReply) {
			t.Fatalf("got %v, want ErrBadFrame matching ErrNoReply", err)
		}
	})
	t.Run("BadFrameStops", func(t *testing.T) {
		// With a timeout far beyond the test's context, only the stop at
		// the rejected frame ends the exchange with ErrBadFrame.
		_, err := l.Do(ctx, frame("f"), serial.Exchange{Timeout: 10 * time.Minute, StopOnBadFrame: true})
		if !errors.Is(err, serial.ErrBadFrame) {
			t.Fatalf("got %v, want ErrBadFrame", err)
		}
		d.setAnswer(echo)
		if got, err := l.Do(ctx, frame("g"), long); err != nil || got != "re:g" {
			t.Fatalf("after a bad frame: %q, %v", got, err)
		}
	})
	t.Run("PortGone", func(t *testing.T) {
		if err := d.line.Unplug(); err != nil {
			t.Fatal(err)
		}
		_, err := l.Do(ctx, frame("h"), long)
		if !errors.Is(err, serial.ErrDisconnected) {
			t.Fatalf("got %v, want ErrDisconnected", err)
		}
	})
}

func TestLinkNoiseMarksMisconfiguredAndClears(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := newDevice(t, func(r string) []byte { return append([]byte("x\ny\n"), echo(r)...) })
	var marks []bool
	l := openLink(t, d, serial.LinkConfig{NoiseLimit: 3, NoiseWindow: 150 * time.Millisecond,
		Misconfigured: func(on bool) { marks = append(marks, on) }})
	for i := 0; i < 2 && !l.Misconfigured(); i++ {
		if _, err := l.Do(ctx, frame("n"), serial.Exchange{Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if !l.Misconfigured() || len(marks) != 1 || !marks[0] {
		t.Fatalf("after 4 stray lines in the window: misconfigured %v, marks %v", l.Misconfigured(), marks)
	}
	// Quiet answers: the mark goes once the window has no noise left.
	d.setAnswer(echo)
	deadline := time.Now().Add(10 * time.Second)
	for l.Misconfigured() && time.Now().Before(deadline) {
		if _, err := l.Do(ctx, frame("q"), serial.Exchange{Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if l.Misconfigured() || len(marks) != 2 || marks[1] {
		t.Fatalf("after quiet answers: misconfigured %v, marks %v", l.Misconfigured(), marks)
	}
}

func TestQueueAsk(t *testing.T) {
	var q serial.Queue[int, string]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := q.Ask(ctx, 1, "down", "timeout"); got != "down" {
		t.Fatalf("device never up: %q, want down", got)
	}
	q.SetUp(true)
	if got := q.Ask(ctx, 1, "down", "timeout"); got != "timeout" {
		t.Fatalf("device up: %q, want timeout", got)
	}
	if q.Waiting() {
		t.Fatal("a caller that gave up is still queued")
	}
	res := make(chan string, 1)
	go func() { res <- q.Ask(context.Background(), 2, "down", "timeout") }()
	for deadline := time.Now().Add(10 * time.Second); !q.Waiting(); {
		if time.Now().After(deadline) {
			t.Fatal("the caller never queued")
		}
		time.Sleep(time.Millisecond)
	}
	q.Lost("gone")
	if got := <-res; got != "gone" || q.Up() {
		t.Fatalf("after Lost: %q, up %v", got, q.Up())
	}
}

// statusTrail collects the states a Conversation reports.
type statusTrail struct{ ch chan string }

func (s *statusTrail) set(st app.State, detail string) { s.ch <- string(st) + ":" + detail }

func (s *statusTrail) wait(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-s.ch:
			if strings.HasPrefix(got, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no status %q", want)
		}
	}
}

func TestConverse(t *testing.T) {
	d := newDevice(t, func(r string) []byte {
		if r == "hello" {
			return frame("busy")
		}
		return echo(r)
	})
	l := openLink(t, d, serial.LinkConfig{})
	trail := &statusTrail{ch: make(chan string, 1024)}
	var q serial.Queue[struct{}, string]
	failed := make(chan struct{}, 1024)
	acts := make(chan struct{}, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	x := serial.Exchange{Timeout: 150 * time.Millisecond}
	go func() {
		done <- serial.Converse(ctx, serial.Conversation{
			Port: "ttyTEST",
			Hello: func(ctx context.Context) (string, error) {
				got, err := l.Do(ctx, frame("hello"), x)
				if err != nil || got == "re:hello" {
					return "", err
				}
				return "device says " + got, nil
			},
			Interval: 10 * time.Millisecond,
			Poll: func(ctx context.Context) error {
				_, err := l.Do(ctx, frame("poll"), x)
				return err
			},
			Act:           func(context.Context) error { acts <- struct{}{}; return nil },
			Status:        trail.set,
			NotAnswering:  func() { failed <- struct{}{} },
			Up:            q.SetUp,
			Misconfigured: l.Misconfigured,
		})
	}()
	trail.wait(t, string(app.StateError)+":device says busy")
	<-failed
	if q.Up() {
		t.Fatal("up before the device is ready")
	}
	d.setAnswer(echo)
	trail.wait(t, string(app.StateReady)+":ttyTEST")
	<-acts
	if !q.Up() {
		t.Fatal("not up after the handshake")
	}
	for len(failed) > 0 {
		<-failed
	}
	d.setAnswer(func(string) []byte { return nil })
	trail.wait(t, string(app.StateError)+":reader not responding")
	<-failed
	if q.Up() {
		t.Fatal("still up after two lost answers")
	}
	d.setAnswer(echo)
	trail.wait(t, string(app.StateReady)+":ttyTEST")
	if !q.Up() {
		t.Fatal("not up after the device answers again")
	}
	if err := d.line.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, serial.ErrDisconnected) {
		t.Fatalf("Converse on a lost port: %v, want ErrDisconnected", err)
	}
	cancel()
}
