package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MinTokenKey is the shortest key NewTokenizer accepts, in bytes (256 bits,
// the HMAC-SHA256 block-strength recommendation of RFC 2104 §3).
const MinTokenKey = 32

// Tokenizer turns identity-document and card numbers into opaque, stable
// tokens: the first 32 hex characters (128 bits) of HMAC-SHA256 under the
// station's key. Tokens are the blind index for local matching ("one ticket
// per person per purchase" offline) and the subject of audit records, so
// no log or table needs the number itself (docs/storage-privacy.md, "Personal data").
// Without the key a token cannot be reversed by enumerating the ~10^11
// plausible ID numbers, which a plain hash could.
//
// A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	key []byte
}

// NewTokenizer returns a Tokenizer using a copy of key. A key shorter than
// MinTokenKey bytes is a CodeInvalid error (reason "key_length").
func NewTokenizer(key []byte) (*Tokenizer, error) {
	if len(key) < MinTokenKey {
		return nil, NewError(CodeInvalid, "key_length",
			"令牌密钥长度不足（至少32字节）。",
			"The token key is too short (at least 32 bytes).")
	}
	return &Tokenizer{key: append([]byte(nil), key...)}, nil
}

// Doc returns the token of a document: HMAC-SHA256(key, type + ":" +
// number) in lower-case hex, first 32 characters. For passports the number
// part is nationality + ":" + number, so equal numbers from different
// states differ. The zero DocNumber gives "".
func (t *Tokenizer) Doc(d DocNumber) string {
	if d.IsZero() {
		return ""
	}
	num := d.Reveal()
	if d.Type() == DocPassport {
		num = d.Nationality() + ":" + num
	}
	return t.sum(string(d.Type()) + ":" + num)
}

// Card returns the token of a transit-card number: HMAC-SHA256(key,
// "card:" + number) with surrounding space removed, first 32 hex
// characters. The "card" prefix cannot collide with a DocType. An empty
// number gives "".
func (t *Tokenizer) Card(number string) string {
	number = strings.TrimSpace(number)
	if number == "" {
		return ""
	}
	return t.sum("card:" + number)
}

func (t *Tokenizer) sum(msg string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))[:32]
}
