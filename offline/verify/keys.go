package verify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
	"stationdesk/offline/filelock"
)

// KeyStore is the gate registry: the gates' 256-bit keys and the service
// mode in one small JSON file (0600, written atomically). Each gate may
// have two active keys so a rotation needs no downtime; a revoked gate has
// none. Keys live outside every database file and, when the store is
// opened with a seal key (RegistryKey, derived from the station key), are
// encrypted in the file with AES-256-GCM; a file with clear keys is
// rewritten sealed on first open.
//
// Several processes may share the file (the desk or `serve`, and the
// `stationdesk gates` command): every change takes an exclusive lock on
// FILE.lock, re-reads the file, applies the change and writes it; Reload
// picks up another process's change. Safe for concurrent use.
type KeyStore struct {
	path string
	seal cipher.AEAD // nil: keys in clear (tests, benchmarks)
	mu   sync.RWMutex
	st   keyState
	now  func() time.Time
	// stamp identifies the file version last read or written (Reload).
	stamp fileStamp
	// active is the parsed, read-only view of the active keys the verify
	// path reads without a lock; every change publishes a new one.
	active atomic.Pointer[map[string][]*gateKey]
	// Migrated is true when Open found clear keys and sealed them.
	Migrated  bool
	clearSeen bool // the last read found a key in clear
}

type storedKey struct {
	ID      int       `json:"id"`
	Key     string    `json:"key,omitempty"`    // clear hex (stores without a seal key only)
	Sealed  string    `json:"sealed,omitempty"` // base64(nonce | AES-GCM(hex key))
	Created time.Time `json:"created"`
}

type storedGate struct {
	ID      string      `json:"id"`
	Keys    []storedKey `json:"keys"`
	Revoked bool        `json:"revoked"`
	NextKey int         `json:"next_key"`
}

// Mode sources (keyState.ModeSource): who set the mode in force.
const (
	// ModeFromConfig: the mode follows the configuration's mode at every
	// start until an operator sets one.
	ModeFromConfig = "config"
	// ModeFromOperator: an operator set the mode (`stationdesk gates mode`
	// or the desk's Gates screen); the registry is authoritative and the
	// configuration's mode is ignored.
	ModeFromOperator = "operator"
)

type keyState struct {
	Version    int                    `json:"version"`
	Mode       app.GateMode           `json:"mode"`
	ModeSource string                 `json:"mode_source,omitempty"`
	Gates      map[string]*storedGate `json:"gates"`
}

const registryVersion = 2

// RegistryKey derives the registry's seal key from the station's
// encryption key (HKDF-SHA256, its own label, so it never equals a key
// used for anything else).
func RegistryKey(stationEnc [32]byte) [32]byte {
	b, err := hkdf.Key(sha256.New, stationEnc[:], nil, "stationdesk gate registry v1", 32)
	if err != nil {
		panic("verify: hkdf: " + err.Error())
	}
	return [32]byte(b)
}

// KeyStoreOptions configure OpenRegistry.
type KeyStoreOptions struct {
	Clock app.Clock
	// Seal, when set, encrypts the keys in the file (RegistryKey of the
	// station key). Without it the file must hold clear keys.
	Seal *[32]byte
	// Mode is the mode of a registry created now (default test).
	Mode app.GateMode
}

// OpenKeyStore loads (or creates) a key file with clear keys (tests and
// benchmarks; the station opens it with OpenRegistry and a seal key).
func OpenKeyStore(path string, clock app.Clock) (*KeyStore, error) {
	return OpenRegistry(path, KeyStoreOptions{Clock: clock})
}

