package app

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSaleWireBytes: a sale's wire body is byte for byte what the earlier
// encoding sent (the extra object re-encoded from a map, left out when
// empty), so central's idempotency check accepts a resend of a sale queued
// by an older build; and a body decoded and encoded again is unchanged.
func TestSaleWireBytes(t *testing.T) {
	at := time.Date(2022, 6, 1, 8, 30, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		extra SaleExtra
		want  string
	}{
		"empty": {SaleExtra{}, `{"id":"k1","ticket_kind":"single","fare_fen":300,"assisted":false,"sold_at":"2022-06-01T08:30:00Z"}`},
		"all":   {SaleExtra{Dest: "0102", TokenSerial: "T<9>", OverrideBy: "9001"}, `{"id":"k1","ticket_kind":"single","fare_fen":300,"assisted":false,"sold_at":"2022-06-01T08:30:00Z","extra":{"dest":"0102","override_by":"9001","token":"T\u003c9\u003e"}}`},
		"token": {SaleExtra{TokenSerial: "T1"}, `{"id":"k1","ticket_kind":"single","fare_fen":300,"assisted":false,"sold_at":"2022-06-01T08:30:00Z","extra":{"token":"T1"}}`},
	} {
		w := SaleWire{ID: "k1", TicketKind: "single", FareFen: 300, SoldAt: at, Extra: tc.extra}
		b, err := json.Marshal(w)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s (%v)\nwant %s", name, b, err, tc.want)
		}
		var back SaleWire
		if err := json.Unmarshal(b, &back); err != nil || back != w {
			t.Errorf("%s: decoded %+v (%v), want %+v", name, back, err, w)
		}
		// A body an older build stored in the outbox (struct field order,
		// empty object kept) is sent as the map-based encoding was.
		old := `{"id":"k1","ticket_kind":"single","fare_fen":300,"assisted":false,"sold_at":"2022-06-01T08:30:00Z","extra":{}}`
		if name == "empty" {
			var o SaleWire
			if err := json.Unmarshal([]byte(old), &o); err != nil {
				t.Fatal(err)
			}
			if b2, _ := json.Marshal(o); string(b2) != tc.want {
				t.Errorf("old stored body re-encoded as %s", b2)
			}
		}
	}
}
