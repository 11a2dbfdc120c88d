package transitcard

import (
	"errors"
	"fmt"
)

// Op is a reader operation, independent of the vendor's command codes.
type Op int

// The operations the driver needs.
const (
	OpVersion  Op = iota + 1 // reader identity; doubles as a liveness check
	OpFindCard               // activate a contactless card in the field
	OpAPDU                   // send a C-APDU to the activated card
	OpRFOff                  // switch the field off (the card must be re-activated)
	OpBeep                   // Data: duration ms (2 bytes BE), count (1 byte)
)

// Request is a host → reader message.
type Request struct {
	Op   Op
	Data []byte
}

// Reply is a reader → host message: a status word and data. What counts as
// success or "no card" is the Codec's business.
type Reply struct {
	Status uint16
	Data   []byte
}

// Decoder turns the reader's byte stream into replies.
type Decoder interface {
	Feed(p []byte) (replies []Reply, errs []error)
	Reset()
}

// Codec is one vendor's reader protocol: how requests are framed and how
// replies are read and judged. A second vendor is a second Codec; the
// driver and the card logic do not change.
type Codec interface {
	Name() string
	Encode(r Request) ([]byte, error)
	NewDecoder() Decoder
	// OK reports whether status means success for op.
	OK(op Op, status uint16) bool
	// NoCard reports whether status (to OpFindCard or OpAPDU) means no
	// card answers in the field.
	NoCard(status uint16) bool
}

// Card types in the find-card reply of the STX reader.
const (
	FoundTypeA   = 0x9A
	FoundTypeB   = 0x9B
	FoundNFCCMCC = 0xA1 // phone NFC, China Mobile
	FoundNFCCTel = 0xA2 // phone NFC, China Telecom
	FoundNFCUnic = 0xA3 // phone NFC, China Unicom
)

// STX command codes (docs/devices.md "Transit-card reader").
var stxCommands = map[Op][2]byte{
	OpVersion:  {0x31, 0x11},
	OpFindCard: {0x32, 0x25},
	OpAPDU:     {0x32, 0x26},
	OpRFOff:    {0x31, 0x22},
	OpBeep:     {0x31, 0x13},
}

// STX status codes.
const (
	StatusOK         = 0x0000
	StatusFormat     = 0x00F1
	StatusLength     = 0x00F2
	StatusChecksum   = 0x00F3
	StatusCommand    = 0x00F4
	StatusNotActive  = 0x3004
	StatusActivate   = 0x3005
	StatusNoResponse = 0x3006
	StatusCardData   = 0x3007
)

// STXCodec is the multi-card reader protocol of docs/devices.md (STX,
// big-endian length, payload, XOR of the payload, ETX; payload = two
// command bytes + parameters, replies = two status bytes + data).
type STXCodec struct{}

var _ Codec = STXCodec{}

// Name returns "stx".
func (STXCodec) Name() string { return "stx" }

// Encode frames r.
func (STXCodec) Encode(r Request) ([]byte, error) {
	c, ok := stxCommands[r.Op]
	if !ok {
		return nil, fmt.Errorf("stx: op %d unsupported", r.Op)
	}
	return EncodeFrame(append([]byte{c[0], c[1]}, r.Data...))
}

// NewDecoder returns a streaming decoder.
func (STXCodec) NewDecoder() Decoder { return &stxDecoder{} }

// OK is status 0000.
func (STXCodec) OK(_ Op, s uint16) bool { return s == StatusOK }

// NoCard is any 30xx contactless status.
func (STXCodec) NoCard(s uint16) bool { return s>>8 == 0x30 }

type stxDecoder struct{ f STXFramer }

func (d *stxDecoder) Feed(p []byte) ([]Reply, []error) {
	pls, errs := d.f.Feed(p)
	var out []Reply
	for _, pl := range pls {
		if len(pl) < 2 {
			errs = append(errs, fmt.Errorf("stx reply: %w", ErrTruncated))
			continue
		}
		out = append(out, Reply{Status: uint16(pl[0])<<8 | uint16(pl[1]), Data: pl[2:]})
	}
	return out, errs
}

func (d *stxDecoder) Reset() { d.f.Reset() }

// ParseSTXRequest reads a host → reader payload (for the simulator).
func ParseSTXRequest(payload []byte) (Request, error) {
	if len(payload) < 2 {
		return Request{}, ErrTruncated
	}
	for op, c := range stxCommands {
		if c[0] == payload[0] && c[1] == payload[1] {
			return Request{Op: op, Data: payload[2:]}, nil
		}
	}
	return Request{}, errors.New("stx: unknown command")
}

// EncodeSTXReply frames a reply (for the simulator).
func EncodeSTXReply(r Reply) ([]byte, error) {
	return EncodeFrame(append([]byte{byte(r.Status >> 8), byte(r.Status)}, r.Data...))
}
