package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"sync"

	"stationdesk/app"
)

// gateKey is one active key of a gate with a pool of keyed HMAC states:
// hmac.New costs two SHA-256 blocks of key schedule and several
// allocations, Reset on a pooled state costs neither. The MACs are the ones
// app.GateRequestMAC and app.GateResponseMAC define (tests check they are
// byte for byte equal).
type gateKey struct {
	key  app.GateKey
	pool sync.Pool // *macState
}

type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newGateKey(k app.GateKey) *gateKey {
	g := &gateKey{key: k}
	g.pool.New = func() any { return &macState{h: hmac.New(sha256.New, g.key[:]), buf: make([]byte, 0, 256)} }
	return g
}

// requestMAC is app.GateRequestMAC without allocations; bh is the
// SHA-256 of the body (hashed once per request, whatever the number of
// keys tried, and reused as the idempotency key's body hash).
func (g *gateKey) requestMAC(method, path, gate, ts, nonce, requestID string, bh *[sha256.Size]byte) [sha256.Size]byte {
	m := g.pool.Get().(*macState)
	b := m.buf[:0]
	for _, s := range [...]string{method, path, gate, ts, nonce, requestID} {
		b = append(b, s...)
		b = append(b, '\n')
	}
	b = hex.AppendEncode(b, bh[:])
	m.h.Reset()
	m.h.Write(b)
	out := [sha256.Size]byte(m.h.Sum(m.sum[:0]))
	m.buf = b[:0]
	g.pool.Put(m)
	return out
}

// responseMAC is app.GateResponseMAC without allocations.
func (g *gateKey) responseMAC(nonce string, status int, body []byte) [sha256.Size]byte {
	m := g.pool.Get().(*macState)
	bh := sha256.Sum256(body)
	b := append(m.buf[:0], "resp\n"...)
	b = append(b, nonce...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, '\n')
	b = hex.AppendEncode(b, bh[:])
	m.h.Reset()
	m.h.Write(b)
	out := [sha256.Size]byte(m.h.Sum(m.sum[:0]))
	m.buf = b[:0]
	g.pool.Put(m)
	return out
}
