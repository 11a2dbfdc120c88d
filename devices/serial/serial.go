// Package serial is StationDesk's only door to serial hardware: it is the one
// package that imports github.com/tarm/serial.
//
// It hides three quirks the drivers must not have to know about:
//
//   - a read with no data returns (0, io.EOF) on Linux and (0, nil) on
//     Windows; both become ErrTimeout ("no data yet"), which is not a failure;
//   - an unplugged device also returns (0, io.EOF) on Linux, but at once and
//     repeatedly, and its device node disappears or is replaced; that becomes
//     ErrDisconnected;
//   - a port opened without a read timeout cannot be closed while a read is
//     pending, so Open always sets one.
//
// Keep runs a driver session on a port and reopens the port with backoff when
// the device goes away, also when it comes back under the same
// /dev/serial/by-id name. List discovers candidate ports.
package serial

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	tarm "github.com/tarm/serial"
)

// ErrTimeout means no byte arrived within the port's read timeout. It is the
// normal answer of an idle line; callers loop.
var ErrTimeout = errors.New("serial: no data within the read timeout")

// ErrDisconnected means the device went away (unplugged, powered off, or its
// node replaced). The port is useless; close it and reopen the path.
var ErrDisconnected = errors.New("serial: device disconnected")

// ErrNotFound means the port path does not exist.
var ErrNotFound = errors.New("serial: no such port")

// DefaultReadTimeout is the read timeout used when 0 is given. 100 ms is the
// smallest the termios VTIME field can express and keeps Close prompt.
const DefaultReadTimeout = 100 * time.Millisecond

// Port is an open serial port. Read and Write may be called from one
// goroutine each; Close may be called from any goroutine and makes pending
// and later calls fail. Read never blocks longer than about the read
// timeout.
type Port struct {
	path    string
	baud    int
	timeout time.Duration
	p       *tarm.Port

	mu     sync.Mutex // guards norm and closed
	norm   normaliser
	closed bool
}

// Open opens path at baud, 8N1, with readTimeout (DefaultReadTimeout when
// 0; rounded up to tenths of a second by the OS). A missing path gives an
// error matching ErrNotFound.
func Open(path string, baud int, readTimeout time.Duration) (*Port, error) {
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	if baud <= 0 {
		return nil, fmt.Errorf("open %s: baud %d: %w", path, baud, errBadBaud)
	}
	if _, err := os.Stat(path); err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", path, ErrNotFound)
	}
	id, _ := deviceID(path)
	p, err := tarm.OpenPort(&tarm.Config{Name: path, Baud: baud, ReadTimeout: readTimeout})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	port := &Port{path: path, baud: baud, timeout: readTimeout, p: p}
	port.norm = normaliser{
		timeout: readTimeout,
		now:     time.Now,
		gone: func() bool {
			cur, err := deviceID(path)
			return err != nil || (id != 0 && cur != id)
		},
	}
	return port, nil
}

var errBadBaud = errors.New("unsupported baud rate")

// Path returns the path the port was opened with.
func (p *Port) Path() string { return p.path }

// Baud returns the baud rate the port was opened with.
func (p *Port) Baud() int { return p.baud }

// ReadTimeout returns the per-read timeout.
func (p *Port) ReadTimeout() time.Duration { return p.timeout }

// Read reads into b. It returns n > 0 with a nil error, or 0 with
// ErrTimeout (nothing arrived; try again) or an error matching
// ErrDisconnected (the device is gone; close the port).
func (p *Port) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, fmt.Errorf("read %s: %w", p.path, ErrDisconnected)
	}
	start := p.norm.now()
	p.mu.Unlock()
	n, err := p.p.Read(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, fmt.Errorf("read %s: %w", p.path, ErrDisconnected)
	}
	n, err = p.norm.classify(start, n, err)
	if err != nil && !errors.Is(err, ErrTimeout) {
		return n, fmt.Errorf("read %s: %w", p.path, err)
	}
	return n, err
}

// Write writes b. Any failure is reported as ErrDisconnected: a serial line
// that refuses bytes is as good as gone.
func (p *Port) Write(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("write %s: %w", p.path, ErrDisconnected)
	}
	n, err := p.p.Write(b)
	if err != nil {
		return n, fmt.Errorf("write %s: %w (%v)", p.path, ErrDisconnected, err)
	}
	return n, nil
}

// Flush discards unread input and unsent output.
func (p *Port) Flush() error { return p.p.Flush() }

// Close closes the port. It is safe to call more than once.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	return p.p.Close()
}

// normaliser turns tarm's read results into data, ErrTimeout or
// ErrDisconnected. It is separate from Port so it can be tested with a fake
// clock.
type normaliser struct {
	timeout time.Duration
	now     func() time.Time
	gone    func() bool // reports whether the device node vanished or changed
	fast    int         // consecutive zero-byte reads that returned early
}

// fastLimit is how many early zero-byte reads in a row mean "disconnected"
// even when the device node still looks the same.
const fastLimit = 3

// classify maps one read's (n, err), started at start, to the package's
// contract.
func (z *normaliser) classify(start time.Time, n int, err error) (int, error) {
	if n > 0 {
		z.fast = 0
		return n, nil // a trailing error resurfaces on the next read
	}
	switch {
	case err == nil:
		// Windows: a timed-out ReadFile returns (0, nil).
		z.fast = 0
		return 0, ErrTimeout
	case errors.Is(err, io.EOF):
		// Linux VMIN=0/VTIME>0: a timeout is (0, EOF) after the timeout; a
		// hung-up line is (0, EOF) at once, again and again. A device node
		// that vanished or was replaced is a disconnect whatever the
		// timing: on a starved CPU an instant EOF can look as slow as a
		// timeout, and the early-read count alone would never trip.
		if z.gone != nil && z.gone() {
			return 0, fmt.Errorf("%w: device node gone", ErrDisconnected)
		}
		if z.now().Sub(start) >= z.timeout/2 {
			z.fast = 0
			return 0, ErrTimeout
		}
		z.fast++
		if z.fast >= fastLimit {
			return 0, fmt.Errorf("%w: line hung up", ErrDisconnected)
		}
		return 0, ErrTimeout
	default:
		// EIO, ENXIO, EBADF, closed file: the device is gone.
		return 0, fmt.Errorf("%w (%v)", ErrDisconnected, err)
	}
}
