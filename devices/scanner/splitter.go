// Package scanner reads QR/barcode scanners in serial (USB-CDC) mode.
//
// Scanners end a code with CR, LF or CRLF depending on their setup, or
// with nothing at all (docs/devices.md). The Splitter accepts all of them,
// ending an unterminated code after an idle gap, and bounds the length of
// a code so a runaway or hostile input cannot grow memory. The Scanner
// driver runs it on a port from devices/serial. The keyboard-wedge mode is
// handled by the GUI (a focused scan field), not here.
//
// A scanned code can be personal data (a health code, a ride code bound to
// a person): codes are never logged, only their length.
package scanner

import (
	"errors"
	"fmt"
)

// DefaultMaxLen is the longest code accepted by default. A version-40 QR
// code holds at most 2953 bytes of binary data (4296 alphanumeric); 4 KiB
// covers every real code.
const DefaultMaxLen = 4096

// ErrTooLong is returned once for every code longer than the limit; the
// code's bytes are discarded up to its terminator (or the idle gap).
var ErrTooLong = errors.New("scanner: code too long")

// Splitter cuts a scanner's byte stream into codes. Its memory is bounded
// by its limit. Not safe for concurrent use.
type Splitter struct {
	max      int
	buf      []byte
	overflow int  // bytes dropped from the current over-long code
	afterCR  bool // the last byte was CR: a following LF belongs to it
}

// NewSplitter returns a Splitter for codes of at most max bytes
// (DefaultMaxLen when max <= 0).
func NewSplitter(max int) *Splitter {
	if max <= 0 {
		max = DefaultMaxLen
	}
	return &Splitter{max: max}
}

// Feed adds p and returns the codes it completed (empty lines are
// skipped) and an error wrapping ErrTooLong for each over-long code.
func (s *Splitter) Feed(p []byte) (codes []string, errs []error) {
	for _, b := range p {
		if b == '\n' && s.afterCR {
			s.afterCR = false
			continue
		}
		s.afterCR = b == '\r'
		if b == '\r' || b == '\n' {
			if c, err, ok := s.end(); ok {
				if err != nil {
					errs = append(errs, err)
				} else {
					codes = append(codes, c)
				}
			}
			continue
		}
		if s.overflow > 0 || len(s.buf) >= s.max {
			s.overflow++
			s.buf = s.buf[:0]
			continue
		}
		s.buf = append(s.buf, b)
	}
	return codes, errs
}

// Idle ends a pending unterminated code after the line has been quiet for
// the idle gap. ok is false when nothing was pending.
func (s *Splitter) Idle() (code string, err error, ok bool) {
	s.afterCR = false
	return s.end()
}

// Pending reports whether bytes of an unterminated code are waiting.
func (s *Splitter) Pending() bool { return len(s.buf) > 0 || s.overflow > 0 }

func (s *Splitter) end() (string, error, bool) {
	if s.overflow > 0 {
		n := s.overflow + s.max
		s.overflow = 0
		s.buf = s.buf[:0]
		return "", fmt.Errorf("%w: more than %d bytes (%d)", ErrTooLong, s.max, n), true
	}
	if len(s.buf) == 0 {
		return "", nil, false
	}
	c := string(s.buf)
	s.buf = s.buf[:0]
	return c, nil, true
}
