// Package idcard drives resident-ID-card readers that speak the GA 467 SAM
// protocol over a serial line (docs/devices.md).
//
// It has three layers: a pure codec (Encode*/Decode*, the streaming Framer
// and ParseText for the 256-byte text block), which does no I/O and is
// fuzzed; the driver state machine in Reader, which polls the SAM through
// devices/serial and turns a card into an app.Identity validated with the
// app document rules; and nothing else — simulators live in devices/sim.
//
// Personal data: the text block, the Identity built from it and the photo
// are personal information. They are kept in memory for one read only,
// never logged (only masked values and status codes are), and the photo is
// never decoded or written anywhere.
package idcard

import (
	"errors"
	"fmt"

	"stationdesk/devices/serial"
)

// Preamble starts every frame in both directions.
var Preamble = [5]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

// Frame size limits. The longest frame in the protocol is the read with
// fingerprints (2321 bytes, Len 2314); anything that claims more is noise.
const (
	MaxLen   = 2560       // largest Len field accepted
	MaxFrame = 7 + MaxLen // largest whole frame: preamble, Len, body, checksum
	minLen   = 3          // CMD Para CHK (commands); responses need 4
	hdrLen   = 7          // preamble + Len
)

// Codec errors. Every decoding failure matches exactly one of them.
var (
	ErrPreamble  = errors.New("idcard: frame does not start with the preamble")
	ErrTruncated = errors.New("idcard: frame truncated")
	ErrOversize  = errors.New("idcard: frame length above the maximum")
	ErrUndersize = errors.New("idcard: frame length below the minimum")
	ErrChecksum  = errors.New("idcard: frame checksum mismatch")
	ErrGarbage   = errors.New("idcard: bytes outside any frame")
)

// Commands (docs/devices.md "ID-card reader").
const (
	CmdReset     = 0x10 // Para 0xFF
	CmdStatus    = 0x11 // Para 0xFF
	CmdSAMID     = 0x12 // Para 0xFF
	CmdCard      = 0x20 // Para ParaFind / ParaSelect
	CmdRead      = 0x30 // Para ParaReadBase / ParaReadFinger / ParaReadAddress
	ParaAny      = 0xFF
	ParaFind     = 0x01
	ParaSelect   = 0x02
	ParaReadBase = 0x01
	ParaReadFP   = 0x10
	ParaReadAddr = 0x03
)

// SW3 status codes the driver branches on (docs/devices.md "SW3 status codes").
const (
	SWOK         = 0x90
	SWNoContent  = 0x91
	SWFound      = 0x9F
	SWNotFound   = 0x80
	SWSelectFail = 0x81
	SWReadFail   = 0x41
	SWSelfTest   = 0x60
)

// Command is a host → SAM message.
type Command struct {
	Cmd, Para byte
	Data      []byte
}

// Response is a SAM → host message. The driver decides on SW3 only; SW1
// and SW2 are the card's own status, forwarded.
type Response struct {
	SW1, SW2, SW3 byte
	Data          []byte
}

// xor is the GA 467 checksum: XOR of every byte it is given.
func xor(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
	}
	return c
}

// encode frames body (CMD Para Data or SW1 SW2 SW3 Data).
func encode(body ...[]byte) []byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	l := n + 1
	out := make([]byte, 0, hdrLen+l)
	out = append(out, Preamble[:]...)
	out = append(out, byte(l>>8), byte(l))
	for _, b := range body {
		out = append(out, b...)
	}
	return append(out, xor(out[5:]))
}

// EncodeCommand frames c. It panics if the frame would exceed MaxFrame,
// which no command of the protocol does.
func EncodeCommand(c Command) []byte {
	if len(c.Data)+3 > MaxLen {
		panic("idcard: command too long")
	}
	return encode([]byte{c.Cmd, c.Para}, c.Data)
}

// EncodeResponse frames r (used by the simulator). It returns an error if
// the frame would exceed MaxFrame.
func EncodeResponse(r Response) ([]byte, error) {
	if len(r.Data)+4 > MaxLen {
		return nil, fmt.Errorf("encode response: %d data bytes: %w", len(r.Data), ErrOversize)
	}
	return encode([]byte{r.SW1, r.SW2, r.SW3}, r.Data), nil
}

