package verify

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
)

// The pooled MACs must be byte for byte the ones app defines (gates
// compute them with app).
func FuzzGateMACs(f *testing.F) {
	f.Add([]byte("k"), "gate-1", "1650000000000", strings.Repeat("ab", 16), "r-1", []byte(`{"card":"1000751000000001"}`), 200)
	f.Add([]byte{}, "", "", "", "", []byte{}, 401)
	f.Add(bytes.Repeat([]byte{0xff}, 40), strings.Repeat("g", 40), "x\ny", "\n", strings.Repeat("r", 300), bytes.Repeat([]byte("b"), 5000), 503)
	f.Fuzz(func(t *testing.T, kb []byte, gate, ts, nonce, reqID string, body []byte, status int) {
		var k app.GateKey
		copy(k[:], kb)
		g := newGateKey(k)
		for i := 0; i < 2; i++ { // the second round uses a pooled, reset state
			bh := sha256.Sum256(body)
			got := g.requestMAC("POST", "/v1/verify", gate, ts, nonce, reqID, &bh)
			if want := app.GateRequestMAC(k, "POST", "/v1/verify", gate, ts, nonce, reqID, body); !bytes.Equal(got[:], want) {
				t.Fatalf("request MAC differs from app.GateRequestMAC")
			}
			rs := g.responseMAC(nonce, status, body)
			if want := app.GateResponseMAC(k, nonce, status, body); !bytes.Equal(rs[:], want) {
				t.Fatalf("response MAC differs from app.GateResponseMAC")
			}
		}
	})
}

