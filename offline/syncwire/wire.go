// Package syncwire is the binary and JSON format of the gate-cache sync
// objects shared by the central publisher (offline/sim/syncpub) and the station client
// (offline/gatesync, offline/cache): snapshot chunks, delta segments, the hot
// list, the signed manifest and the per-bucket anti-entropy digests.
//
// Rows carry no personal data in clear: cards are keyed hashes
// (HMAC-SHA-256 with the central card key, first 12 bytes), persons are
// opaque central keys; a person row's colour and test time are sensitive
// health data and are never logged.
//
// All integers are big-endian. Objects are immutable and content-addressed
// by SHA-256 in the manifest, so every station fetches the same URLs and a
// cache between central and stations can absorb the fan-out.
package syncwire

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"stationdesk/app"
)

// Row sizes in bytes.
const (
	CardRowSize   = HashSize + 8 + 1 + 8
	PersonRowSize = 8 + 1 + 4 + 8 + 1
	// HashSize is the stored length of a card hash: 96 bits of the HMAC.
	// Any two of 30 M cards collide with a probability of about 6e-15,
	// and without the key nothing can be derived from it. 12 bytes instead
	// of 16 keep the city's cache file under 1.1 GiB.
	HashSize = 12
	Buckets  = 256
)

// Card flags.
const (
	FlagBlocked = 1 // card reported lost/blocked: deny
	FlagDeleted = 2 // row removed (card unbound / person gone)
)

// Colour codes in rows.
const (
	ColorNone   = 0
	ColorGreen  = 1
	ColorYellow = 2
	ColorRed    = 3
)

// CardHash is the keyed hash of a card number.
type CardHash [HashSize]byte

