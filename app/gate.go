package app

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Gate request signing (docs/contracts.md "Gate verify"). A gate signs every verify request
// with its own 256-bit key over a canonical string; the station answers with
// a signature over the request nonce, the status and the body hash, so a
// rogue device on the LAN can neither ask nor answer in a gate's name.
//
// Headers: Gate-Id, Timestamp (Unix ms), Nonce (32 hex = 128 bit),
// Request-Id (1–64 of [A-Za-z0-9._-]), Signature (64 hex). Response header:
// Response-Signature (64 hex).
const (
	HeaderGateID      = "Gate-Id"
	HeaderTimestamp   = "Timestamp"
	HeaderNonce       = "Nonce"
	HeaderRequestID   = "Request-Id"
	HeaderSignature   = "Signature"
	HeaderRespSig     = "Response-Signature"
	GateKeySize       = 32
	GateClockWindow   = 30 * time.Second
	maxGateIDLen      = 32
	maxRequestIDLen   = 64
	gateNonceHexChars = 32
)

// GateKey is a gate's shared secret. It redacts itself in fmt.
type GateKey [GateKeySize]byte

// String never shows the key.
func (GateKey) String() string { return "GateKey{redacted}" }

// ParseGateKey decodes a key from 64 hex characters.
func ParseGateKey(s string) (GateKey, error) {
	var k GateKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != GateKeySize {
		return k, NewError(CodeInvalid, "gate_key", "闸机密钥格式错误", "gate key must be 64 hex characters")
	}
	copy(k[:], b)
	return k, nil
}

// ValidGateID reports whether id is 1–32 of [a-z0-9-] (ids appear in
// headers, metrics labels and file names, so the alphabet is tight).
func ValidGateID(id string) bool {
	if len(id) == 0 || len(id) > maxGateIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidRequestID reports whether id is 1–64 of [A-Za-z0-9._-].
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// GateRequestAuth is the parsed authentication part of a verify request.
type GateRequestAuth struct {
	Gate      string
	Timestamp time.Time
	TSRaw     string
	Nonce     string
	RequestID string
	Signature []byte
}

// ErrGateAuth is returned for every malformed authentication header; the
// server answers all of them with the same 401.
var ErrGateAuth = NewError(CodeUnauthorized, "gate_auth", "闸机认证失败", "gate authentication failed")

// ParseGateAuth checks the shape of the five auth headers (get returns a
// header value). It does not check the MAC, the window or the nonce.
func ParseGateAuth(get func(string) string) (GateRequestAuth, error) {
	a := GateRequestAuth{Gate: get(HeaderGateID), TSRaw: get(HeaderTimestamp), Nonce: get(HeaderNonce), RequestID: get(HeaderRequestID)}
	if !ValidGateID(a.Gate) || !ValidRequestID(a.RequestID) || len(a.Nonce) != gateNonceHexChars || len(a.TSRaw) == 0 || len(a.TSRaw) > 16 {
		return a, ErrGateAuth
	}
	if _, err := hex.DecodeString(a.Nonce); err != nil {
		return a, ErrGateAuth
	}
	ms, err := strconv.ParseInt(a.TSRaw, 10, 64)
	if err != nil || ms <= 0 {
		return a, ErrGateAuth
	}
	a.Timestamp = time.UnixMilli(ms)
	sig := get(HeaderSignature)
	if len(sig) != 64 {
		return a, ErrGateAuth
	}
	a.Signature, err = hex.DecodeString(sig)
	if err != nil {
		return a, ErrGateAuth
	}
	return a, nil
}

// GateRequestMAC computes HMAC-SHA256(key, method \n path \n gate \n
// timestamp \n nonce \n request-id \n hex(SHA-256(body))).
func GateRequestMAC(key GateKey, method, path, gate, ts, nonce, requestID string, body []byte) []byte {
	bh := sha256.Sum256(body)
	m := hmac.New(sha256.New, key[:])
	var buf [64]byte
	for _, s := range []string{method, path, gate, ts, nonce, requestID} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	m.Write(hex.AppendEncode(buf[:0], bh[:]))
	return m.Sum(nil)
}

// GateResponseMAC computes HMAC-SHA256(key, "resp" \n nonce \n status \n
// hex(SHA-256(body))), the signature a gate checks on every answer.
func GateResponseMAC(key GateKey, nonce string, status int, body []byte) []byte {
	bh := sha256.Sum256(body)
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("resp\n"))
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write(strconv.AppendInt(nil, int64(status), 10))
	m.Write([]byte{'\n'})
	var buf [64]byte
	m.Write(hex.AppendEncode(buf[:0], bh[:]))
	return m.Sum(nil)
}

