package ledger

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
)

// KeyFileName is the station key file inside the key folder.
const KeyFileName = "station-keys.json"

// Keys are the station's secret keys, 256 bits each, kept apart by purpose
// (docs/storage-privacy.md "Station keys"): Enc seals personal fields (AES-256-GCM), Index makes
// blind-index tokens (app.NewTokenizer(keys.Index[:])), Audit keys the
// audit hash chain (HMAC-SHA256). ID names the key set inside sealed
// values so a later rotation can tell generations apart.
//
// Keys never go into a database file. LoadOrCreateKeys keeps them in a
// 0600 file in the data folder, which protects them only as well as the
// operating-system account does; production should inject them from an OS
// key store (Windows DPAPI/TPM, Linux kernel keyring/TPM) or an operator
// credential at start, and may add full-disk encryption.
type Keys struct {
	ID    string // 8 hex characters
	Enc   [32]byte
	Index [32]byte
	Audit [32]byte
}

// String does not print key material.
func (k *Keys) String() string { return "ledger.Keys{" + k.ID + "}" }

// GoString does not print key material.
func (k *Keys) GoString() string { return k.String() }

type keyFile struct {
	Version int    `json:"version"`
	ID      string `json:"key_id"`
	Created string `json:"created"`
	Enc     string `json:"enc"`
	Index   string `json:"index"`
	Audit   string `json:"audit"`
}

// NewKeys returns a fresh random key set.
func NewKeys() (*Keys, error) {
	var k Keys
	var id [4]byte
	for _, b := range [][]byte{id[:], k.Enc[:], k.Index[:], k.Audit[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ledger: random keys: %w", err)
		}
	}
	k.ID = hex.EncodeToString(id[:])
	return &k, nil
}

func errKeys(reason, zh, en string, cause error) error {
	return app.WrapError(cause, app.CodeInternal, reason, zh, en)
}

// LoadKeys reads dir/station-keys.json. A missing file is CodeNotFound
// "keys_missing"; a file readable by group or others (on Unix) is
// CodeInternal "key_file_mode"; a malformed one "key_file_bad".
func LoadKeys(dir string) (*Keys, error) {
	path := filepath.Join(dir, KeyFileName)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, app.WrapError(err, app.CodeNotFound, "keys_missing",
			fmt.Sprintf("找不到站点密钥文件：%s。", path),
			fmt.Sprintf("Station key file not found: %s.", path))
	}
	if err != nil {
		return nil, errKeys("key_file_bad", fmt.Sprintf("无法读取站点密钥文件：%s。", path), fmt.Sprintf("Cannot read the station key file: %s.", path), err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, errKeys("key_file_mode",
			fmt.Sprintf("站点密钥文件权限过宽（%s，应为 0600）：%s。", st.Mode().Perm(), path),
			fmt.Sprintf("Station key file is readable by others (%s, want 0600): %s.", st.Mode().Perm(), path), nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errKeys("key_file_bad", fmt.Sprintf("无法读取站点密钥文件：%s。", path), fmt.Sprintf("Cannot read the station key file: %s.", path), err)
	}
	k, err := parseKeyFile(b)
	if err != nil {
		return nil, errKeys("key_file_bad", fmt.Sprintf("站点密钥文件已损坏：%s。", path), fmt.Sprintf("Station key file is damaged: %s.", path), err)
	}
	return k, nil
}

func parseKeyFile(b []byte) (*Keys, error) {
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("key file: version %d", f.Version)
	}
	if id, err := hex.DecodeString(f.ID); err != nil || len(id) != 4 {
		return nil, errors.New("key file: bad key_id")
	}
	k := &Keys{ID: f.ID}
	for _, p := range []struct {
		s   string
		dst *[32]byte
	}{{f.Enc, &k.Enc}, {f.Index, &k.Index}, {f.Audit, &k.Audit}} {
		raw, err := base64.StdEncoding.DecodeString(p.s)
		if err != nil || len(raw) != 32 {
			return nil, errors.New("key file: a key is not 32 bytes of base64")
		}
		copy(p.dst[:], raw)
	}
	return k, nil
}

