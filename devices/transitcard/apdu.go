package transitcard

import (
	"context"
	"fmt"
)

// Transceiver sends one C-APDU to the card in the field and returns the
// R-APDU (data followed by SW1 SW2). The Reader implements it over the
// serial line; tests and the simulator can implement it directly.
type Transceiver interface {
	Transmit(ctx context.Context, capdu []byte) ([]byte, error)
}

// Status words.
const (
	SWOK           = 0x9000
	SWFileNotFound = 0x6A82
	SWRecordNotFnd = 0x6A83
	SWNotAllowed   = 0x6986
	SWWrongP1P2    = 0x6B00
	SWInsNotSupp   = 0x6D00
)

// SWError is an R-APDU status other than 90 00.
type SWError uint16

func (e SWError) Error() string { return fmt.Sprintf("card status %04X", uint16(e)) }

// APDU builders (docs/devices.md "Transit-card reader").
func selectName(name []byte) []byte {
	return append(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(name))}, name...), 0x00)
}
func selectFID(fid uint16) []byte {
	return []byte{0x00, 0xA4, 0x00, 0x00, 0x02, byte(fid >> 8), byte(fid), 0x00}
}
func readBinarySFI(sfi byte) []byte { return []byte{0x00, 0xB0, 0x80 | sfi, 0x00, 0x00} }
func getBalance() []byte            { return []byte{0x80, 0x5C, 0x00, 0x02, 0x04} }
func updateBinarySFI(sfi byte, data []byte) []byte {
	return append([]byte{0x00, 0xD6, 0x80 | sfi, 0x00, byte(len(data))}, data...)
}

// exchange sends capdu and follows 61 xx (GET RESPONSE) and 6C xx (retry
// with Le = xx) like NFCard's transceive. It returns the data of a 90 00
// answer, an SWError for any other status, or the transport error.
func exchange(ctx context.Context, t Transceiver, capdu []byte) ([]byte, error) {
	var data []byte
	for i := 0; i < 8; i++ {
		r, err := t.Transmit(ctx, capdu)
		if err != nil {
			return nil, err
		}
		if len(r) < 2 {
			return nil, fmt.Errorf("r-apdu of %d bytes: %w", len(r), ErrTruncated)
		}
		sw := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
		data = append(data, r[:len(r)-2]...)
		switch {
		case sw == SWOK:
			return data, nil
		case sw>>8 == 0x61:
			capdu = []byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}
		case sw>>8 == 0x6C && len(capdu) >= 5:
			capdu = append([]byte(nil), capdu...)
			capdu[len(capdu)-1] = byte(sw)
			data = data[:0]
		default:
			return nil, SWError(sw)
		}
	}
	return nil, fmt.Errorf("apdu: too many continuation answers")
}