// OpenRegistry loads (or creates) the gate registry at path. A file with
// clear keys is sealed when o.Seal is set; a sealed file without o.Seal,
// or with another station's key, is refused (CodeInternal
// "registry_sealed" / "registry_key").
func OpenRegistry(path string, o KeyStoreOptions) (*KeyStore, error) {
	if o.Clock == nil {
		o.Clock = app.SystemClock{}
	}
	if o.Mode == "" {
		o.Mode = app.ModeTest
	}
	ks := &KeyStore{path: path, now: o.Clock.Now}
	if o.Seal != nil {
		blk, _ := aes.NewCipher(o.Seal[:])
		ks.seal, _ = cipher.NewGCM(blk)
	}
	var err error
	unlock, err := filelock.Acquire(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, stamp, found, err := ks.read()
	if err != nil {
		return nil, err
	}
	if !found {
		ks.st = keyState{Version: registryVersion, Mode: o.Mode, ModeSource: ModeFromConfig, Gates: map[string]*storedGate{}}
		ks.publishLocked()
		return ks, ks.saveLocked()
	}
	ks.st, ks.stamp = st, stamp
	if ks.seal != nil {
		ks.Migrated = ks.clearSeen
		if ks.Migrated || st.Version != registryVersion {
			if err := ks.saveLocked(); err != nil {
				return nil, err
			}
		}
	}
	ks.publishLocked()
	return ks, nil
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// read parses the file; found is false when it does not exist.
func (ks *KeyStore) read() (keyState, fileStamp, bool, error) {
	var st keyState
	ks.clearSeen = false
	fi, err := os.Stat(ks.path)
	if os.IsNotExist(err) {
		return st, fileStamp{}, false, nil
	}
	if err != nil {
		return st, fileStamp{}, false, err
	}
	b, err := os.ReadFile(ks.path)
	if err != nil {
		return st, fileStamp{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fileStamp{}, false, app.WrapError(err, app.CodeInternal, "registry_bad", "闸机登记文件已损坏", "the gate registry file is damaged")
	}
	if st.Gates == nil {
		st.Gates = map[string]*storedGate{}
	}
	if !st.Mode.Valid() {
		st.Mode = app.ModeTest
	}
	for id, g := range st.Gates {
		for i := range g.Keys {
			k := &g.Keys[i]
			if k.Sealed == "" {
				ks.clearSeen = true
				continue
			}
			if ks.seal == nil {
				return st, fileStamp{}, false, app.NewError(app.CodeInternal, "registry_sealed",
					"闸机密钥已用站点密钥加密，需要站点密钥文件", "the gate keys are encrypted with the station key; the station key file is needed")
			}
			clear, err := ks.openKey(id, k.ID, k.Sealed)
			if err != nil {
				return st, fileStamp{}, false, app.WrapError(err, app.CodeInternal, "registry_key",
					"闸机密钥无法用本站点密钥解密（另一站点的文件或已被改动）", "the gate keys do not open with this station's key (another station's file, or altered)")
			}
			k.Key, k.Sealed = clear, ""
		}
	}
	return st, fileStamp{fi.ModTime(), fi.Size()}, true, nil
}

func sealAAD(gate string, keyID int) []byte {
	return fmt.Appendf(nil, "stationdesk gate key\x00%s\x00%d", gate, keyID)
}

func (ks *KeyStore) sealKey(gate string, keyID int, hexKey string) string {
	nonce := make([]byte, ks.seal.NonceSize(), ks.seal.NonceSize()+len(hexKey)+ks.seal.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("verify: crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(ks.seal.Seal(nonce, nonce, []byte(hexKey), sealAAD(gate, keyID)))
}

func (ks *KeyStore) openKey(gate string, keyID int, sealed string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < ks.seal.NonceSize()+ks.seal.Overhead() {
		return "", errors.New("sealed key: bad encoding")
	}
	n := ks.seal.NonceSize()
	p, err := ks.seal.Open(nil, b[:n], b[n:], sealAAD(gate, keyID))
	if err != nil {
		return "", err
	}
	if _, err := app.ParseGateKey(string(p)); err != nil {
		return "", err
	}
	return string(p), nil
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

// saveLocked writes the file (keys sealed when the store has a seal key).
func (ks *KeyStore) saveLocked() error {
	out := keyState{Version: registryVersion, Mode: ks.st.Mode, ModeSource: ks.st.ModeSource, Gates: make(map[string]*storedGate, len(ks.st.Gates))}
	for id, g := range ks.st.Gates {
		cg := *g
		cg.Keys = slices.Clone(g.Keys)
		if ks.seal != nil {
			for i := range cg.Keys {
				cg.Keys[i].Sealed, cg.Keys[i].Key = ks.sealKey(id, cg.Keys[i].ID, cg.Keys[i].Key), ""
			}
		}
		out.Gates[id] = &cg
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(ks.path, b, 0o600); err != nil {
		return err
	}
	ks.st.Version = registryVersion
	if fi, err := os.Stat(ks.path); err == nil {
		ks.stamp = fileStamp{fi.ModTime(), fi.Size()}
	}
	return nil
}

// update applies fn to the registry as it is on disk now, under the file
// lock, and writes the result; on an error from fn or the write, memory
// keeps the state read from disk.
func (ks *KeyStore) update(fn func(st *keyState) error) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer ks.publishLocked()
	unlock, err := filelock.Acquire(ks.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	st, stamp, found, err := ks.read()
	if err != nil {
		return err
	}
	if found {
		ks.st, ks.stamp = st, stamp
	}
	work := cloneState(ks.st)
	if err := fn(&work); err != nil {
		return err
	}
	prev := ks.st
	ks.st = work
	if err := ks.saveLocked(); err != nil {
		ks.st = prev
		return err
	}
	return nil
}

func cloneState(s keyState) keyState {
	c := s
	c.Gates = make(map[string]*storedGate, len(s.Gates))
	for id, g := range s.Gates {
		cg := *g
		cg.Keys = slices.Clone(g.Keys)
		c.Gates[id] = &cg
	}
	return c
}

// Reload re-reads the file if another process changed it and reports
// whether it did. A file that cannot be read leaves the registry as it was
// (and returns the error).
func (ks *KeyStore) Reload() (bool, error) {
	fi, err := os.Stat(ks.path)
	if err != nil {
		return false, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if (fileStamp{fi.ModTime(), fi.Size()}) == ks.stamp {
		return false, nil
	}
	st, stamp, found, err := ks.read()
	if err != nil || !found {
		return false, err
	}
	ks.st, ks.stamp = st, stamp
	ks.publishLocked()
	return true, nil
}

// Sealed reports whether the keys are encrypted at rest.
func (ks *KeyStore) Sealed() bool { return ks.seal != nil }

// Path is the registry file.
func (ks *KeyStore) Path() string { return ks.path }

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

// ModeSource says who set the mode in force (ModeFromConfig or
// ModeFromOperator).
func (ks *KeyStore) ModeSource() string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if ks.st.ModeSource == "" {
		return ModeFromConfig
	}
	return ks.st.ModeSource
}

// SetMode stores a mode set by an operator: from now on the registry's
// mode is authoritative and the configuration's is ignored.
func (ks *KeyStore) SetMode(m app.GateMode) error {
	if !m.Valid() {
		return app.NewError(app.CodeInvalid, "gate_mode", "模式无效", "invalid gate mode")
	}
	return ks.update(func(st *keyState) error {
		st.Mode, st.ModeSource = m, ModeFromOperator
		return nil
	})
}

// ApplyConfigMode is called at start with the configuration's mode: it is
// taken unless an operator has set the mode. It returns the mode in force
// and whether it came from the configuration.
func (ks *KeyStore) ApplyConfigMode(m app.GateMode) (app.GateMode, bool, error) {
	if ks.ModeSource() == ModeFromOperator || !m.Valid() {
		return ks.Mode(), false, nil
	}
	if ks.Mode() == m {
		return m, true, nil
	}
	err := ks.update(func(st *keyState) error {
		if st.ModeSource == ModeFromOperator {
			return nil
		}
		st.Mode, st.ModeSource = m, ModeFromConfig
		return nil
	})
	return ks.Mode(), ks.ModeSource() == ModeFromConfig, err
}

func newKeyHex() string {
	var k [app.GateKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic("verify: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(k[:])
}

var errBadGateID = app.NewError(app.CodeInvalid, "gate_id", "闸机编号无效（1–32 位小写字母、数字或 -）", "invalid gate id (1–32 of a-z, 0-9, -)")

// Add creates a gate with a fresh key and returns the key (hex) — the only
// time it is ever shown. Adding an existing, non-revoked gate is
// CodeConflict; adding a revoked gate re-commissions it with a new key.
func (ks *KeyStore) Add(id string) (string, error) {
	key, _, err := ks.AddKey(id)
	return key, err
}

// AddKey is Add that also returns the new key's id.
func (ks *KeyStore) AddKey(id string) (string, int, error) {
	if !app.ValidGateID(id) {
		return "", 0, errBadGateID
	}
	key := newKeyHex()
	kid := 1
	err := ks.update(func(st *keyState) error {
		old := st.Gates[id]
		if old != nil && !old.Revoked {
			return app.NewError(app.CodeConflict, "gate_exists", "闸机已存在", "gate already exists")
		}
		g := &storedGate{ID: id, NextKey: 2, Keys: []storedKey{{ID: 1, Key: key, Created: ks.now()}}}
		if old != nil {
			g.NextKey = old.NextKey + 1
			g.Keys[0].ID = old.NextKey
		}
		kid = g.Keys[0].ID
		st.Gates[id] = g
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return key, kid, nil
}

// Rotate adds a new key to a gate; the previous key stays valid (two
// active keys) until the next rotation, so the gate can be re-keyed while
// it keeps working.
func (ks *KeyStore) Rotate(id string) (string, error) {
	key, _, err := ks.RotateKey(id)
	return key, err
}

// RotateKey is Rotate that also returns the new key's id.
func (ks *KeyStore) RotateKey(id string) (string, int, error) {
	key := newKeyHex()
	kid := 0
	err := ks.update(func(st *keyState) error {
		g := st.Gates[id]
		if g == nil || g.Revoked {
			return app.NewError(app.CodeNotFound, "gate_unknown", "闸机不存在或已吊销", "gate unknown or revoked")
		}
		kid = g.NextKey
		g.Keys = append(g.Keys, storedKey{ID: g.NextKey, Key: key, Created: ks.now()})
		g.NextKey++
		if len(g.Keys) > 2 {
			g.Keys = g.Keys[len(g.Keys)-2:]
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return key, kid, nil
}

// Revoke removes all of a gate's keys; its requests get 401 from now on.
func (ks *KeyStore) Revoke(id string) error {
	return ks.update(func(st *keyState) error {
		g := st.Gates[id]
		if g == nil {
			return app.NewError(app.CodeNotFound, "gate_unknown", "闸机不存在", "gate unknown")
		}
		g.Revoked, g.Keys = true, nil
		return nil
	})
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
		return errBadGateID
	}
	if _, err := app.ParseGateKey(keyHex); err != nil {
		return err
	}
	return ks.update(func(st *keyState) error {
		st.Gates[id] = &storedGate{ID: id, NextKey: 2, Keys: []storedKey{{ID: 1, Key: keyHex, Created: ks.now()}}}
		return nil
	})
}
