package app

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// LedgerCheckpoint is a station's signed audit-chain head: the newest
// entry's seq and chain hash, signed with the station's Ed25519 key. The
// ledger writes it beside ledger.db after every commit, and the forwarder
// sends it to central with the records, so the anchors of the chain live
// outside the station too: a ledger later wiped, truncated, rolled back or
// replaced no longer reaches a checkpoint central holds. It holds no
// personal data.
type LedgerCheckpoint struct {
	KeyID     string `json:"key_id"`     // the station key set's ID
	PublicKey string `json:"public_key"` // base64 Ed25519 public key
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`    // hex, the chain hash of entry Seq
	Written   string `json:"written"` // RFC 3339 with nanoseconds, UTC
	Sig       string `json:"sig"`     // base64 Ed25519 over CheckpointMessage
}

// CheckpointMessage is the byte string a checkpoint's signature covers.
func CheckpointMessage(keyID string, seq int64, hashHex, written string) []byte {
	return []byte("stationdesk-checkpoint-v1\n" + keyID + "\n" + strconv.FormatInt(seq, 10) + "\n" + hashHex + "\n" + written)
}

// Verify checks the checkpoint's form and that Sig is PublicKey's
// signature over it. It says nothing about whose key it is: central pins
// a station's key at its first checkpoint.
func (c LedgerCheckpoint) Verify() error {
	pub, err := base64.StdEncoding.DecodeString(c.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return errors.New("checkpoint: bad public key")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("checkpoint: bad signature encoding")
	}
	if h, err := hex.DecodeString(c.Hash); err != nil || len(h) != 32 {
		return errors.New("checkpoint: bad hash")
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Written); err != nil {
		return errors.New("checkpoint: bad time")
	}
	if id, err := hex.DecodeString(c.KeyID); err != nil || len(id) != 4 || c.Seq < 0 {
		return errors.New("checkpoint: bad key id or seq")
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), CheckpointMessage(c.KeyID, c.Seq, c.Hash, c.Written), sig) {
		return errors.New("checkpoint: signature does not verify")
	}
	return nil
}