// HashCard computes HMAC-SHA-256(key, normalised number)[:HashSize]. The number is
// normalised by dropping spaces and dashes, so "1000 7510 0000 0001" and
// "1000751000000001" hash alike. A plain hash would be brute-forceable from
// a stolen disk (card numbers have little entropy); the key is delivered by
// central and never stored in the cache file.
func HashCard(key []byte, number string) CardHash {
	var buf [64]byte
	norm := buf[:0]
	for i := 0; i < len(number); i++ {
		if c := number[i]; c != ' ' && c != '-' {
			norm = append(norm, c)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write(norm) // one write instead of one per digit
	var sum [sha256.Size]byte
	var h CardHash
	copy(h[:], m.Sum(sum[:0]))
	return h
}

// CardHasher computes HashCard for one key with pooled, keyed HMAC states
// (no key schedule and no allocation per card). Safe for concurrent use.
type CardHasher struct{ pool sync.Pool }

// NewCardHasher returns a hasher for key (the key is copied).
func NewCardHasher(key []byte) *CardHasher {
	k := append([]byte(nil), key...)
	return &CardHasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// Hash equals HashCard(key, number).
func (c *CardHasher) Hash(number string) CardHash {
	var buf [64]byte
	norm := buf[:0]
	for i := 0; i < len(number); i++ {
		if ch := number[i]; ch != ' ' && ch != '-' {
			norm = append(norm, ch)
		}
	}
	m := c.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(norm)
	var sum [sha256.Size]byte
	var h CardHash
	copy(h[:], m.Sum(sum[:0]))
	c.pool.Put(m)
	return h
}

// Card is one binding: card hash → person key.
type Card struct {
	Hash   CardHash
	Person uint64
	Flags  uint8
	Seq    uint64
}

// Person is one person's health state. Color and TestMin (Unix minutes of
// the last negative test, 0 = none) are sensitive.
type Person struct {
	Person  uint64
	Color   uint8
	TestMin uint32
	Seq     uint64
	Flags   uint8
}

// ColorCode maps a health colour to its row code.
func ColorCode(c app.HealthColor) uint8 {
	switch c {
	case app.ColorGreen:
		return ColorGreen
	case app.ColorYellow:
		return ColorYellow
	case app.ColorRed:
		return ColorRed
	}
	return ColorNone
}

// HealthColor maps a row code back.
func HealthColor(c uint8) app.HealthColor {
	switch c {
	case ColorGreen:
		return app.ColorGreen
	case ColorYellow:
		return app.ColorYellow
	case ColorRed:
		return app.ColorRed
	}
	return app.ColorNone
}

// TestMinutes converts a test time to row minutes (0 for the zero time).
func TestMinutes(t time.Time) uint32 {
	if t.IsZero() || t.Unix() <= 0 {
		return 0
	}
	return uint32(t.Unix() / 60)
}

// TestTime converts row minutes back (zero time for 0).
func TestTime(m uint32) time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.Unix(int64(m)*60, 0)
}

// AppendCard appends the CardRowSize-byte encoding of c.
func AppendCard(b []byte, c Card) []byte {
	b = append(b, c.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, c.Person)
	b = append(b, c.Flags)
	return binary.BigEndian.AppendUint64(b, c.Seq)
}

// DecodeCard decodes one card row from b (len ≥ CardRowSize).
func DecodeCard(b []byte) Card {
	var c Card
	copy(c.Hash[:], b[:HashSize])
	c.Person = binary.BigEndian.Uint64(b[HashSize:])
	c.Flags = b[HashSize+8]
	c.Seq = binary.BigEndian.Uint64(b[HashSize+9:])
	return c
}

// AppendPerson appends the 22-byte encoding of p.
func AppendPerson(b []byte, p Person) []byte {
	b = binary.BigEndian.AppendUint64(b, p.Person)
	b = append(b, p.Color)
	b = binary.BigEndian.AppendUint32(b, p.TestMin)
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	return append(b, p.Flags)
}

// DecodePerson decodes one person row from b (len ≥ PersonRowSize).
func DecodePerson(b []byte) Person {
	return Person{
		Person:  binary.BigEndian.Uint64(b),
		Color:   b[8],
		TestMin: binary.BigEndian.Uint32(b[9:]),
		Seq:     binary.BigEndian.Uint64(b[13:]),
		Flags:   b[21],
	}
}

// Object magics.
var (
	magicChunkCards   = [4]byte{'S', 'D', 'C', '1'}
	magicChunkPersons = [4]byte{'S', 'D', 'P', '1'}
	magicSegment      = [4]byte{'S', 'D', 'D', '1'}
)

// ErrFormat is returned for any object that does not decode.
var ErrFormat = errors.New("wire: malformed object")

// MaxObjectRows bounds the row counts a decoder accepts (a chunk or segment
// claiming more is rejected before allocation).
const MaxObjectRows = 1 << 24

// EncodeCardChunk encodes a snapshot chunk of card rows (sorted by hash).
func EncodeCardChunk(rows []Card) []byte {
	b := make([]byte, 0, 8+len(rows)*CardRowSize)
	b = append(b, magicChunkCards[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(rows)))
	for _, r := range rows {
		b = AppendCard(b, r)
	}
	return b
}

// EncodePersonChunk encodes a snapshot chunk of person rows (sorted by key).
func EncodePersonChunk(rows []Person) []byte {
	b := make([]byte, 0, 8+len(rows)*PersonRowSize)
	b = append(b, magicChunkPersons[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(rows)))
	for _, r := range rows {
		b = AppendPerson(b, r)
	}
	return b
}

// ChunkKind tells which table a chunk fills.
type ChunkKind byte

// Chunk kinds.
const (
	KindCards   ChunkKind = 'C'
	KindPersons ChunkKind = 'P'
)

// ChunkHeader checks a chunk's magic and size and returns its kind and rows.
// The rows follow at offset 8.
func ChunkHeader(b []byte) (ChunkKind, int, error) {
	if len(b) < 8 {
		return 0, 0, ErrFormat
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	var kind ChunkKind
	var size int
	switch [4]byte(b[:4]) {
	case magicChunkCards:
		kind, size = KindCards, CardRowSize
	case magicChunkPersons:
		kind, size = KindPersons, PersonRowSize
	default:
		return 0, 0, ErrFormat
	}
	if n > MaxObjectRows || len(b) != 8+n*size {
		return 0, 0, ErrFormat
	}
	return kind, n, nil
}

// DecodeChunk decodes a whole chunk and checks rows are strictly sorted.
func DecodeChunk(b []byte) (ChunkKind, []Card, []Person, error) {
	kind, n, err := ChunkHeader(b)
	if err != nil {
		return 0, nil, nil, err
	}
	if kind == KindCards {
		cs := make([]Card, n)
		for i := range cs {
			cs[i] = DecodeCard(b[8+i*CardRowSize:])
			if i > 0 && string(cs[i-1].Hash[:]) >= string(cs[i].Hash[:]) {
				return 0, nil, nil, ErrFormat
			}
		}
		return kind, cs, nil, nil
	}
	ps := make([]Person, n)
	for i := range ps {
		ps[i] = DecodePerson(b[8+i*PersonRowSize:])
		if i > 0 && ps[i-1].Person >= ps[i].Person {
			return 0, nil, nil, ErrFormat
		}
	}
	return kind, nil, ps, nil
}

// Segment is a delta: the latest row per key for changes with seq in
// (From, To]. Deleted rows carry FlagDeleted.
type Segment struct {
	From, To uint64
	Cards    []Card
	Persons  []Person
}

// EncodeSegment encodes a segment (also used for the hot list body).
func EncodeSegment(s Segment) []byte {
	b := make([]byte, 0, 28+len(s.Cards)*CardRowSize+len(s.Persons)*PersonRowSize)
	b = append(b, magicSegment[:]...)
	b = binary.BigEndian.AppendUint64(b, s.From)
	b = binary.BigEndian.AppendUint64(b, s.To)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Cards)))
	for _, r := range s.Cards {
		b = AppendCard(b, r)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Persons)))
	for _, r := range s.Persons {
		b = AppendPerson(b, r)
	}
	return b
}

