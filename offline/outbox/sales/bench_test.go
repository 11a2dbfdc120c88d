//go:build unix

package sales_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices"
	"stationdesk/devices/sim"
	"stationdesk/offline/central"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/sales"
	"stationdesk/offline/sim/centralsim"
)

// benchDir is $STATIONDESK_BENCH_DIR (put it on the terminal's disk: on
// tmpfs fsync is free and the commit figure means nothing) or a temp folder.
func benchDir(b *testing.B) string {
	b.Helper()
	if d := os.Getenv("STATIONDESK_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "salesfwd-bench-*")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func quantiles(b *testing.B, prefix string, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), prefix+"p50-ms")
	b.ReportMetric(q(0.99), prefix+"p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, prefix+"max-ms")
}

func benchLedger(b *testing.B, dir string) (*ledger.Ledger, *ledger.Keys) {
	keys, err := ledger.LoadOrCreateKeys(dir)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), filepath.Join(dir, ledger.FileName), keys, ledger.Options{Terminal: "T01", KDF: testKDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l, keys
}

// BenchmarkSaleCommit measures the two durable ledger commits of every sale
// (synchronous=FULL, WAL): "record" writes the sale and its audit entry
// before the token is written, "issued" marks it issued with its outbox
// item and audit entry. 1000 sales per run. Target: p99 ≤ 10 ms.
//
// "chain" is the ledger as it runs: the sale and outbox rows are in the
// audit chain (triggers note them, each audit entry stores their content
// hashes in audit_records). "nochain" drops those triggers first, so the
// commits write the same rows and audit entries without the record
// coverage: the difference is what the coverage costs a sale.
//
//	go test -tags x11 -run '^$' -bench SaleCommit -benchtime 1x -count 5 ./offline/outbox/sales/
func BenchmarkSaleCommit(b *testing.B) {
	for _, chain := range []bool{true, false} {
		name := "chain"
		if !chain {
			name = "nochain"
		}
		b.Run(name, func(b *testing.B) { benchSaleCommit(b, chain) })
	}
}

func benchSaleCommit(b *testing.B, chain bool) {
	ctx := context.Background()
	l, _ := benchLedger(b, benchDir(b))
	sh, err := l.OpenShift(ctx, "1001", time.Now(), app.AuditEntry{})
	if err != nil {
		b.Fatal(err)
	}
	if !chain {
		err := l.WriteTx(ctx, func(tx *sql.Tx) error {
			for _, t := range []string{"sales_dirty_i", "sales_dirty_u", "sales_dirty_d", "outbox_dirty_i", "outbox_dirty_u", "outbox_dirty_d"} {
				if _, err := tx.ExecContext(ctx, "DROP TRIGGER "+t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	const n = 1000
	var rec, iss, all []time.Duration
	for range b.N {
		rec, iss, all = rec[:0], iss[:0], all[:0]
		for i := range n {
			key := app.NewIdempotencyKey()
			s := app.SaleRecord{Key: key, Kind: app.KindSingleJourney, Operator: "1001", ShiftID: sh.ID, BuyerToken: "3f9a0c1b2d4e5f60718293a4b5c6d7e8",
				BuyerMasked: "1**************036", DestCode: "0114", DestName: "国贸", FareFen: 400, Payment: app.PayCash, TokenSerial: fmt.Sprintf("99%08d", i)}
			t0 := time.Now()
			if _, _, err := l.BeginSale(ctx, s, app.AuditEntry{Operator: "1001", Action: app.ActTicketIssue, Outcome: app.OutcomeSuccess, Detail: "recorded"}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			body, _ := json.Marshal(s.Wire("T01"))
			if _, err := l.CompleteSale(ctx, key, s.TokenSerial, t1, app.ForwardItem{Kind: app.ForwardSale, Key: key, Body: body},
				app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Outcome: app.OutcomeSuccess, Detail: "issued"}); err != nil {
				b.Fatal(err)
			}
			rec, iss, all = append(rec, t1.Sub(t0)), append(iss, time.Since(t1)), append(all, time.Since(t0))
		}
	}
	var covered int
	if err := l.DB().Read().QueryRow("SELECT count(*) FROM audit_records WHERE tbl = 'sales'").Scan(&covered); err != nil {
		b.Fatal(err)
	}
	if chain != (covered > 0) {
		b.Fatalf("chain=%v but %d sale records are covered", chain, covered)
	}
	quantiles(b, "record-", rec)
	quantiles(b, "issued-", iss)
	quantiles(b, "sale-", all)
}

// BenchmarkForwardBacklog10k queues 10,000 sale records (an outage's
// worth) and measures how long the worker takes to forward them all to
// the central simulator on loopback. Target: ≤ 30 s.
//
//	go test -run '^$' -bench ForwardBacklog -benchtime 1x ./offline/outbox/sales/
func BenchmarkForwardBacklog10k(b *testing.B) {
	ctx := context.Background()
	const n = 10000
	for range b.N {
		b.StopTimer()
		dir := benchDir(b)
		l, _ := benchLedger(b, dir)
		s, err := centralsim.New(centralsim.Config{DataDir: filepath.Join(dir, "sim"), NoDemo: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		c, err := central.New(central.Config{BaseURL: s.URL(), StationToken: centralsim.DefaultStationToken})
		if err != nil {
			b.Fatal(err)
		}
		err = l.WriteTx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				key := app.NewIdempotencyKey()
				rec := app.SaleRecord{Key: key, Kind: app.KindSingleJourney, Operator: "1001", BuyerToken: "3f9a0c1b2d4e5f60718293a4b5c6d7e8",
					BuyerMasked: "1**************036", FareFen: 400, Payment: app.PayCash, TokenSerial: fmt.Sprintf("99%08d", i), Issued: time.Now()}
				body, _ := json.Marshal(rec.Wire("T01"))
				if _, err := l.EnqueueTx(ctx, tx, ledger.NewItem{Kind: app.ForwardSale, Key: key, Body: body}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		w, err := sales.New(sales.Config{Ledger: l, Sender: c, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		got, err := w.Drain(ctx)
		el := time.Since(t0)
		b.StopTimer()
		if err != nil || got != n {
			b.Fatalf("forwarded %d of %d: %v", got, n, err)
		}
		var held int
		s.DB().Read().QueryRow("SELECT count(*) FROM records").Scan(&held)
		if held != n {
			b.Fatalf("central holds %d", held)
		}
		b.ReportMetric(el.Seconds(), "s/10k")
		b.ReportMetric(float64(n)/el.Seconds(), "records/s")
		s.Stop()
		s.Close()
	}
}

// BenchmarkIDToTicket measures, with the simulated ID-card and transit-card
// readers on ptys at 115200 baud driven by the real drivers, the central
// simulator on loopback and a real ledger: ID card placed (with a blank
// token on the card reader) → ID read → health from central → ticket
// written onto the token and the sale recorded as issued. The clerk's
// clicks are not included. 10 sales per run. Target: ≤ 2 s.
//
//	go test -run '^$' -bench IDToTicket -benchtime 1x ./offline/outbox/sales/
func BenchmarkIDToTicket(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := benchDir(b)
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: filepath.Join(dir), Baud: 115200})
	if err != nil {
		b.Skipf("no ptys: %v", err)
	}
	defer d.Close()
	board := app.NewStatusBoard(app.SystemClock{})
	ports := d.Ports()
	set, err := devices.Start(ctx, devices.Config{IDReader: devices.PortConfig{Port: ports.IDReader}, CardReader: devices.PortConfig{Port: ports.CardReader}},
		board, app.SystemClock{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); set.Wait() }()
	for i := 0; board.Get(app.CompIDReader).State != app.StateReady || board.Get(app.CompCardReader).State != app.StateReady; i++ {
		if i > 400 {
			b.Fatal("readers not ready")
		}
		time.Sleep(25 * time.Millisecond) // benchmark set-up: poll until the readers are up
	}
	s, err := centralsim.New(centralsim.Config{DataDir: filepath.Join(dir, "sim")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	c, err := central.New(central.Config{BaseURL: s.URL(), StationToken: centralsim.DefaultStationToken})
	if err != nil {
		b.Fatal(err)
	}
	l, keys := benchLedger(b, dir)
	tokens, _ := app.NewTokenizer(keys.Index[:])
	desk, err := app.NewSales(app.SalesConfig{Store: l, Audit: l, Cards: set.Card, Tokens: tokens, Fares: loadFares(b),
		Health: sales.Central{Client: c}, Station: "T01"})
	if err != nil {
		b.Fatal(err)
	}
	clerk := demoOps[0].Operator
	if _, err := l.OpenShift(ctx, clerk.ID, time.Now(), app.AuditEntry{}); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for range b.N {
		for i := range 10 {
			// A fresh blank token (each token has its own serial).
			if err := d.Card.Place(app.Card{Number: fmt.Sprintf("98%08d", len(lat)*10+i), Kind: app.CardSingleJourney, Form: app.FormPhysical}); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := d.PlaceIDCard("green-fresh"); err != nil {
				b.Fatal(err)
			}
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			id, err := set.ID.ReadID(rctx)
			if err != nil {
				b.Fatal(err)
			}
			chk, err := desk.CheckBuyer(rctx, clerk, id)
			if err != nil || chk.Decision() != app.BuyerOK {
				b.Fatalf("check %v %v", chk, err)
			}
			res, err := desk.Sell(rctx, clerk, chk, cash)
			rcancel()
			if err != nil || res.Record.State != app.SaleIssued {
				b.Fatalf("sell %v", err)
			}
			lat = append(lat, time.Since(t0))
			d.LiftIDCard()
			time.Sleep(50 * time.Millisecond) // paces the simulated rider between sales (benchmark)
		}
	}
	quantiles(b, "", lat)
}