// Decode reads one frame at the start of b and returns its body (the bytes
// between the length field and the checksum; it aliases b) and the frame's
// total size. Errors: ErrPreamble, ErrTruncated, ErrOversize, ErrUndersize,
// ErrChecksum.
func Decode(b []byte) (body []byte, n int, err error) {
	for i := 0; i < len(Preamble) && i < len(b); i++ {
		if b[i] != Preamble[i] {
			return nil, 0, ErrPreamble
		}
	}
	if len(b) < hdrLen {
		return nil, 0, ErrTruncated
	}
	l := int(b[5])<<8 | int(b[6])
	switch {
	case l > MaxLen:
		return nil, 0, ErrOversize
	case l < minLen:
		return nil, 0, ErrUndersize
	case len(b) < hdrLen+l:
		return nil, 0, ErrTruncated
	}
	n = hdrLen + l
	if xor(b[5:n-1]) != b[n-1] {
		return nil, 0, ErrChecksum
	}
	return b[hdrLen : n-1], n, nil
}

// ParseCommand reads a command body (from Decode or the Framer).
func ParseCommand(body []byte) (Command, error) {
	if len(body) < 2 {
		return Command{}, ErrUndersize
	}
	return Command{Cmd: body[0], Para: body[1], Data: body[2:]}, nil
}

// ParseResponse reads a response body (from Decode or the Framer).
func ParseResponse(body []byte) (Response, error) {
	if len(body) < 3 {
		return Response{}, ErrUndersize
	}
	return Response{SW1: body[0], SW2: body[1], SW3: body[2], Data: body[3:]}, nil
}

// Framer cuts a byte stream into frame bodies (a serial.Framer for GA 467
// frames). It survives frames split across reads, several frames in one
// read and garbage between frames, by searching for the preamble and
// checking length and checksum; a bad frame costs one byte of resync, never
// the frames after it. Its buffer never holds more than MaxFrame bytes. A
// Framer is not safe for concurrent use.
type Framer struct{ f serial.Framer }

// ga467 is the frame format the Framer cuts.
var ga467 = serial.Format{Max: MaxFrame, Start: preambleStart, Decode: Decode, Truncated: ErrTruncated, Garbage: ErrGarbage}

// Feed adds p to the stream and returns the bodies of the frames it
// completed (fresh copies, in order) and one error per problem found:
// ErrGarbage (wrapped, with the byte count) for bytes outside frames,
// ErrOversize, ErrUndersize or ErrChecksum for a rejected frame.
func (f *Framer) Feed(p []byte) (bodies [][]byte, errs []error) { return f.f.Feed(p, ga467) }

// Buffered returns how many bytes wait for the rest of a frame.
func (f *Framer) Buffered() int { return f.f.Buffered() }

// Reset drops any partial frame, e.g. after a command timed out.
func (f *Framer) Reset() { f.f.Reset() }

// preambleStart finds the next preamble, or keeps a split one's start.
func preambleStart(b []byte) (int, int) {
	if i := indexPreamble(b); i >= 0 {
		return i, 0
	}
	return -1, partialPreamble(b)
}

func indexPreamble(b []byte) int {
	for i := 0; i+len(Preamble) <= len(b); i++ {
		if b[i] == Preamble[0] && b[i+1] == Preamble[1] && b[i+2] == Preamble[2] && b[i+3] == Preamble[3] && b[i+4] == Preamble[4] {
			return i
		}
	}
	return -1
}

// partialPreamble returns the length of the longest suffix of b that is a
// proper prefix of the preamble.
func partialPreamble(b []byte) int {
	for k := min(len(Preamble)-1, len(b)); k > 0; k-- {
		match := true
		for j := 0; j < k; j++ {
			if b[len(b)-k+j] != Preamble[j] {
				match = false
				break
			}
		}
		if match {
			return k
		}
	}
	return 0
}

// StatusText returns a short English description of a SW3 code, for logs
// and diagnostics (never personal data).
func StatusText(sw3 byte) string {
	if s, ok := statusTexts[sw3]; ok {
		return s
	}
	return fmt.Sprintf("unknown status 0x%02X", sw3)
}

var statusTexts = map[byte]string{
	0x90: "success", 0x91: "item not present on card", 0x9F: "card found",
	0x10: "host frame checksum error", 0x11: "host frame length error", 0x21: "bad command",
	0x23: "unauthorised operation", 0x24: "unrecognised error", 0x31: "card failed to authenticate SAM",
	0x32: "SAM failed to authenticate card", 0x33: "information verification failed",
	0x37: "fingerprint verification error", 0x3F: "information length error", 0x40: "unknown card type",
	0x41: "read failed", 0x47: "get challenge failed", 0x60: "SAM self-test failed",
	0x66: "SAM not authorised", 0x80: "no card", 0x81: "select failed",
}