// The hand parser must agree with encoding/json on every input it takes,
// and parseVerifyBody must give encoding/json's verdict on everything.
func FuzzParseVerifyBody(f *testing.F) {
	for _, s := range []string{
		`{"card":"1000751000000001"}`, `{"qr":"RQ1.abc.def"}`, `{"card":""}`, `{"qr":""}`,
		`{"card":"1000 7510-0000 0001"}`, `{"card":"12345678901234567890123456789012"}`,
		`{"card":"123456789012345678901234567890123"}`, `{"card":"1","qr":"2"}`, `{"card":"1"} `,
		`{"card":"1"}{"card":"2"}`, `{"card":"\u0031"}`, `{"card":"a\"b"}`, `{"CARD":"1"}`, `{"card":1}`,
		`{"card":"1","x":1}`, ` {"card":"1"}`, `{"card":"é"}`, `{"card":"1"`, `null`, ``, `{}`, `{"card":"1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, ok := parseCompact(b); ok {
			ref, err := parseJSON(b)
			if err != nil || ref != req {
				t.Fatalf("compact parse %+v, encoding/json %+v %v", req, ref, err)
			}
		}
		got, gerr := parseVerifyBody(b)
		ref, rerr := parseJSON(b)
		if rerr == nil && ((ref.Card == "") == (ref.QR == "") || len(ref.Card) > 32 || len(ref.QR) > app.RideQRMaxLen) {
			rerr = errBadBody
		}
		if (gerr == nil) != (rerr == nil) || gerr == nil && got != ref {
			t.Fatalf("parseVerifyBody %+v %v, reference %+v %v", got, gerr, ref, rerr)
		}
	})
}

func TestParseVerifyBody(t *testing.T) {
	tests := []struct {
		name, body string
		want       verifyRequest
		ok         bool
	}{
		{"Card", `{"card":"1000751000000001"}`, verifyRequest{Card: "1000751000000001"}, true},
		{"QR", `{"qr":"RQ1.a.b"}`, verifyRequest{QR: "RQ1.a.b"}, true},
		{"SpacedJSONStillAccepted", `{ "card" : "1000751000000001" }`, verifyRequest{Card: "1000751000000001"}, true},
		{"EscapedStillAccepted", `{"card":"\u0031000751000000001"}`, verifyRequest{Card: "1000751000000001"}, true},
		{"ErrBoth", `{"card":"1","qr":"2"}`, verifyRequest{}, false},
		{"ErrNeither", `{}`, verifyRequest{}, false},
		{"ErrEmptyCard", `{"card":""}`, verifyRequest{}, false},
		{"ErrUnknownField", `{"card":"1","x":1}`, verifyRequest{}, false},
		{"ErrTrailingObject", `{"card":"1"}{"card":"2"}`, verifyRequest{}, false},
		{"ErrCardTooLong", `{"card":"` + strings.Repeat("1", 33) + `"}`, verifyRequest{}, false},
		{"ErrQRTooLong", `{"qr":"` + strings.Repeat("a", app.RideQRMaxLen+1) + `"}`, verifyRequest{}, false},
		{"ErrNotJSON", `card=1`, verifyRequest{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVerifyBody([]byte(tc.body))
			if (err == nil) != tc.ok || tc.ok && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestNonceCache(t *testing.T) {
	t0 := time.Unix(1_650_000_000, 0)
	ttl := 61 * time.Second
	n := func(b byte) (x [16]byte) { x[0], x[15] = b, b; return }
	t.Run("ReplayRefused", func(t *testing.T) {
		c := newNonceCache(1000, ttl)
		if !c.add("g", n(1), t0) || c.add("g", n(1), t0.Add(time.Second)) {
			t.Fatal("second use accepted")
		}
	})
	t.Run("OtherGateSameNonceAccepted", func(t *testing.T) {
		c := newNonceCache(1000, ttl)
		if !c.add("g1", n(1), t0) || !c.add("g2", n(1), t0) {
			t.Fatal("refused")
		}
	})
	t.Run("RememberedForAtLeastTTLAcrossRotations", func(t *testing.T) {
		c := newNonceCache(1000, ttl)
		c.add("g", n(2), t0)                      // starts the shard's generation
		c.add("g", n(2+nonceShards), t0.Add(ttl)) // same shard as n(2): rotates it
		if c.add("g", n(2), t0.Add(ttl+time.Second)) {
			t.Fatal("n(2) forgotten one rotation after it was added, before 2·ttl")
		}
		if !c.add("g", n(2), t0.Add(3*ttl)) {
			t.Fatal("n(2) still refused after 3·ttl")
		}
	})
	t.Run("EntryLateInGenerationKept", func(t *testing.T) {
		c := newNonceCache(1000, ttl)
		c.add("g", n(1), t0)
		c.add("g", n(1+nonceShards), t0.Add(ttl-time.Millisecond))
		c.add("g", n(1+2*nonceShards), t0.Add(ttl)) // rotation
		if c.add("g", n(1+nonceShards), t0.Add(2*ttl-2*time.Millisecond)) {
			t.Fatal("forgotten before ttl passed")
		}
	})
	t.Run("ErrFullFailsClosed", func(t *testing.T) {
		c := newNonceCache(nonceShards, ttl) // one per shard
		if !c.add("g", n(1), t0) || c.add("g", n(1+nonceShards), t0) {
			t.Fatal("full shard accepted a new nonce")
		}
		if !c.add("g", n(1+nonceShards), t0.Add(2*ttl)) {
			t.Fatal("space not reclaimed after expiry")
		}
	})
}

func TestKeyStoreActiveKeys(t *testing.T) {
	ks, err := OpenKeyStore(t.TempDir()+"/gates.json", app.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if ks.activeKeys("g1") != nil {
		t.Fatal("unknown gate has keys")
	}
	h1, err := ks.Add("g1")
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := app.ParseGateKey(h1)
	if ak := ks.activeKeys("g1"); len(ak) != 1 || ak[0].key != k1 {
		t.Fatal("added key not active")
	}
	pool := ks.activeKeys("g1")[0]
	h2, err := ks.Rotate("g1")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := app.ParseGateKey(h2)
	ak := ks.activeKeys("g1")
	if len(ak) != 2 || ak[0] != pool || ak[1].key != k2 {
		t.Fatal("rotation: both keys must be active and the old key's state kept")
	}
	if err := ks.Revoke("g1"); err != nil {
		t.Fatal(err)
	}
	if ks.activeKeys("g1") != nil {
		t.Fatal("revoked gate still has keys")
	}
}