// DecodeSegment decodes a segment; every row's seq must lie in (From, To].
func DecodeSegment(b []byte) (Segment, error) {
	var s Segment
	if len(b) < 28 || [4]byte(b[:4]) != magicSegment {
		return s, ErrFormat
	}
	s.From = binary.BigEndian.Uint64(b[4:])
	s.To = binary.BigEndian.Uint64(b[12:])
	if s.To < s.From {
		return s, ErrFormat
	}
	nc := int(binary.BigEndian.Uint32(b[20:]))
	off := 24
	if nc > MaxObjectRows || len(b) < off+nc*CardRowSize+4 {
		return s, ErrFormat
	}
	s.Cards = make([]Card, nc)
	for i := range s.Cards {
		s.Cards[i] = DecodeCard(b[off:])
		off += CardRowSize
		if s.Cards[i].Seq <= s.From || s.Cards[i].Seq > s.To {
			return s, ErrFormat
		}
	}
	np := int(binary.BigEndian.Uint32(b[off:]))
	off += 4
	if np > MaxObjectRows || len(b) != off+np*PersonRowSize {
		return s, ErrFormat
	}
	s.Persons = make([]Person, np)
	for i := range s.Persons {
		s.Persons[i] = DecodePerson(b[off:])
		off += PersonRowSize
		if s.Persons[i].Seq <= s.From || s.Persons[i].Seq > s.To {
			return s, ErrFormat
		}
	}
	return s, nil
}

// Anti-entropy digests: per bucket, the row count and the XOR of a 64-bit
// mix of each present row. XOR makes the digest order-free and updatable in
// place (xor out the old row, xor in the new). The mix is not a security
// measure (chunks are SHA-256-addressed in a signed manifest); it only has
// to make accidental divergence visible.

// Digest is one bucket's count and xor.
type Digest struct {
	N int64  `json:"n"`
	X uint64 `json:"x"`
}

// Add folds a row hash in; Remove folds it out.
func (d *Digest) Add(h uint64)    { d.N++; d.X ^= h }
func (d *Digest) Remove(h uint64) { d.N--; d.X ^= h }

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// CardRowHash is the digest contribution of a present card row: its key and
// value. The change sequence is not part of it: the station stores values,
// not per-row sequences (segment order and the applied sequence make
// applies idempotent), so two rows with the same content agree whatever
// change produced them.
func CardRowHash(c Card) uint64 {
	h := mix(binary.BigEndian.Uint64(c.Hash[:8]) ^ 0x43)
	h = mix(h ^ uint64(binary.BigEndian.Uint32(c.Hash[8:])))
	h = mix(h ^ c.Person)
	return mix(h ^ uint64(c.Flags&FlagBlocked))
}

// PersonRowHash is the digest contribution of a present person row (key
// and value, not the sequence).
func PersonRowHash(p Person) uint64 {
	h := mix(p.Person ^ 0x50)
	return mix(h ^ uint64(p.Color)<<32 ^ uint64(p.TestMin))
}

// CardBucket is the bucket of a card hash: its first byte.
func CardBucket(h CardHash) int { return int(h[0]) }

