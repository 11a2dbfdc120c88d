package app

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Binding is one card bound to a person, as the desk may show it: the card
// number is masked to its last four characters and nothing names the
// person. Auto marks a special card the backend upgraded by itself; such
// cards do not count against the one-physical-one-NFC limit.
type Binding struct {
	CardMasked string
	Kind       CardKind
	Form       CardForm
	Auto       bool
	ViaProxy   bool
	BoundAt    time.Time
}

// PersonBindings is what central says about one document holder: the cards
// bound to them (masked) and how many proxy bindings they made as a helper
// (ProxyUsed of ProxyLimit).
type PersonBindings struct {
	Bindings   []Binding
	ProxyUsed  int
	ProxyLimit int
}

// Ordinary returns the holder's ordinary (not special, not auto) binding of
// form f, if any: the one a new card of that form would have to replace.
func (p PersonBindings) Ordinary(f CardForm) (Binding, bool) {
	for _, b := range p.Bindings {
		if b.Form == f && !b.Auto {
			return b, true
		}
	}
	return Binding{}, false
}

// CardStatus is what central knows about a card. Card.Number is the full
// number of the card the clerk is holding (the look-up shows it large);
// HolderDocMasked is the holder's masked document when Bound.
type CardStatus struct {
	Card            Card
	Upgradeable     bool
	Auto            bool
	Bound           bool
	HolderDocMasked string
}

// BindRequest asks central to bind a card to Holder. For a proxy binding
// (代办) Helper is the helper's document and Code the verification code sent
// to the holder's phone; for an own binding Helper is zero and Code empty.
// Holder and Helper are personal information and redact themselves; Code is
// a one-time secret: the whole request formats as a redacted summary.
type BindRequest struct {
	CardNumber string
	Form       CardForm
	Holder     DocNumber
	Helper     DocNumber
	Code       string
	Operator   string // operator id at the desk (no name)
}

// Proxy reports whether r is a proxy binding.
func (r BindRequest) Proxy() bool { return !r.Helper.IsZero() }

// String returns a redacted summary: masked card and documents, no code.
func (r BindRequest) String() string {
	s := fmt.Sprintf("BindRequest{card %s %s holder %s", MaskCardNumber(r.CardNumber), r.Form, r.Holder.Masked())
	if r.Proxy() {
		s += " helper " + r.Helper.Masked()
	}
	return s + "}"
}

// Format redacts the request for every verb.
func (r BindRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue redacts the request in slog.
func (r BindRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// BindResult is central's answer to a successful bind. Already means the
// card was bound to this holder before (nothing changed). ProxyUsed counts
// the helper's proxy bindings including this one (proxy bindings only).
type BindResult struct {
	Binding         Binding
	Already         bool
	HolderDocMasked string
	ProxyUsed       int
	ProxyLimit      int
}

// UnbindRequest asks central to unbind a card from Holder (personal
// information, redacted when formatted).
type UnbindRequest struct {
	CardNumber string
	Holder     DocNumber
	Operator   string
}

// String returns a redacted summary.
func (r UnbindRequest) String() string {
	return fmt.Sprintf("UnbindRequest{card %s holder %s}", MaskCardNumber(r.CardNumber), r.Holder.Masked())
}

// Format redacts the request for every verb.
func (r UnbindRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue redacts the request in slog.
func (r UnbindRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// UnbindResult is central's answer to a successful unbind.
type UnbindResult struct {
	CardMasked string
	UnboundAt  time.Time
}

// ProxyCodeSent says where central sent a verification code (masked phone).
type ProxyCodeSent struct {
	PhoneMasked string
	ExpiresAt   time.Time
}

// Card-number limits. Printed Yikatong numbers, chip serials (16 hex
// digits) and transport-union numbers (19 digits) all fit.
const (
	MinCardNumber = 8
	MaxCardNumber = 20
)

// ParseCardNumber normalises a typed or read card number: spaces, '-' and
// full-width digits are accepted, letters a–f are upper-cased. The result
// is 8–20 characters of 0-9/A-F. Failures are CodeInvalid with reason
// "invalid_card_number"; the message never repeats the input.
func ParseCardNumber(raw string) (string, error) {
	if len(raw) > 4*MaxCardNumber {
		return "", errCardNumber()
	}
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r == ' ' || r == '-' || r == '\u3000' || r == '\t':
			continue
		case r >= '０' && r <= '９':
			r = '0' + (r - '０')
		case r >= 'a' && r <= 'f':
			r -= 'a' - 'A'
		}
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return "", errCardNumber()
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) < MinCardNumber || len(s) > MaxCardNumber {
		return "", errCardNumber()
	}
	return s, nil
}

func errCardNumber() *Error {
	return NewError(CodeInvalid, string(CentralInvalidCardNumber),
		"卡号无效：应为8–20位数字（可含A–F）。请重新读卡或核对卡背面的卡号。",
		"Invalid card number: 8–20 digits (A–F allowed). Read the card again or check the number on its back.")
}
