package serial

import (
	"errors"
	"fmt"
)

// Format is what a Framer needs to know about a codec's frames.
type Format struct {
	// Max is the largest whole frame: the Framer never buffers more.
	Max int
	// Start returns the index in b of the next byte that may begin a
	// frame, or -1 and how many bytes at the end of b may be the start of
	// one still arriving (a preamble split across reads).
	Start func(b []byte) (i, keep int)
	// Decode reads the frame at the start of b and returns its body (it
	// may alias b) and its whole length; an error matching Truncated when
	// the frame is not complete yet, another error for a rejected frame.
	Decode func(b []byte) (body []byte, n int, err error)
	// Truncated and Garbage are the codec's errors: Decode's "not
	// complete yet", and bytes outside any frame (Feed wraps it with the
	// count).
	Truncated, Garbage error
}

// Framer cuts a byte stream into frame bodies for one codec. It survives
// frames split across reads, several frames in one read and garbage
// between frames: it looks for a frame start and lets the codec check
// length and checksum, and a bad frame costs one byte of resync, never the
// frames after it. Its buffer never holds more than the Format's Max
// bytes. The zero value is ready; it is not safe for concurrent use.
type Framer struct {
	buf     []byte
	garbage int
}

// Feed adds p to the stream and returns the bodies of the frames it
// completed (fresh copies, in order) and one error per problem found:
// fm.Garbage (wrapped, with the byte count) for bytes outside frames, the
// codec's error for a rejected frame.
func (f *Framer) Feed(p []byte, fm Format) (bodies [][]byte, errs []error) {
	for len(p) > 0 {
		k := min(fm.Max-len(f.buf), len(p))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
		bodies, errs = f.scan(fm, bodies, errs)
	}
	if f.garbage > 0 {
		errs = append(errs, fmt.Errorf("%w: %d bytes", fm.Garbage, f.garbage))
		f.garbage = 0
	}
	return bodies, errs
}

// scan extracts every complete frame from f.buf and compacts it.
func (f *Framer) scan(fm Format, bodies [][]byte, errs []error) ([][]byte, []error) {
	b := f.buf
	for {
		i, keep := fm.Start(b)
		if i < 0 {
			f.garbage += len(b) - keep
			b = b[len(b)-keep:]
			break
		}
		f.garbage += i
		b = b[i:]
		body, n, err := fm.Decode(b)
		if errors.Is(err, fm.Truncated) {
			break
		}
		if err != nil {
			errs = append(errs, err)
			b = b[1:] // resync after the first byte of the rejected start
			continue
		}
		bodies = append(bodies, append([]byte(nil), body...))
		b = b[n:]
	}
	f.buf = append(f.buf[:0], b...)
	return bodies, errs
}

// Buffered returns how many bytes wait for the rest of a frame.
func (f *Framer) Buffered() int { return len(f.buf) }

// Reset drops any partial frame, e.g. after a command timed out.
func (f *Framer) Reset() { f.buf = f.buf[:0]; f.garbage = 0 }