// Ride-QR tokens. A ride code is issued by a ride-code issuer (the health
// kit / ride apps) and signed with the issuer's Ed25519 key; the station gets
// the issuers' public keys in the signed sync manifest and checks codes
// offline. Wire form: "RQ1." + base64url(payload) + "." + base64url(sig),
// payload = version(1)=1 | issuer(2, BE) | person(8, BE) | issued(8, BE Unix
// s) | expires(8, BE Unix s). The person key is the opaque central key, not
// an identity number.
const (
	rideQRPrefix     = "RQ1."
	rideQRPayloadLen = 27
	// RideQRMaxLen bounds a token before any decoding.
	RideQRMaxLen = 160
)

// RideQR is a parsed, not yet verified ride code.
type RideQR struct {
	Issuer  uint16
	Person  uint64
	Issued  time.Time
	Expires time.Time
	payload []byte
	sig     []byte
}

// ErrRideQRMalformed is returned for any token that does not parse.
var ErrRideQRMalformed = NewError(CodeInvalid, string(ReasonQRInvalid), "乘车码无效", "ride code is invalid")

// SignRideQR issues a ride code valid from issued to issued+ttl.
func SignRideQR(priv ed25519.PrivateKey, issuer uint16, person uint64, issued time.Time, ttl time.Duration) string {
	p := make([]byte, rideQRPayloadLen)
	p[0] = 1
	binary.BigEndian.PutUint16(p[1:], issuer)
	binary.BigEndian.PutUint64(p[3:], person)
	binary.BigEndian.PutUint64(p[11:], uint64(issued.Unix()))
	binary.BigEndian.PutUint64(p[19:], uint64(issued.Add(ttl).Unix()))
	sig := ed25519.Sign(priv, p)
	e := base64.RawURLEncoding
	return rideQRPrefix + e.EncodeToString(p) + "." + e.EncodeToString(sig)
}

// ParseRideQR decodes a ride code without checking its signature.
func ParseRideQR(s string) (RideQR, error) {
	var q RideQR
	if len(s) > RideQRMaxLen || len(s) < len(rideQRPrefix) || s[:len(rideQRPrefix)] != rideQRPrefix {
		return q, ErrRideQRMalformed
	}
	rest := s[len(rideQRPrefix):]
	dot := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return q, ErrRideQRMalformed
	}
	e := base64.RawURLEncoding
	p, err1 := e.DecodeString(rest[:dot])
	sig, err2 := e.DecodeString(rest[dot+1:])
	if err1 != nil || err2 != nil || len(p) != rideQRPayloadLen || p[0] != 1 || len(sig) != ed25519.SignatureSize {
		return q, ErrRideQRMalformed
	}
	q.Issuer = binary.BigEndian.Uint16(p[1:])
	q.Person = binary.BigEndian.Uint64(p[3:])
	q.Issued = time.Unix(int64(binary.BigEndian.Uint64(p[11:])), 0)
	q.Expires = time.Unix(int64(binary.BigEndian.Uint64(p[19:])), 0)
	q.payload, q.sig = p, sig
	return q, nil
}

// Verify checks the signature with the issuer's public key and the validity
// at now, allowing skew on both ends. It returns the reason for a rejection:
// ReasonQRInvalid (bad signature or key), ReasonQRNotYetValid (issued more
// than skew after now: the station's clock is behind the issuer's, or the
// code is forged by someone holding an issuer key) or ReasonQRExpired.
func (q RideQR) Verify(pub ed25519.PublicKey, now time.Time, skew time.Duration) (GateReason, error) {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, q.payload, q.sig) {
		return ReasonQRInvalid, ErrRideQRMalformed
	}
	if now.Add(skew).Before(q.Issued) {
		return ReasonQRNotYetValid, errors.New("ride code not yet valid")
	}
	if now.Add(-skew).After(q.Expires) {
		return ReasonQRExpired, errors.New("ride code expired")
	}
	return ReasonOK, nil
}
