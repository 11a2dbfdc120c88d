package verify

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"stationdesk/app"
	"stationdesk/app/atomicfile"
)

// The station admin token lets a script or a second administrator manage
// the gate registry headlessly (`stationdesk gates ... --admin-token-file
// F`) without a supervisor's PIN. Why a token and not a stored PIN: a PIN
// is six digits and a person's; the token is 32 random bytes, one per
// station, replaced or revoked by a supervisor, and every use is audited
// as operator AdminTokenOperator.
//
// At rest only its HMAC-SHA256 under a key derived from the station key
// is kept (AdminTokenKey), in gate/admin-token.json of the data folder
// (0600): a copy of the data folder without the station key file gives
// nothing to test guesses against, and the record never holds the token.

// AdminTokenOperator is the audit log's operator for changes made with the
// station admin token.
const AdminTokenOperator = "admin-token"

// AdminTokenPrefix starts every admin token, so one found in a file or a
// paste is recognised for what it is.
const AdminTokenPrefix = "sdadmin1-"

const adminTokenFormat = "stationdesk-admin-token/1"

// AdminTokenFileName is the record in the data folder's gate/ folder.
const AdminTokenFileName = "admin-token.json"

type adminTokenRecord struct {
	Format    string    `json:"format"`
	ID        string    `json:"id"` // public: first 8 hex of SHA-256 of the token
	MAC       string    `json:"mac"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// AdminTokenKey derives the key that hashes the admin token from the
// station key's encryption half (as RegistryKey does for gate keys).
func AdminTokenKey(stationEnc [32]byte) [32]byte {
	b, err := hkdf.Key(sha256.New, stationEnc[:], nil, "stationdesk station admin token v1", 32)
	if err != nil {
		panic("verify: hkdf: " + err.Error())
	}
	return [32]byte(b)
}

func adminTokenPath(dataDir string) string {
	return filepath.Join(dataDir, "gate", AdminTokenFileName)
}

func adminTokenMAC(key [32]byte, token string) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(token))
	return m.Sum(nil)
}

// AdminTokenID is the token's public id (for the audit log and listings).
func AdminTokenID(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:4])
}

// CreateAdminToken makes a new admin token for the data folder, replacing
// any earlier one (which stops working), and returns it: the caller hands
// it over once; the folder keeps only its keyed hash. by is who created
// it, for the record.
func CreateAdminToken(dataDir string, key [32]byte, by string, now time.Time) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := AdminTokenPrefix + hex.EncodeToString(raw)
	rec := adminTokenRecord{Format: adminTokenFormat, ID: AdminTokenID(tok), MAC: hex.EncodeToString(adminTokenMAC(key, tok)), Created: now.UTC(), CreatedBy: by}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.MkdirAll(filepath.Dir(adminTokenPath(dataDir)), 0o700); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(adminTokenPath(dataDir), append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// RevokeAdminToken removes the data folder's admin token; it returns the
// id of the token removed (CodeNotFound "admin_token_none" when there was
// none).
func RevokeAdminToken(dataDir string) (string, error) {
	rec, err := readAdminToken(dataDir)
	if err != nil {
		return "", err
	}
	if err := os.Remove(adminTokenPath(dataDir)); err != nil {
		return "", err
	}
	return rec.ID, nil
}

func errNoAdminToken() error {
	return app.NewError(app.CodeUnauthorized, "admin_token_none",
		"此数据文件夹没有站点管理令牌（值班站长用 stationdesk gates token create 创建）。",
		"This data folder has no station admin token (a supervisor creates one with stationdesk gates token create).")
}

func readAdminToken(dataDir string) (adminTokenRecord, error) {
	var rec adminTokenRecord
	b, err := os.ReadFile(adminTokenPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, errNoAdminToken()
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Format != adminTokenFormat {
		return rec, app.NewError(app.CodeInternal, "admin_token_record", "站点管理令牌记录已损坏。", "The station admin token record is damaged.")
	}
	return rec, nil
}

// CheckAdminToken says whether token is the data folder's admin token. It
// returns the token's id, or CodeUnauthorized: "admin_token_none" when the
// folder has none, "admin_token_wrong" when it differs (wrong, replaced or
// from another station). The comparison is constant-time.
func CheckAdminToken(dataDir string, key [32]byte, token string) (string, error) {
	rec, err := readAdminToken(dataDir)
	if err != nil {
		return "", err
	}
	want, err := hex.DecodeString(rec.MAC)
	token = strings.TrimSpace(token)
	if err != nil || !strings.HasPrefix(token, AdminTokenPrefix) || !hmac.Equal(want, adminTokenMAC(key, token)) {
		return "", app.NewError(app.CodeUnauthorized, "admin_token_wrong",
			"站点管理令牌不正确（或已被替换、吊销）。",
			"The station admin token is wrong (or was replaced or revoked).")
	}
	return rec.ID, nil
}
