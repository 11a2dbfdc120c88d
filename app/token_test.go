package app

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

func TestTokenizer(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	tok, err := NewTokenizer(key)
	if err != nil {
		t.Fatal(err)
	}
	id := mustDoc(t, DocCNID, "11010519491231002X")
	idFullWidth := mustDoc(t, DocCNID, "１１０１０５１９４９１２３１００２ｘ")
	other := mustDoc(t, DocCNID, "360426199101010071")
	gbr := mustDoc(t, DocPassport, "GBR 123456789")
	usa := mustDoc(t, DocPassport, "USA 123456789")
	tw := mustDoc(t, DocTWPermit, "12345678")

	// Expected value computed independently from the contract.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("cn-id:11010519491231002X"))
	want := hex.EncodeToString(m.Sum(nil))[:32]
	if got := tok.Doc(id); got != want {
		t.Errorf("Doc = %s, want %s", got, want)
	}
	m = hmac.New(sha256.New, key)
	m.Write([]byte("passport:GBR:123456789"))
	if got, want := tok.Doc(gbr), hex.EncodeToString(m.Sum(nil))[:32]; got != want {
		t.Errorf("passport Doc = %s, want %s", got, want)
	}
	m = hmac.New(sha256.New, key)
	m.Write([]byte("card:1000123456"))
	if got, want := tok.Card(" 1000123456 "), hex.EncodeToString(m.Sum(nil))[:32]; got != want {
		t.Errorf("Card = %s, want %s", got, want)
	}

	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, s := range []string{tok.Doc(id), tok.Doc(gbr), tok.Card("1")} {
		if !hex32.MatchString(s) {
			t.Errorf("token %q is not 32 lower-case hex characters", s)
		}
	}
	if tok.Doc(id) != tok.Doc(idFullWidth) {
		t.Error("token not stable across equivalent input")
	}
	if tok.Doc(id) == tok.Doc(other) || tok.Doc(gbr) == tok.Doc(usa) {
		t.Error("different documents share a token")
	}
	if tok.Doc(tw) == tok.Card("12345678") {
		t.Error("document and card with the same digits share a token")
	}
	if tok.Doc(DocNumber{}) != "" || tok.Card("  ") != "" {
		t.Error("empty input should give an empty token")
	}

	// A different key gives different tokens; the key is copied.
	key2 := bytes.Repeat([]byte{0x43}, 32)
	tok2, _ := NewTokenizer(key2)
	if tok2.Doc(id) == tok.Doc(id) {
		t.Error("tokens do not depend on the key")
	}
	before := tok.Doc(id)
	key[0] ^= 0xff
	if tok.Doc(id) != before {
		t.Error("Tokenizer shares the caller's key slice")
	}
}

func TestNewTokenizerShortKey(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := NewTokenizer(make([]byte, n)); ErrorCode(err) != CodeInvalid || ErrorReason(err) != "key_length" {
			t.Errorf("key of %d bytes: %v", n, err)
		}
	}
	if _, err := NewTokenizer(make([]byte, 64)); err != nil {
		t.Errorf("64-byte key: %v", err)
	}
}
