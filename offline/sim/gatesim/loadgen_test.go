package gatesim_test

import (
	"context"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/sim/gatesim"
)

func TestLoad(t *testing.T) {
	r := newDemoRig(t, app.ModeEnforce)
	kh, err := r.st.Server.AddGate("load-gate", "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := app.ParseGateKey(kh)
	var wrong app.GateKey
	wrong[0] = 1
	target := "http://" + r.st.Addr.String()
	card := func(int) string { return "1000 7510 0000 0001" }
	ctx := context.Background()
	tests := []struct {
		name   string
		o      gatesim.LoadOptions
		answer bool
	}{
		{"OpenLoopAnswered", gatesim.LoadOptions{Rate: 200, Duration: time.Second, Conns: 4}, true},
		{"ClosedLoopAnswered", gatesim.LoadOptions{Closed: true, Conns: 4, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond}, true},
		{"WrongKeyNeverAnswered", gatesim.LoadOptions{Rate: 100, Duration: 500 * time.Millisecond, Conns: 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Target, o.Gate, o.Key, o.Card = target, "load-gate", key, card
			if !tc.answer {
				o.Key = wrong
			}
			res, err := gatesim.Load(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent == 0 {
				t.Fatal("nothing sent")
			}
			if tc.answer {
				if res.OK != res.Sent || res.BadSig != 0 || len(res.Latencies) != int(res.OK) {
					t.Fatalf("%s", res.Summary())
				}
				if !o.Closed && res.Sent != int64(o.Rate*o.Duration.Seconds()) {
					t.Fatalf("open loop sent %d, want %.0f", res.Sent, o.Rate*o.Duration.Seconds())
				}
				for d := range res.Decisions {
					if d == "" || d[0] == '?' {
						t.Fatalf("decision not parsed: %q", d)
					}
				}
				return
			}
			// 401 answers carry no response signature: never counted as answers.
			if res.OK != 0 || res.BadSig != res.Sent {
				t.Fatalf("%s", res.Summary())
			}
		})
	}
}
