// Package syncpub is the central side of the gate-cache sync: it turns the
// central rider data (a Source: card bindings, persons' health, a change
// feed) into the objects stations fetch — a signed manifest, key-sorted
// snapshot chunks with SHA-256 digests, per-minute delta segments and a
// signed hot list of risk-raising changes — and serves them over HTTP
// (Handler, mounted by the central simulator under /v1/sync/).
//
// It also generates a deterministic synthetic city for benchmarks
// (NewSynthetic) and issues demo ride-QR codes (Publisher.IssueQR).
//
// Card numbers arrive from the Source in clear and leave only as keyed
// hashes; nothing served here carries a name, an ID number or a card
// number.
package syncpub

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"time"

	"stationdesk/app"
	"stationdesk/offline/syncwire"
)

// CardBinding is a card bound to a person. Person is the opaque central
// person key (> 0). Unbound marks a removed binding in the change feed.
type CardBinding struct {
	CardNumber string
	Person     uint64
	Blocked    bool
	Unbound    bool
}

// PersonHealth is a person's health state (sensitive personal data).
type PersonHealth struct {
	Person       uint64
	Color        app.HealthColor
	LastNegative time.Time
}

// Change is one entry of the central change feed; exactly one of Card and
// Person is set. Seq is global and strictly increasing.
type Change struct {
	Seq    uint64
	At     time.Time
	Card   *CardBinding
	Person *PersonHealth
}

// Source is what the central backend (or its simulator) gives the
// publisher.
type Source interface {
	// Snapshot calls card for every current binding and person for every
	// person, in any order, consistently as of the returned seq.
	Snapshot(ctx context.Context, card func(CardBinding) error, person func(PersonHealth) error) (seq uint64, err error)
	// Changes calls fn for every change with seq > after, in ascending
	// seq order, and returns the head seq it read up to.
	Changes(ctx context.Context, after uint64, fn func(Change) error) (head uint64, err error)
}

// Keys are the publisher's secrets. The station pins ManifestPublic; the
// card key reaches the station over the authenticated central link (here:
// GET /cardkey) and is kept outside the cache file.
type Keys struct {
	ManifestPrivate ed25519.PrivateKey
	ManifestPublic  ed25519.PublicKey
	CardKey         []byte
	CardKeyID       string
	QRIssuer        uint16
	QRPrivate       ed25519.PrivateKey
	QRPublic        ed25519.PublicKey
}

func seedKey(label string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("stationdesk demo key: " + label))
	return ed25519.NewKeyFromSeed(s[:])
}

// DemoKeys returns fixed, public demo keys (the same on every machine, so a
// demo station can pin the demo manifest key). Never use them in
// production.
func DemoKeys() Keys {
	m := seedKey("manifest")
	q := seedKey("ride-qr issuer 1")
	ck := sha256.Sum256([]byte("stationdesk demo card-hash key v1"))
	return Keys{
		ManifestPrivate: m, ManifestPublic: m.Public().(ed25519.PublicKey),
		CardKey: ck[:], CardKeyID: "demo-1",
		QRIssuer: 1, QRPrivate: q, QRPublic: q.Public().(ed25519.PublicKey),
	}
}

// rowFromBinding converts a binding to a wire row.
func rowFromBinding(key []byte, b CardBinding, seq uint64) syncwire.Card {
	r := syncwire.Card{Hash: syncwire.HashCard(key, b.CardNumber), Person: b.Person, Seq: seq}
	if b.Blocked {
		r.Flags |= syncwire.FlagBlocked
	}
	if b.Unbound {
		r.Flags |= syncwire.FlagDeleted
	}
	return r
}

func rowFromPerson(p PersonHealth, seq uint64) syncwire.Person {
	return syncwire.Person{Person: p.Person, Color: syncwire.ColorCode(p.Color), TestMin: syncwire.TestMinutes(p.LastNegative), Seq: seq}
}
