//go:build !windows

package sim

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/devices/transitcard"
)

// CardReader simulates the desktop transit-card reader (STX framing,
// docs/devices.md) with a contactless card in its field that answers
// APDUs from its transitcard.Image: Beijing cards to "OC"/"PBOC", union
// cards to the T-Union AID, bank cards to the UnionPay AID, wallets and
// tokens to their placeholder names.
type CardReader struct {
	Faults
	line *Line

	mu        sync.Mutex
	card      *simCard
	liftAfter int // lift the card after this many more APDUs (0 = never)
	commands  int
	placedAt  time.Time
	// tokens keeps each single-journey token's chip by number: a token
	// lifted and placed again still carries what was written on it, as a
	// real one does (placing a written token again must be refused as
	// not blank, never look blank).
	tokens map[string]transitcard.Image

	done chan struct{}
}

type simCard struct {
	img   transitcard.Image
	found transitcard.FoundCard
	app   transitcard.App // selected application
}

// NewCardReader starts a simulated reader on a new pty (link as in
// NewLine), served until ctx ends or Close.
func NewCardReader(ctx context.Context, link string, baud int) (*CardReader, error) {
	l, err := NewLine(link, baud)
	if err != nil {
		return nil, err
	}
	s := &CardReader{line: l, done: make(chan struct{})}
	go s.serve(ctx)
	return s, nil
}

// Line returns the simulated cable.
func (s *CardReader) Line() *Line { return s.line }

// Path returns the port path the driver should open.
func (s *CardReader) Path() string { return s.line.Path() }

// Close stops the simulator.
func (s *CardReader) Close() error {
	err := s.line.Close()
	<-s.done
	return err
}

// Place puts a card like c into the field (replacing any other). A
// single-journey token placed again carries what was written on it until
// Recycle.
func (s *CardReader) Place(c app.Card) error {
	img, err := transitcard.ImageOf(c)
	if err != nil {
		return err
	}
	typ := byte(transitcard.FoundTypeA)
	if c.Form == app.FormNFC {
		typ = transitcard.FoundNFCCMCC
	}
	uid := []byte{0x04, byte(len(c.Number)), 0x5A, 0x10, c.Number[len(c.Number)-1], 0x80, 0x01}
	s.mu.Lock()
	if c.Kind == app.CardSingleJourney {
		if kept, ok := s.tokens[c.Number]; ok {
			img = kept
		} else {
			if s.tokens == nil {
				s.tokens = map[string]transitcard.Image{}
			}
			s.tokens[c.Number] = img
		}
	}
	s.card = &simCard{img: img, found: transitcard.FoundCard{Type: typ, UID: uid}}
	s.placedAt = time.Now()
	s.mu.Unlock()
	return nil
}

// Recycle erases the token with this number, as the station's token
// recycling does with tokens collected at the exit gates: the next Place
// of it is blank.
func (s *CardReader) Recycle(number string) { s.mu.Lock(); delete(s.tokens, number); s.mu.Unlock() }

// Lift removes the card from the field.
func (s *CardReader) Lift() { s.mu.Lock(); s.card = nil; s.mu.Unlock() }

// LiftAfterAPDUs lifts the card after n more APDUs (a card pulled away
// mid-read).
func (s *CardReader) LiftAfterAPDUs(n int) { s.mu.Lock(); s.liftAfter = n; s.mu.Unlock() }

// PlacedAt returns when the current card was placed (zero if none).
func (s *CardReader) PlacedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card == nil {
		return time.Time{}
	}
	return s.placedAt
}

// File returns a copy of file sfi of the card in the field (nil if none),
// e.g. to check what IssueSingleJourney wrote.
func (s *CardReader) File(sfi byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card == nil {
		return nil
	}
	return bytes.Clone(s.card.img.Files[sfi])
}

// Commands returns how many requests the simulator answered.
func (s *CardReader) Commands() int { s.mu.Lock(); defer s.mu.Unlock(); return s.commands }

func (s *CardReader) serve(ctx context.Context) {
	defer close(s.done)
	var fr transitcard.STXFramer
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		n, err := s.line.Read(buf, 250*time.Millisecond)
		if errors.Is(err, ErrUnplugged) {
			fr.Reset()
			if s.line.waitPlugged(ctx) != nil {
				return
			}
			continue
		}
		if err != nil || n == 0 {
			continue
		}
		pls, _ := fr.Feed(buf[:n])
		for _, pl := range pls {
			if s.isSilent() {
				continue
			}
			var rep transitcard.Reply
			if req, err := transitcard.ParseSTXRequest(pl); err != nil {
				rep = transitcard.Reply{Status: transitcard.StatusCommand}
			} else {
				rep = s.answer(req)
			}
			frame, err := transitcard.EncodeSTXReply(rep)
			if err == nil {
				_ = s.send(s.line, frame)
			}
		}
	}
}