// PersonBucket is the bucket of a person key under the manifest's shift:
// key >> shift, capped at 255, so buckets are contiguous key ranges and a
// snapshot can be built in key order.
func PersonBucket(p uint64, shift uint) int {
	b := p >> shift
	if b > Buckets-1 {
		return Buckets - 1
	}
	return int(b)
}

// ChunkRef describes one snapshot chunk.
type ChunkRef struct {
	Kind   string `json:"kind"` // "cards" or "persons"
	Bucket int    `json:"bucket"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// SegmentRef describes one delta segment.
type SegmentRef struct {
	Window time.Time `json:"window"` // start of the minute it covers
	From   uint64    `json:"from_seq"`
	To     uint64    `json:"to_seq"`
	Rows   int64     `json:"rows"`
	Bytes  int64     `json:"bytes"`
	SHA256 string    `json:"sha256"`
}

// Issuer is a ride-code issuer's public key.
type Issuer struct {
	ID        uint16 `json:"id"`
	PublicKey []byte `json:"public_key"`
}

// ManifestPolicy carries central's thresholds (durations in seconds).
type ManifestPolicy struct {
	NATWindowS        int64 `json:"nat_window_s"`
	CacheWarnAfterS   int64 `json:"cache_warn_after_s"`
	CacheManualAfterS int64 `json:"cache_manual_after_s"`
	QRSkewS           int64 `json:"qr_skew_s"`
}

// Manifest is the signed index of everything a station needs.
type Manifest struct {
	Version      int            `json:"version"`
	IssuedAt     time.Time      `json:"issued_at"`
	ServerTime   time.Time      `json:"server_time"`
	Seq          uint64         `json:"seq"` // head: segments + hot list cover up to here
	CardKeyID    string         `json:"card_key_id"`
	PersonShift  uint           `json:"person_shift"`
	SnapshotSeq  uint64         `json:"snapshot_seq"`
	Snapshot     []ChunkRef     `json:"snapshot"`
	SegmentsTo   uint64         `json:"segments_to"` // last seq covered by a closed segment
	Segments     []SegmentRef   `json:"segments"`
	CardDigests  []Digest       `json:"card_digests"`   // as of SegmentsTo
	PersonDigest []Digest       `json:"person_digests"` // as of SegmentsTo
	Issuers      []Issuer       `json:"qr_issuers"`
	Policy       ManifestPolicy `json:"policy"`
}

// Signed is the envelope of a manifest or hot list: the payload bytes, the
// signing key id and an Ed25519 signature over "stationdesk-sync-v1\n" +
// kind + "\n" + payload.
type Signed struct {
	Kind      string `json:"kind"` // "manifest" or "hot"
	KeyID     string `json:"key_id"`
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

func signInput(kind string, payload []byte) []byte {
	return append([]byte("stationdesk-sync-v1\n"+kind+"\n"), payload...)
}

// Sign wraps payload in a signed envelope.
func Sign(priv ed25519.PrivateKey, keyID, kind string, payload []byte) []byte {
	env := Signed{Kind: kind, KeyID: keyID, Payload: payload, Signature: ed25519.Sign(priv, signInput(kind, payload))}
	b, _ := json.Marshal(env)
	return b
}

// ErrSignature is returned when an envelope's signature does not verify
// with the pinned key or its kind is wrong.
var ErrSignature = errors.New("wire: bad signature")

// Open verifies an envelope against the pinned public key and returns its
// payload. The pinned key, not anything inside the envelope, decides trust.
func Open(pub ed25519.PublicKey, kind string, b []byte) ([]byte, error) {
	var env Signed
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if env.Kind != kind || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signInput(kind, env.Payload), env.Signature) {
		return nil, ErrSignature
	}
	return env.Payload, nil
}

// KeyID returns a short stable id of a public key (for logs and the GUI).
func KeyID(pub []byte) string {
	s := sha256.Sum256(pub)
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(s[:6]), "=")
}

// HotList is the payload of the hot list: risk-raising rows with seq in
// (From, To] not yet in a closed segment.
type HotList struct {
	IssuedAt time.Time `json:"issued_at"`
	From     uint64    `json:"from_seq"`
	To       uint64    `json:"to_seq"`
	Rows     []byte    `json:"rows"` // an encoded Segment
}
