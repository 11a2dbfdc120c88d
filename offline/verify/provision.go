package verify

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"stationdesk/app"
)

// ProvisioningFormat names the provisioning file a gate imports.
const ProvisioningFormat = "stationdesk-gate-provisioning/1"

// Provisioning is the file `stationdesk gates add|rotate` writes for one
// gate (docs/gate-contract.md "Keys and provisioning"). It holds the gate's secret
// key: it is written 0600 and should be deleted once the gate has it.
type Provisioning struct {
	Format    string `json:"format"`
	StationID string `json:"station_id"`
	GateID    string `json:"gate_id"`
	KeyID     int    `json:"key_id"`
	// Key is the gate key: 64 lower-case hex characters = 32 bytes; the
	// HMAC-SHA256 key for request and response signatures.
	Key string `json:"key"`
	// Endpoints are the station servers' base URLs, primary first; a gate
	// moves to the next only on a connect error or timeout.
	Endpoints []string     `json:"endpoints"`
	Mode      app.GateMode `json:"mode"`
	// ResponseSignature says how answers are signed: there is no server
	// public key; answers carry HMAC-SHA256 with the gate's own key.
	ResponseSignature string `json:"response_signature"`
	// TLSCertSHA256 is the pin of the station certificate (hex SHA-256 of
	// its DER bytes) when the endpoints are https.
	TLSCertSHA256 string    `json:"tls_cert_sha256,omitempty"`
	ClockWindowS  int       `json:"clock_window_s"`
	Created       time.Time `json:"created"`
}

// NewProvisioning fills the fixed fields.
func NewProvisioning(station, gate string, keyID int, key string, endpoints []string, mode app.GateMode, pin string, now time.Time) Provisioning {
	return Provisioning{Format: ProvisioningFormat, StationID: station, GateID: gate, KeyID: keyID, Key: key, Endpoints: endpoints, Mode: mode,
		ResponseSignature: "hmac-sha256-gate-key", TLSCertSHA256: pin, ClockWindowS: int(app.GateClockWindow / time.Second), Created: now.UTC()}
}

// QRPayload is what the provisioning QR code holds: the same JSON object
// as the provisioning file, without whitespace (json.Marshal of p), so a
// gate that reads the file reads the code with the same parser. Like the
// file, it holds the gate's secret key.
func (p Provisioning) QRPayload() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic("verify: provisioning json: " + err.Error()) // strings, ints and a time: cannot fail
	}
	return b
}

// ParseProvisioning reads and checks a provisioning file (indented, or the
// compact form of QRPayload).
func ParseProvisioning(b []byte) (Provisioning, app.GateKey, error) {
	var p Provisioning
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, app.GateKey{}, fmt.Errorf("provisioning file: %w", err)
	}
	if p.Format != ProvisioningFormat || !app.ValidGateID(p.GateID) || len(p.Endpoints) == 0 {
		return p, app.GateKey{}, errors.New("provisioning file: not a " + ProvisioningFormat + " file, or no gate id / endpoints")
	}
	k, err := app.ParseGateKey(p.Key)
	return p, k, err
}

// ---- export / import for a second station server ----

// BundleFormat names the registry export.
const BundleFormat = "stationdesk-gate-registry/1"

type bundleFile struct {
	Format    string    `json:"format"`
	StationID string    `json:"station_id"`
	Exported  time.Time `json:"exported"`
	Gates     []string  `json:"gates"` // ids, for reading without the passphrase
	KDF       struct {
		Salt      string `json:"salt"`
		Time      uint32 `json:"time"`
		MemoryKiB uint32 `json:"memory_kib"`
		Threads   uint8  `json:"threads"`
	} `json:"kdf"`
	// Sealed is base64(nonce | AES-256-GCM(registry JSON)) under
	// argon2id(passphrase, salt); the header above is the additional data,
	// so a changed header, body or passphrase makes the import refuse.
	Sealed string `json:"sealed"`
}

func bundleAAD(f bundleFile) []byte {
	return fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s\x00%s\x00%d\x00%d\x00%d", f.Format, f.StationID, f.Exported.UnixNano(), strings.Join(f.Gates, ","),
		f.KDF.Salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads)
}

