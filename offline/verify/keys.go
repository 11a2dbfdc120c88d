package verify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
)

// KeyStore holds the gates' 256-bit keys and the service mode in one small
// JSON file (0600, written atomically). Each gate may have two active keys
// so a rotation needs no downtime; a revoked gate has none. Keys live
// outside every database file. Safe for concurrent use.
//
// Open question (docs/operations.md, keys): encrypting this file with a key from
// the OS key store; today it relies on file permissions and disk
// encryption.
type KeyStore struct {
	path string
	mu   sync.RWMutex
	st   keyState
	now  func() time.Time
	// active is the parsed, read-only view of the active keys the verify
	// path reads without a lock; every change publishes a new one.
	active atomic.Pointer[map[string][]*gateKey]
}

type storedKey struct {
	ID      int       `json:"id"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

type storedGate struct {
	ID      string      `json:"id"`
	Keys    []storedKey `json:"keys"`
	Revoked bool        `json:"revoked"`
	NextKey int         `json:"next_key"`
}

type keyState struct {
	Mode  app.GateMode           `json:"mode"`
	Gates map[string]*storedGate `json:"gates"`
}

// OpenKeyStore loads (or creates) the key file.
func OpenKeyStore(path string, clock app.Clock) (*KeyStore, error) {
	ks := &KeyStore{path: path, now: clock.Now, st: keyState{Mode: app.ModeTest, Gates: map[string]*storedGate{}}}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		ks.publishLocked()
		return ks, ks.saveLocked()
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &ks.st); err != nil {
		return nil, fmt.Errorf("gate key file: %w", err)
	}
	if ks.st.Gates == nil {
		ks.st.Gates = map[string]*storedGate{}
	}
	if !ks.st.Mode.Valid() {
		ks.st.Mode = app.ModeTest
	}
	ks.publishLocked()
	return ks, nil
}

// publishLocked rebuilds the lock-free view of the active keys (called with
// mu held for writing, or before the store is shared). Pools of keyed HMAC
// states are kept for keys that stay active.
func (ks *KeyStore) publishLocked() {
	var old map[string][]*gateKey
	if p := ks.active.Load(); p != nil {
		old = *p
	}
	m := make(map[string][]*gateKey, len(ks.st.Gates))
	for id, g := range ks.st.Gates {
		if g.Revoked {
			continue
		}
		for _, sk := range g.Keys {
			k, err := app.ParseGateKey(sk.Key)
			if err != nil {
				continue
			}
			var gk *gateKey
			for _, o := range old[id] {
				if o.key == k {
					gk = o
				}
			}
			if gk == nil {
				gk = newGateKey(k)
			}
			m[id] = append(m[id], gk)
		}
	}
	ks.active.Store(&m)
}

// activeKeys returns the gate's active keys (nil for unknown or revoked
// gates) without locking. The slice is shared: do not modify it.
func (ks *KeyStore) activeKeys(gate string) []*gateKey {
	p := ks.active.Load()
	if p == nil {
		return nil
	}
	return (*p)[gate]
}

// saveLocked writes the file. The lock-free key view is republished by the
// mutators (deferred), after a failed save has been reverted too.
func (ks *KeyStore) saveLocked() error {
	b, err := json.MarshalIndent(ks.st, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(ks.path, b, 0o600)
}

// Keys returns a gate's active keys (nil for unknown or revoked gates).
func (ks *KeyStore) Keys(gate string) []app.GateKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	g := ks.st.Gates[gate]
	if g == nil || g.Revoked {
		return nil
	}
	out := make([]app.GateKey, 0, len(g.Keys))
	for _, k := range g.Keys {
		if key, err := app.ParseGateKey(k.Key); err == nil {
			out = append(out, key)
		}
	}
	return out
}

// Mode returns the stored mode.
func (ks *KeyStore) Mode() app.GateMode {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.st.Mode
}

// SetMode stores the mode.
func (ks *KeyStore) SetMode(m app.GateMode) error {
	if !m.Valid() {
		return app.NewError(app.CodeInvalid, "gate_mode", "模式无效", "invalid gate mode")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := ks.st.Mode
	ks.st.Mode = m
	if err := ks.saveLocked(); err != nil {
		ks.st.Mode = old
		return err
	}
	return nil
}

func newKeyHex() string {
	var k [app.GateKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic("verify: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(k[:])
}

// Add creates a gate with a fresh key and returns the key (hex) — the only
// time it is ever shown. Adding an existing, non-revoked gate is
// CodeConflict; adding a revoked gate re-commissions it with a new key.
func (ks *KeyStore) Add(id string) (string, error) {
	if !app.ValidGateID(id) {
		return "", app.NewError(app.CodeInvalid, "gate_id", "闸机编号无效（1–32 位小写字母、数字或 -）", "invalid gate id (1–32 of a-z, 0-9, -)")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer ks.publishLocked()
	if g := ks.st.Gates[id]; g != nil && !g.Revoked {
		return "", app.NewError(app.CodeConflict, "gate_exists", "闸机已存在", "gate already exists")
	}
	key := newKeyHex()
	g := &storedGate{ID: id, NextKey: 2, Keys: []storedKey{{ID: 1, Key: key, Created: ks.now()}}}
	if old := ks.st.Gates[id]; old != nil {
		g.NextKey = old.NextKey + 1
		g.Keys[0].ID = old.NextKey
	}
	prev := ks.st.Gates[id]
	ks.st.Gates[id] = g
	if err := ks.saveLocked(); err != nil {
		ks.st.Gates[id] = prev
		return "", err
	}
	return key, nil
}

// Rotate adds a new key to a gate; the previous key stays valid (two
// active keys) until the next rotation, so the gate can be re-keyed while
// it keeps working.
func (ks *KeyStore) Rotate(id string) (string, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer ks.publishLocked()
	g := ks.st.Gates[id]
	if g == nil || g.Revoked {
		return "", app.NewError(app.CodeNotFound, "gate_unknown", "闸机不存在或已吊销", "gate unknown or revoked")
	}
	prev := slices.Clone(g.Keys)
	key := newKeyHex()
	g.Keys = append(g.Keys, storedKey{ID: g.NextKey, Key: key, Created: ks.now()})
	g.NextKey++
	if len(g.Keys) > 2 {
		g.Keys = g.Keys[len(g.Keys)-2:]
	}
	if err := ks.saveLocked(); err != nil {
		g.Keys = prev
		g.NextKey--
		return "", err
	}
	return key, nil
}

// Revoke removes all of a gate's keys; its requests get 401 from now on.
func (ks *KeyStore) Revoke(id string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer ks.publishLocked()
	g := ks.st.Gates[id]
	if g == nil {
		return app.NewError(app.CodeNotFound, "gate_unknown", "闸机不存在", "gate unknown")
	}
	prev := *g
	g.Revoked, g.Keys = true, nil
	if err := ks.saveLocked(); err != nil {
		*g = prev
		return err
	}
	return nil
}

// Gates lists the gates sorted by id (no key material).
func (ks *KeyStore) Gates() []app.GateInfo {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := make([]app.GateInfo, 0, len(ks.st.Gates))
	for _, g := range ks.st.Gates {
		gi := app.GateInfo{ID: g.ID, Revoked: g.Revoked}
		for _, k := range g.Keys {
			gi.KeyIDs = append(gi.KeyIDs, k.ID)
		}
		out = append(out, gi)
	}
	slices.SortFunc(out, func(a, b app.GateInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// ImportKey sets a gate's single key from hex (demo mode and provisioning
// tools); it replaces existing keys and clears a revocation.
func (ks *KeyStore) ImportKey(id, keyHex string) error {
	if !app.ValidGateID(id) {
		return app.NewError(app.CodeInvalid, "gate_id", "闸机编号无效", "invalid gate id")
	}
	if _, err := app.ParseGateKey(keyHex); err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer ks.publishLocked()
	prev := ks.st.Gates[id]
	ks.st.Gates[id] = &storedGate{ID: id, NextKey: 2, Keys: []storedKey{{ID: 1, Key: keyHex, Created: ks.now()}}}
	if err := ks.saveLocked(); err != nil {
		ks.st.Gates[id] = prev
		return err
	}
	return nil
}
