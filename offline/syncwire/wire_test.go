package syncwire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

func sampleSegment() Segment {
	return Segment{From: 10, To: 20,
		Cards:   []Card{{Hash: CardHash{1, 2}, Person: 7, Flags: FlagBlocked, Seq: 11}},
		Persons: []Person{{Person: 7, Color: ColorRed, TestMin: 27000000, Seq: 12}}}
}

func TestSegmentRoundTrip(t *testing.T) {
	s := sampleSegment()
	got, err := DecodeSegment(EncodeSegment(s))
	if err != nil || got.From != 10 || got.To != 20 || got.Cards[0] != s.Cards[0] || got.Persons[0] != s.Persons[0] {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func TestDecodeSegmentRejects(t *testing.T) {
	good := EncodeSegment(sampleSegment())
	cases := map[string][]byte{
		"Truncated":     good[:len(good)-1],
		"BadMagic":      append([]byte("XXXX"), good[4:]...),
		"SeqOutOfRange": EncodeSegment(Segment{From: 10, To: 20, Persons: []Person{{Person: 1, Seq: 21}}}),
		"ToBeforeFrom":  EncodeSegment(Segment{From: 20, To: 10}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeSegment(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestChunkUnsortedRejected(t *testing.T) {
	b := EncodeCardChunk([]Card{{Hash: CardHash{2}}, {Hash: CardHash{1}}})
	if _, _, _, err := DecodeChunk(b); err == nil {
		t.Fatal("unsorted chunk accepted")
	}
}

func TestSignedEnvelope(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	env := Sign(priv, "k", "manifest", []byte(`{"seq":1}`))
	if p, err := Open(pub, "manifest", env); err != nil || !bytes.Equal(p, []byte(`{"seq":1}`)) {
		t.Fatalf("open: %v", err)
	}
	if _, err := Open(pub, "hot", env); err != ErrSignature {
		t.Fatal("kind confusion accepted")
	}
	env2 := bytes.Replace(env, []byte("eyJzZXEiOjF9"), []byte("eyJzZXEiOjJ9"), 1) // payload {"seq":2}
	if _, err := Open(pub, "manifest", env2); err == nil {
		t.Fatal("tampered payload accepted")
	}
}

func FuzzDecodeSegment(f *testing.F) {
	f.Add(EncodeSegment(sampleSegment()))
	f.Add([]byte("SDD1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSegment(b)
		if err == nil && !bytes.Equal(EncodeSegment(s), b) {
			t.Fatal("decoded segment does not re-encode to its input")
		}
	})
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(EncodeCardChunk([]Card{{Hash: CardHash{1}, Person: 1, Seq: 1}, {Hash: CardHash{2}, Person: 2, Seq: 1}}))
	f.Add(EncodePersonChunk([]Person{{Person: 1, Seq: 1}}))
	f.Add([]byte("SDC1\x00\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, cs, ps, err := DecodeChunk(b)
		if err != nil {
			return
		}
		var re []byte
		if kind == KindCards {
			re = EncodeCardChunk(cs)
		} else {
			re = EncodePersonChunk(ps)
		}
		if !bytes.Equal(re, b) {
			t.Fatal("chunk does not round-trip")
		}
	})
}

func FuzzOpen(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	f.Add(Sign(priv, "k", "manifest", []byte("{}")))
	f.Add([]byte(`{"kind":"manifest"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := Open(pub, "manifest", b); err == nil && p == nil {
			t.Fatal("nil payload accepted")
		}
	})
}

func BenchmarkHashCard(b *testing.B) {
	key := []byte("bench card key")
	b.Run("HashCard", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			HashCard(key, "1000 7510-0000 0001")
		}
	})
	b.Run("CardHasher", func(b *testing.B) {
		h := NewCardHasher(key)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			h.Hash("1000 7510-0000 0001")
		}
	})
}

func TestHashCardReference(t *testing.T) {
	key := []byte("k")
	for _, tc := range []struct{ name, in, norm string }{
		{"Plain", "1000751000000001", "1000751000000001"},
		{"SpacesAndDashes", "1000 7510-0000 0001", "1000751000000001"},
		{"Empty", "", ""},
		{"Long", strings.Repeat("12 ", 40), strings.Repeat("12", 40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(tc.norm))
			if got := HashCard(key, tc.in); !bytes.Equal(got[:], m.Sum(nil)[:HashSize]) {
				t.Fatal("HashCard differs from HMAC-SHA-256 of the normalised number")
			}
			h := NewCardHasher(key)
			for i := 0; i < 2; i++ { // the second time from a pooled state
				if h.Hash(tc.in) != HashCard(key, tc.in) {
					t.Fatal("CardHasher differs from HashCard")
				}
			}
		})
	}
}
