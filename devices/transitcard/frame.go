// Package transitcard drives the desktop transit-card reader at ticket
// windows: a serial reader carrying contactless APDUs to Yikatong cards,
// transport-union cards from other cities, and single-journey tokens.
//
// Layers: a vendor Codec (the STX framing of docs/devices.md is the first;
// another vendor's framing is a second Codec behind the same interface),
// APDU helpers, the card logic (ReadCard, IssueSingleJourney: which
// application to select, which files to read, how to classify the card),
// and the Reader driver, which polls through devices/serial and reports on
// the StatusBoard.
//
// Only public application data is read (SELECT by name/AID, READ BINARY,
// GET BALANCE); no MIFARE Classic keys, no bank-card numbers. A card
// number is not a name, but once bound it points at a person: logs carry
// the masked number only (app.Card redacts itself).
package transitcard

import (
	"errors"
	"fmt"

	"stationdesk/devices/serial"
)

// STX framing constants (docs/devices.md "Transit-card reader").
const (
	STX        = 0x02
	ETX        = 0x03
	MaxPayload = 1536 // the longest reply in the protocol is ≈1290 bytes
	MaxFrame   = MaxPayload + 5
)

// Framing errors.
var (
	ErrTruncated = errors.New("transitcard: frame truncated")
	ErrOversize  = errors.New("transitcard: frame length above the maximum")
	ErrEmpty     = errors.New("transitcard: empty payload")
	ErrChecksum  = errors.New("transitcard: frame checksum mismatch")
	ErrETX       = errors.New("transitcard: frame does not end with ETX")
	ErrSTX       = errors.New("transitcard: frame does not start with STX")
	ErrGarbage   = errors.New("transitcard: bytes outside any frame")
)

func lrc(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
	}
	return c
}

// EncodeFrame wraps payload: STX, big-endian length, payload, XOR of the
// payload, ETX.
func EncodeFrame(payload []byte) ([]byte, error) {
	if len(payload) == 0 {
		return nil, ErrEmpty
	}
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("encode: %d bytes: %w", len(payload), ErrOversize)
	}
	out := make([]byte, 0, len(payload)+5)
	out = append(out, STX, byte(len(payload)>>8), byte(len(payload)))
	out = append(out, payload...)
	return append(out, lrc(payload), ETX), nil
}

// DecodeFrame reads one frame at the start of b, returning its payload
// (aliasing b) and total size. Errors: ErrSTX, ErrTruncated, ErrOversize,
// ErrEmpty, ErrChecksum, ErrETX.
func DecodeFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) == 0 {
		return nil, 0, ErrTruncated
	}
	if b[0] != STX {
		return nil, 0, ErrSTX
	}
	if len(b) < 3 {
		return nil, 0, ErrTruncated
	}
	l := int(b[1])<<8 | int(b[2])
	switch {
	case l > MaxPayload:
		return nil, 0, ErrOversize
	case l == 0:
		return nil, 0, ErrEmpty
	case len(b) < l+5:
		return nil, 0, ErrTruncated
	}
	n = l + 5
	if b[n-1] != ETX {
		return nil, 0, ErrETX
	}
	if lrc(b[3:3+l]) != b[3+l] {
		return nil, 0, ErrChecksum
	}
	return b[3 : 3+l], n, nil
}

// STXFramer cuts a byte stream into STX frame payloads (a serial.Framer
// for STX frames), resyncing on the next STX after garbage or a bad frame.
// Its buffer never exceeds MaxFrame. Not safe for concurrent use.
type STXFramer struct{ f serial.Framer }

// stxFormat is the frame format the STXFramer cuts.
var stxFormat = serial.Format{Max: MaxFrame, Start: stxStart, Decode: DecodeFrame, Truncated: ErrTruncated, Garbage: ErrGarbage}

// Feed adds p and returns the completed payloads (fresh copies) and one
// error per problem (ErrGarbage wrapped with a count, or a frame error).
func (f *STXFramer) Feed(p []byte) (payloads [][]byte, errs []error) { return f.f.Feed(p, stxFormat) }

// Buffered returns the bytes of an incomplete frame held back.
func (f *STXFramer) Buffered() int { return f.f.Buffered() }

// Reset drops any partial frame.
func (f *STXFramer) Reset() { f.f.Reset() }

// stxStart finds the next STX; a frame start is one byte, so nothing is
// kept when there is none.
func stxStart(b []byte) (int, int) { return indexByte(b, STX), 0 }

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