var (
	fci   = []byte{0x6F, 0x00}
	sw    = func(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
	okSW  = sw(transitcard.SWOK)
	nfSW  = sw(transitcard.SWFileNotFound)
	naSW  = sw(transitcard.SWNotAllowed)
	insSW = sw(transitcard.SWInsNotSupp)
)

func (s *CardReader) answer(req transitcard.Request) transitcard.Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands++
	noCard := transitcard.Reply{Status: transitcard.StatusNoResponse}
	switch req.Op {
	case transitcard.OpVersion:
		v := append([]byte("SIMVENDOR-STX   "), 0xCC, 0x01)
		v = append(v, []byte("SIM-DESK-READER ")...)
		return transitcard.Reply{Data: append(v, 0, 1, 0, 0)}
	case transitcard.OpFindCard:
		if s.card == nil {
			return noCard
		}
		s.card.app = transitcard.AppNone
		return transitcard.Reply{Data: append([]byte{s.card.found.Type}, s.card.found.UID...)}
	case transitcard.OpAPDU:
		if s.card == nil {
			return noCard
		}
		r := s.card.apdu(req.Data)
		if s.liftAfter > 0 {
			if s.liftAfter--; s.liftAfter == 0 {
				s.card = nil
				return noCard
			}
		}
		return transitcard.Reply{Data: r}
	case transitcard.OpRFOff, transitcard.OpBeep:
		return transitcard.Reply{}
	}
	return transitcard.Reply{Status: transitcard.StatusCommand}
}

// apdu answers one C-APDU from the card image.
func (c *simCard) apdu(a []byte) []byte {
	if len(a) < 4 {
		return sw(0x6700)
	}
	ins, p1, p2 := a[1], a[2], a[3]
	switch {
	case a[0] == 0x00 && ins == 0xA4 && p1 == 0x04 && len(a) >= 5: // select by name
		name := a[5:min(len(a), 5+int(a[4]))]
		if c.answers(name) {
			c.app = c.img.App
			return append(bytes.Clone(fci), okSW...)
		}
		return nfSW
	case a[0] == 0x00 && ins == 0xA4 && p1 == 0x00 && len(a) >= 7: // select by FID
		if c.app == transitcard.AppBeijing && a[5] == 0x10 && a[6] == 0x01 {
			return okSW
		}
		return nfSW
	case a[0] == 0x00 && ins == 0xB0 && p1&0x80 != 0: // read binary by SFI
		f, ok := c.img.Files[p1&0x1F]
		if !ok || c.app == transitcard.AppNone {
			return nfSW
		}
		return append(bytes.Clone(f[min(int(p2), len(f)):]), okSW...)
	case a[0] == 0x00 && ins == 0xD6 && p1&0x80 != 0 && len(a) >= 5: // update binary
		if c.app != transitcard.AppToken || p1&0x1F != 0x01 {
			return naSW
		}
		data := a[5:min(len(a), 5+int(a[4]))]
		c.img.Files[0x01] = bytes.Clone(data)
		return okSW
	case a[0] == 0x80 && ins == 0x5C: // get balance
		if c.app == transitcard.AppBeijing || c.app == transitcard.AppTUnion {
			return append(transitcard.EncodeBalance(c.img.Balance), okSW...)
		}
		return insSW
	}
	return insSW
}

func (c *simCard) answers(name []byte) bool {
	switch c.img.App {
	case transitcard.AppBeijing:
		return bytes.Equal(name, transitcard.NameBeijingOC) || bytes.Equal(name, transitcard.NameBeijingPBOC)
	case transitcard.AppTUnion:
		return bytes.Equal(name, transitcard.AIDTUnion)
	case transitcard.AppUnionPay:
		return bytes.Equal(name, transitcard.AIDUnionPay[0])
	case transitcard.AppDCEP:
		return bytes.Equal(name, transitcard.NameDCEP)
	case transitcard.AppToken:
		return bytes.Equal(name, transitcard.NameToken)
	}
	return false
}
