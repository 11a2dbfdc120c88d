//go:build !windows

package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/devices/idcard"
)

// IDReader simulates a GA 467 SAM reader: it answers status, SAM ID, find,
// select and read like the real module, including the protection rule that
// a card is not found again after a successful read until it is lifted and
// placed again (docs/devices.md "Read sequence").
type IDReader struct {
	Faults
	line *Line

	mu       sync.Mutex
	text     []byte // the placed card's text block, nil when none
	photo    []byte
	read     bool // the placed card was read since it was placed
	samSW3   byte
	commands int
	reads    int
	placedAt time.Time

	done chan struct{}
}

// NewIDReader starts a simulated reader on a new pty (link as in NewLine)
// and serves it until ctx ends or Close.
func NewIDReader(ctx context.Context, link string, baud int) (*IDReader, error) {
	l, err := NewLine(link, baud)
	if err != nil {
		return nil, err
	}
	s := &IDReader{line: l, samSW3: idcard.SWOK, done: make(chan struct{})}
	go s.serve(ctx)
	return s, nil
}

// Line returns the simulated cable (path, unplug, replug, baud).
func (s *IDReader) Line() *Line { return s.line }

// Path returns the port path the driver should open.
func (s *IDReader) Path() string { return s.line.Path() }

// Close stops the simulator and removes its pty.
func (s *IDReader) Close() error {
	err := s.line.Close()
	<-s.done
	return err
}

// PlaceText places a card with this raw text block and photo.
func (s *IDReader) PlaceText(text, photo []byte) {
	s.mu.Lock()
	s.text, s.photo, s.read, s.placedAt = text, photo, false, time.Now()
	s.mu.Unlock()
}

// Place places a card holding id, encoded for kind (used for foreign-pr
// documents: KindForeign2017 or KindForeign2023).
func (s *IDReader) Place(id app.Identity, kind idcard.Kind) error {
	text, err := idcard.EncodeText(idcard.TextOf(id, kind))
	if err != nil {
		return err
	}
	s.PlaceText(text, DemoPhoto())
	return nil
}

// Lift removes the card.
func (s *IDReader) Lift() {
	s.mu.Lock()
	s.text, s.photo, s.read = nil, nil, false
	s.mu.Unlock()
}

// PlacedAt returns when the current card was placed (zero if none).
func (s *IDReader) PlacedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text == nil {
		return time.Time{}
	}
	return s.placedAt
}

// SetSAMStatus sets the SW3 the status command answers (0x90 healthy,
// 0x60 self-test failed).
func (s *IDReader) SetSAMStatus(sw3 byte) { s.mu.Lock(); s.samSW3 = sw3; s.mu.Unlock() }

// Commands returns how many commands the simulator has answered.
func (s *IDReader) Commands() int { s.mu.Lock(); defer s.mu.Unlock(); return s.commands }

// Reads returns how many successful text reads it has served.
func (s *IDReader) Reads() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// DemoPhoto returns a 1024-byte stand-in for the WLT photo (not an image).
func DemoPhoto() []byte {
	p := make([]byte, 1024)
	for i := range p {
		p[i] = byte(i*31 + 7)
	}
	return p
}

func (s *IDReader) serve(ctx context.Context) {
	defer close(s.done)
	var fr idcard.Framer
	buf := make([]byte, 512)
	for {
		if ctx.Err() != nil {
			return
		}
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
		bodies, _ := fr.Feed(buf[:n])
		for _, b := range bodies {
			cmd, err := idcard.ParseCommand(b)
			if err != nil || s.isSilent() {
				continue
			}
			resp := s.answer(cmd)
			frame, err := idcard.EncodeResponse(resp)
			if err != nil {
				continue
			}
			_ = s.send(s.line, frame)
		}
	}
}

func (s *IDReader) answer(c idcard.Command) idcard.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands++
	ok := func(data []byte) idcard.Response { return idcard.Response{SW3: idcard.SWOK, Data: data} }
	fresh := s.text != nil && !s.read
	switch {
	case c.Cmd == idcard.CmdReset:
		return ok(nil)
	case c.Cmd == idcard.CmdStatus:
		return idcard.Response{SW3: s.samSW3}
	case c.Cmd == idcard.CmdSAMID:
		return ok([]byte{5, 0, 1, 0, 0x01, 0x02, 0x03, 0x04, 0x40, 0xE2, 0x01, 0x00, 0x87, 0xD6, 0x12, 0x00})
	case c.Cmd == idcard.CmdCard && c.Para == idcard.ParaFind:
		if fresh {
			return idcard.Response{SW3: idcard.SWFound, Data: make([]byte, 4)}
		}
		return idcard.Response{SW3: idcard.SWNotFound}
	case c.Cmd == idcard.CmdCard && c.Para == idcard.ParaSelect:
		if fresh {
			return ok(make([]byte, 8))
		}
		return idcard.Response{SW3: idcard.SWSelectFail}
	case c.Cmd == idcard.CmdRead && (c.Para == idcard.ParaReadBase || c.Para == idcard.ParaReadFP):
		if !fresh {
			return idcard.Response{SW3: idcard.SWReadFail}
		}
		s.read = true
		s.reads++
		d := []byte{byte(len(s.text) >> 8), byte(len(s.text)), byte(len(s.photo) >> 8), byte(len(s.photo))}
		if c.Para == idcard.ParaReadFP {
			d = append(d, 0, 0)
		}
		d = append(d, s.text...)
		return ok(append(d, s.photo...))
	case c.Cmd == idcard.CmdRead && c.Para == idcard.ParaReadAddr:
		return idcard.Response{SW3: idcard.SWNoContent}
	}
	return idcard.Response{SW3: 0x21}
}