func bundleAEAD(pass []byte, salt []byte, t, mem uint32, th uint8) cipher.AEAD {
	k := argon2.IDKey(pass, salt, t, mem, th, 32)
	blk, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(blk)
	return g
}

// MinPassphrase is the shortest transfer passphrase accepted.
const MinPassphrase = 16

// Export returns the registry (gates, keys, revocations, mode) encrypted
// and authenticated under the transfer passphrase, for `gates import` on
// the station's second server.
func (ks *KeyStore) Export(station string, pass []byte, now time.Time) ([]byte, error) {
	if len(pass) < MinPassphrase {
		return nil, app.NewError(app.CodeInvalid, "passphrase_short", fmt.Sprintf("传输口令至少 %d 个字符", MinPassphrase), fmt.Sprintf("the transfer passphrase needs at least %d characters", MinPassphrase))
	}
	ks.mu.RLock()
	st := cloneState(ks.st)
	ks.mu.RUnlock()
	plain, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	f := bundleFile{Format: BundleFormat, StationID: station, Exported: now.UTC(), Gates: slices.Sorted(maps.Keys(st.Gates))}
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	f.KDF.Salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads = base64.StdEncoding.EncodeToString(salt), 2, 64*1024, 1
	g := bundleAEAD(pass, salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads)
	f.Sealed = base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, plain, bundleAAD(f)))
	return json.MarshalIndent(f, "", " ")
}

// ImportResult says what an import did.
type ImportResult struct {
	StationID string
	Exported  time.Time
	Gates     int
	Mode      app.GateMode
}

// Import replaces the registry's gates, keys and mode with those of an
// export. A bundle of another station (station not empty and different),
// a wrong passphrase or any change to the file is refused
// (CodeInvalid "bundle_*"); nothing is changed then.
func (ks *KeyStore) Import(b []byte, station string, pass []byte) (ImportResult, error) {
	var f bundleFile
	bad := func(reason, zh, en string) (ImportResult, error) {
		return ImportResult{}, app.NewError(app.CodeInvalid, reason, zh, en)
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Format != BundleFormat {
		return bad("bundle_format", "不是闸机登记导出文件", "not a gate registry export")
	}
	if station != "" && f.StationID != station {
		return bad("bundle_station", "导出文件属于另一车站（"+f.StationID+"）", "the export belongs to another station ("+f.StationID+")")
	}
	salt, err1 := base64.StdEncoding.DecodeString(f.KDF.Salt)
	raw, err2 := base64.StdEncoding.DecodeString(f.Sealed)
	if err1 != nil || err2 != nil || len(raw) < 12+16 || f.KDF.Time == 0 || f.KDF.Time > 8 || f.KDF.MemoryKiB < 8*1024 || f.KDF.MemoryKiB > 1<<20 || f.KDF.Threads == 0 {
		return bad("bundle_format", "导出文件格式错误", "the export is malformed")
	}
	g := bundleAEAD(pass, salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads)
	plain, err := g.Open(nil, raw[:12], raw[12:], bundleAAD(f))
	if err != nil {
		return bad("bundle_auth", "口令错误或导出文件已被改动", "wrong passphrase, or the export was altered")
	}
	var in keyState
	if err := json.Unmarshal(plain, &in); err != nil || !in.Mode.Valid() {
		return bad("bundle_format", "导出文件内容错误", "the export's content is invalid")
	}
	if in.Gates == nil {
		in.Gates = map[string]*storedGate{}
	}
	for id, gt := range in.Gates {
		if !app.ValidGateID(id) || gt.ID != id {
			return bad("bundle_format", "导出文件含无效闸机编号", "the export holds an invalid gate id")
		}
		for _, k := range gt.Keys {
			if _, err := app.ParseGateKey(k.Key); err != nil {
				return bad("bundle_format", "导出文件含无效密钥", "the export holds an invalid key")
			}
		}
	}
	err = ks.update(func(st *keyState) error {
		st.Gates, st.Mode, st.ModeSource = in.Gates, in.Mode, in.ModeSource
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return ImportResult{StationID: f.StationID, Exported: f.Exported, Gates: len(in.Gates), Mode: in.Mode}, nil
}
