//go:build !windows

package sim

// Scanner simulates a QR scanner in USB-CDC mode: it only ever writes.
type Scanner struct {
	line *Line
}

// NewScanner creates a simulated scanner on a new pty (link as in NewLine).
func NewScanner(link string, baud int) (*Scanner, error) {
	l, err := NewLine(link, baud)
	if err != nil {
		return nil, err
	}
	return &Scanner{line: l}, nil
}

// Line returns the simulated cable.
func (s *Scanner) Line() *Line { return s.line }

// Path returns the port path the driver should open.
func (s *Scanner) Path() string { return s.line.Path() }

// Scan sends code followed by term ("\r", "\n", "\r\n" or "" for a
// scanner configured without a terminator).
func (s *Scanner) Scan(code, term string) error {
	_, err := s.line.Write([]byte(code + term))
	return err
}

// Write sends raw bytes (garbage, a split code).
func (s *Scanner) Write(b []byte) error {
	_, err := s.line.Write(b)
	return err
}

// Close removes the pty.
func (s *Scanner) Close() error { return s.line.Close() }
