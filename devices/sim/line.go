//go:build !windows

package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ErrUnplugged is returned by Line.Read and Line.Write while the simulated
// device is unplugged.
var ErrUnplugged = errors.New("sim: device unplugged")

// Line is the device end of a simulated serial cable: a pseudo-terminal
// whose slave the driver opens through devices/serial, exactly like a
// /dev/ttyUSB node, and whose master the simulated device reads and writes.
//
// With a link name the driver opens a stable symlink (like a
// /dev/serial/by-id name) that Replug re-points at the new pty; without one
// it opens the /dev/pts/N node, which changes on every replug.
//
// Writes are paced to the baud rate (10 bits per byte, 8N1) when Baud > 0,
// so latency figures measured against the simulator are those of a real
// line. A Line is safe for concurrent use.
type Line struct {
	mu      sync.Mutex
	link    string
	master  *os.File // non-blocking, so deadlines and Close interrupt Read
	slave   *os.File // kept open: without it the master reads EIO
	ptsName string
	baud    int
	plugged chan struct{} // closed while plugged
	closed  bool
}

// NewLine creates a plugged-in line. link is the absolute path of the
// stable symlink to maintain, or "" for none. baud 0 means unthrottled.
func NewLine(link string, baud int) (*Line, error) {
	l := &Line{link: link, baud: baud}
	if err := l.plug(); err != nil {
		return nil, err
	}
	return l, nil
}

// plug opens a new pty, puts it in raw mode, wraps the master for
// non-blocking I/O and (re)points the link. Caller holds no lock.
func (l *Line) plug() error {
	m, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	if err := makeRaw(s); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("raw pty: %w", err)
	}
	// creack/pty leaves the master in blocking mode (its ioctls call Fd());
	// a blocking *os.File ignores deadlines. Re-wrap a non-blocking dup.
	nfd, err := syscall.Dup(int(m.Fd()))
	if err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("dup pty: %w", err)
	}
	m.Close()
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		s.Close()
		return fmt.Errorf("nonblock pty: %w", err)
	}
	syscall.CloseOnExec(nfd)
	master := os.NewFile(uintptr(nfd), "/dev/ptmx")
	name := s.Name()
	if l.link != "" {
		tmp := l.link + ".new"
		_ = os.Remove(tmp)
		if err := os.Symlink(name, tmp); err != nil {
			master.Close()
			s.Close()
			return fmt.Errorf("link pty: %w", err)
		}
		if err := os.Rename(tmp, l.link); err != nil {
			_ = os.Remove(tmp)
			master.Close()
			s.Close()
			return fmt.Errorf("link pty: %w", err)
		}
	}
	l.mu.Lock()
	l.master, l.slave, l.ptsName = master, s, name
	if l.plugged == nil {
		l.plugged = make(chan struct{})
	}
	close(l.plugged) // wakes waitPlugged; Unplug made a fresh open channel
	l.mu.Unlock()
	return nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	// cfmakeraw
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path returns what the driver should open: the stable link, or the
// current /dev/pts/N node when there is no link.
func (l *Line) Path() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.link != "" {
		return l.link
	}
	return l.ptsName
}

// PTS returns the current /dev/pts/N node ("" while unplugged).
func (l *Line) PTS() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ptsName
}

// Baud returns the pacing rate (0 = unthrottled).
func (l *Line) Baud() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.baud
}

// SetBaud changes the pacing rate (0 = unthrottled).
func (l *Line) SetBaud(b int) {
	l.mu.Lock()
	l.baud = b
	l.mu.Unlock()
}

// Plugged reports whether the device is plugged in.
func (l *Line) Plugged() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.master != nil
}

// Unplug closes both ends of the pty, as pulling the USB cable does: the
// driver's reads see a hang-up and the node disappears. The link, if any,
// is left dangling. Unplugging an unplugged line does nothing.
func (l *Line) Unplug() error {
	l.mu.Lock()
	m, s := l.master, l.slave
	l.master, l.slave, l.ptsName = nil, nil, ""
	if m != nil {
		l.plugged = make(chan struct{})
	}
	l.mu.Unlock()
	if m == nil {
		return nil
	}
	err1 := m.Close()
	err2 := s.Close()
	return errors.Join(err1, err2)
}

// Replug plugs the device back in on a fresh pty (re-pointing the link).
// Replugging a plugged line does nothing.
func (l *Line) Replug() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("sim: line closed")
	}
	if l.master != nil {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	return l.plug()
}

// Close unplugs the line for good and removes the link.
func (l *Line) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	err := l.Unplug()
	if l.link != "" {
		if rerr := os.Remove(l.link); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// waitPlugged blocks until the line is plugged in or ctx ends.
func (l *Line) waitPlugged(ctx context.Context) error {
	for {
		l.mu.Lock()
		ch, closed := l.plugged, l.closed
		l.mu.Unlock()
		if closed {
			return io.ErrClosedPipe
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			l.mu.Lock()
			up := l.master != nil
			l.mu.Unlock()
			if up {
				return nil
			}
		}
	}
}

// Read reads what the driver sent, waiting at most d (0 = 250 ms). It
// returns (0, nil) when nothing came, ErrUnplugged while unplugged.
func (l *Line) Read(p []byte, d time.Duration) (int, error) {
	l.mu.Lock()
	m := l.master
	l.mu.Unlock()
	if m == nil {
		return 0, ErrUnplugged
	}
	if d <= 0 {
		d = 250 * time.Millisecond
	}
	_ = m.SetReadDeadline(time.Now().Add(d))
	n, err := m.Read(p)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, nil
		}
		if !l.Plugged() || errors.Is(err, os.ErrClosed) {
			return n, ErrUnplugged
		}
		return n, err
	}
	return n, nil
}

// Write sends p to the driver, paced to the baud rate.
func (l *Line) Write(p []byte) (int, error) {
	l.mu.Lock()
	m, baud := l.master, l.baud
	l.mu.Unlock()
	if m == nil {
		return 0, ErrUnplugged
	}
	if baud <= 0 {
		n, err := m.Write(p)
		if err != nil && (!l.Plugged() || errors.Is(err, os.ErrClosed)) {
			err = ErrUnplugged
		}
		return n, err
	}
	perByte := time.Second * 10 / time.Duration(baud)
	const chunk = 32
	start := time.Now()
	sent := 0
	for sent < len(p) {
		end := min(sent+chunk, len(p))
		n, err := m.Write(p[sent:end])
		sent += n
		if err != nil {
			if !l.Plugged() || errors.Is(err, os.ErrClosed) {
				err = ErrUnplugged
			}
			return sent, err
		}
		if wait := time.Until(start.Add(time.Duration(sent) * perByte)); wait > 0 {
			time.Sleep(wait)
		}
	}
	return sent, nil
}
