package centralsim_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/sim/centralsim"
)

// BenchmarkBind50Desks measures bind request → confirmed answer through the
// resty client against the simulator on loopback, 50 desks at once, each
// bind a new person and card (one SQLite write transaction per bind).
// Reports p50/p99/max latency and binds/s. Target: p99 ≤ 50 ms.
//
// Saturated: every desk sends its next bind the moment the last one is
// answered (closed loop, no think time) — a stress figure: latency there
// is 50 / throughput by Little's law. Paced: every desk binds every
// 100 ms (500 binds/s in all, orders of magnitude above a real station,
// where one bind takes a rider minutes).
//
//	go test -run '^$' -bench Bind50Desks -benchtime 3000x ./offline/sim/centralsim/
func BenchmarkBind50Desks(b *testing.B) {
	b.Run("Saturated", func(b *testing.B) { benchBind(b, 0) })
	b.Run("Paced100ms", func(b *testing.B) { benchBind(b, 100*time.Millisecond) })
}

func benchBind(b *testing.B, think time.Duration) {
	const desks = 50
	ctx := context.Background()
	sim, err := centralsim.New(centralsim.Config{DataDir: b.TempDir(), NoDemo: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	n := b.N
	riders := make([]centralsim.Rider, n)
	reqs := make([]app.BindRequest, n)
	for i := range n {
		d, err := app.ParseDoc(app.DocPassport, fmt.Sprintf("GBR:P%07d", i))
		if err != nil {
			b.Fatal(err)
		}
		card := fmt.Sprintf("7%015d", i)
		riders[i] = centralsim.Rider{Doc: d, Cards: []centralsim.RiderCard{{Card: app.Card{Number: card, Kind: app.CardOrdinary, Form: app.FormPhysical}}}}
		reqs[i] = app.BindRequest{CardNumber: card, Form: app.FormPhysical, Holder: d, Operator: "bench"}
	}
	if err := sim.AddRiders(ctx, riders); err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	cl, err := central.New(central.Config{BaseURL: sim.URL(), StationToken: centralsim.DefaultStationToken, CallTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for d := range desks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if think > 0 {
				time.Sleep(think * time.Duration(d) / desks) // spread the desks' phases
			}
			for {
				if think > 0 {
					time.Sleep(think)
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				r, err := cl.Bind(ctx, app.NewIdempotencyKey(), reqs[i])
				lat[i] = time.Since(t0)
				if err != nil || r.Binding.CardMasked == "" {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d binds failed", f)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(n-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
	b.ReportMetric(float64(lat[n-1])/1e6, "max_ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "binds/s")
}
