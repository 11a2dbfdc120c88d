//go:build !windows

package sim

import (
	"sync"
	"time"
)

// Faults are one-shot disturbances applied to the next response frame a
// simulator sends, plus the persistent "silent" switch. The zero value is
// a well-behaved device. Faults is safe for concurrent use.
type Faults struct {
	mu          sync.Mutex
	silent      bool
	badChecksum bool
	splitAt     int // 0 = no split
	splitPause  time.Duration
	cutAt       int    // 0 = none: send only the first cutAt bytes of the next frame
	cutThen     func() // called after the cut (e.g. lift the card, unplug)
	garbage     []byte // sent before the next frame
	corruptOver int    // 0 = none: corrupt the checksum of the next frame longer than this
}

// Silence makes the device ignore every command (on) or answer again (off).
func (f *Faults) Silence(on bool) { f.mu.Lock(); f.silent = on; f.mu.Unlock() }

// BadChecksumNext corrupts the checksum of the next frame.
func (f *Faults) BadChecksumNext() { f.mu.Lock(); f.badChecksum = true; f.mu.Unlock() }

// CorruptNextOver corrupts the checksum of the next frame longer than n
// bytes (e.g. the ID-card read answer, leaving the short polls alone).
func (f *Faults) CorruptNextOver(n int) { f.mu.Lock(); f.corruptOver = n; f.mu.Unlock() }

// SplitNextAt sends the next frame in two writes, the first k bytes, a
// pause, then the rest.
func (f *Faults) SplitNextAt(k int, pause time.Duration) {
	f.mu.Lock()
	f.splitAt, f.splitPause = k, pause
	f.mu.Unlock()
}

// GarbageNext sends b just before the next frame.
func (f *Faults) GarbageNext(b []byte) {
	f.mu.Lock()
	f.garbage = append(f.garbage, b...)
	f.mu.Unlock()
}

// CutNextAt sends only the first k bytes of the next frame of at least k+1
// bytes, then calls then (which may be nil).
func (f *Faults) CutNextAt(k int, then func()) {
	f.mu.Lock()
	f.cutAt, f.cutThen = k, then
	f.mu.Unlock()
}

func (f *Faults) isSilent() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.silent }

// send writes frame to l with the pending faults applied, clearing them.
func (f *Faults) send(l *Line, frame []byte) error {
	f.mu.Lock()
	bad, split, pause, garbage := f.badChecksum, f.splitAt, f.splitPause, f.garbage
	cut, then := f.cutAt, f.cutThen
	f.badChecksum, f.splitAt, f.garbage = false, 0, nil
	if f.corruptOver > 0 && len(frame) > f.corruptOver {
		bad, f.corruptOver = true, 0
	}
	if cut > 0 && cut < len(frame) {
		f.cutAt, f.cutThen = 0, nil
	} else {
		cut, then = 0, nil
	}
	f.mu.Unlock()
	if bad {
		frame = append([]byte(nil), frame...)
		frame[len(frame)-1] ^= 0xA5
	}
	if len(garbage) > 0 {
		if _, err := l.Write(garbage); err != nil {
			return err
		}
	}
	if cut > 0 {
		_, err := l.Write(frame[:cut])
		if then != nil {
			then()
		}
		return err
	}
	if split > 0 && split < len(frame) {
		if _, err := l.Write(frame[:split]); err != nil {
			return err
		}
		time.Sleep(pause)
		frame = frame[split:]
	}
	_, err := l.Write(frame)
	return err
}
