package app

import (
	"context"
	"time"
)

// IDReader reads identity documents on a resident-ID-card reader.
//
// ReadID blocks until a card is placed on the reader (or one already lying
// there and not yet read) and returns its identity, validated with the
// document rules (ParseDoc for the card's type, then Identity.Check), or
// until ctx ends. It never returns a half-read or unvalidated identity.
// Errors are *Error: CodeInvalid for a card whose data fails the rules
// (reason from ParseDoc or Check, or "card_data", "unsupported_document");
// CodeUnavailable for reader trouble (reasons "reader_disconnected",
// "replace_card", "bad_frame", "reader_not_responding", "reader_misconfigured",
// "not_configured", "timeout"). The reader reports its own state on the
// StatusBoard (CompIDReader).
type IDReader interface {
	ReadID(ctx context.Context) (Identity, error)
}

// TicketSpec is what a single-journey ticket written onto a blank token
// holds.
type TicketSpec struct {
	FareFen    int64     // fare in fen (CNY 0.01), 1..65535
	Origin     string    // origin station code, 4 digits (e.g. "0150")
	ValidUntil time.Time // last moment the ticket may enter
}

// CardReader reads fare cards on the desktop transit-card reader.
//
// ReadCard blocks until a card is placed (or one lies on the reader) and
// returns what the chip says: the number as printed, the kind, validity and
// balance (-1 when unknown), or until ctx ends. IssueSingleJourney writes
// spec onto the blank single-journey token lying on the reader and returns
// the token's ID. Errors are *Error: CodeInvalid ("not_blank",
// "unknown_card", "ticket_spec"), CodeUnavailable ("reader_disconnected",
// "replace_card", "reader_not_responding", "not_configured", "timeout").
// The reader reports its state on the StatusBoard (CompCardReader).
type CardReader interface {
	ReadCard(ctx context.Context) (Card, error)
	IssueSingleJourney(ctx context.Context, spec TicketSpec) (tokenID string, err error)
}

// Scanner reads codes (ride QR codes, health codes) from a serial QR
// scanner. Scan blocks until a complete code arrives or ctx ends. A code
// is at most a few kilobytes; an over-long one is a CodeInvalid *Error
// with reason "code_too_long" (the scanner then waits for the next one).
type Scanner interface {
	Scan(ctx context.Context) (string, error)
}

// DemoItem is one thing the simulator panel can place on a simulated
// reader: a demo ID card or a demo transit card. Label is safe to show
// (document type or card kind plus a masked number and name).
type DemoItem struct {
	ID    string // stable handle to pass back to Place
	Label string
}

// SimDevice names one of the simulated devices.
type SimDevice string

// The simulated devices.
const (
	SimIDReader   SimDevice = "idreader"
	SimCardReader SimDevice = "cardreader"
	SimScanner    SimDevice = "scanner"
)

// DeviceSimulator is what the GUI's simulator panel drives in demo mode:
// list the demo cards, place one on (or lift it from) its reader, scan a
// code, and unplug or replug a simulated device. Every method is safe to
// call from the UI goroutine: none blocks for long. Errors are *Error,
// CodeNotFound for an unknown item ID.
type DeviceSimulator interface {
	IDCards() []DemoItem
	TransitCards() []DemoItem
	PlaceIDCard(id string) error
	LiftIDCard()
	PlaceTransitCard(id string) error
	LiftTransitCard()
	ScanCode(code string) error
	Unplug(d SimDevice) error
	Replug(d SimDevice) error
	Plugged(d SimDevice) bool
}