// LoadOrCreateKeys returns the keys in dir, creating them on first use.
// The file is written atomically (temp file in dir, fsync, rename, fsync
// of dir) with mode 0600, so a crash leaves either no key file or a
// complete one. Errors as LoadKeys.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	k, err := LoadKeys(dir)
	if app.ErrorReason(err) != "keys_missing" {
		return k, err
	}
	k, err = NewKeys()
	if err != nil {
		return nil, err
	}
	f := keyFile{
		Version: 1, ID: k.ID, Created: time.Now().UTC().Format(time.RFC3339),
		Enc:   base64.StdEncoding.EncodeToString(k.Enc[:]),
		Index: base64.StdEncoding.EncodeToString(k.Index[:]),
		Audit: base64.StdEncoding.EncodeToString(k.Audit[:]),
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	path := filepath.Join(dir, KeyFileName)
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return nil, errKeys("key_file_write",
			fmt.Sprintf("无法写入站点密钥文件：%s。", path),
			fmt.Sprintf("Cannot write the station key file: %s.", path), err)
	}
	return LoadKeys(dir)
}

// Sealed values: version byte 1 | key ID (4 bytes) | 12-byte nonce |
// AES-256-GCM ciphertext and tag. The additional data binds the value to
// its table, column and row key, so a ciphertext moved to another row or
// column does not open.
const sealVersion = 1

func aad(table, column, rowKey string) []byte {
	return []byte("stationdesk\x00" + table + "\x00" + column + "\x00" + rowKey)
}

func (k *Keys) gcm() cipher.AEAD {
	block, err := aes.NewCipher(k.Enc[:])
	if err != nil {
		panic(err) // 32-byte key: cannot happen
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// Seal encrypts plaintext for (table, column, rowKey) with a random nonce.
func (k *Keys) Seal(plaintext []byte, table, column, rowKey string) ([]byte, error) {
	id, _ := hex.DecodeString(k.ID)
	out := make([]byte, 1+4+12, 1+4+12+len(plaintext)+16)
	out[0] = sealVersion
	copy(out[1:5], id)
	if _, err := rand.Read(out[5:17]); err != nil {
		return nil, fmt.Errorf("ledger: nonce: %w", err)
	}
	return k.gcm().Seal(out, out[5:17], plaintext, aad(table, column, rowKey)), nil
}

// Open decrypts a value sealed for (table, column, rowKey). Any damage,
// wrong key or wrong place is CodeInternal "sealed_value" (the value is
// never quoted).
func (k *Keys) Open(sealed []byte, table, column, rowKey string) ([]byte, error) {
	bad := func(why string) error {
		return app.WrapError(errors.New("ledger: sealed value: "+why), app.CodeInternal, "sealed_value",
			"加密数据无法解开（密钥不符或数据已损坏）。", "Encrypted data cannot be opened (wrong key or damaged data).")
	}
	if len(sealed) < 1+4+12+16 {
		return nil, bad("too short")
	}
	if sealed[0] != sealVersion {
		return nil, bad("unknown version")
	}
	if hex.EncodeToString(sealed[1:5]) != k.ID {
		return nil, bad("sealed under another key set")
	}
	pt, err := k.gcm().Open(nil, sealed[5:17], sealed[17:], aad(table, column, rowKey))
	if err != nil {
		return nil, bad("authentication failed")
	}
	return pt, nil
}

// auditMAC is HMAC-SHA256 under the audit key over the parts, each
// length-prefixed.
func (k *Keys) auditMAC(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.Audit[:])
	for _, p := range parts {
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		m.Write(l[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

// derive is HMAC-SHA256 under the audit key over a purpose label: keys
// for other purposes that live in the same 0600 key file (never in a
// database file) without changing its format.
func (k *Keys) derive(label string) []byte {
	m := hmac.New(sha256.New, k.Audit[:])
	m.Write([]byte("stationdesk-derive-v1\x00" + label))
	return m.Sum(nil)
}

// SigningKey is the station's Ed25519 key that signs the ledger
// checkpoint (checkpoint.go); its public half goes into the checkpoint so
// central can pin it.
func (k *Keys) SigningKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(k.derive("checkpoint-signing")[:ed25519.SeedSize])
}

// PINKey keys PIN hashes (operators.go): without the key file, a copied
// ledger gives nothing to guess PINs against.
func (k *Keys) PINKey() []byte { return k.derive("pin-pepper") }

// PendingKey authenticates the items of pending.db (the upgrades queued
// while central was down, offline/outbox/upgrades): without the key file
// an edited item cannot be given a valid MAC.
func (k *Keys) PendingKey() []byte { return k.derive("pending-mac") }
