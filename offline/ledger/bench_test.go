package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"stationdesk/app"
)

// benchLedger opens a ledger in $STATIONDESK_BENCH_DIR (default: a temp
// folder). Put it on the disk the terminal will use: on tmpfs fsync is
// free and the figure means nothing.
func benchLedger(b *testing.B) *Ledger {
	b.Helper()
	dir := b.TempDir()
	if d := os.Getenv("STATIONDESK_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "ledger-bench-*"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	keys, err := LoadOrCreateKeys(dir)
	if err != nil {
		b.Fatal(err)
	}
	l, err := Open(context.Background(), filepath.Join(dir, FileName), keys, Options{KDF: testKDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkLedgerCommit measures one durable ledger commit
// (synchronous=FULL, WAL): an audit entry alone ("audit"), and a sale's
// audit entry + sealed outbox item in one transaction ("sale"), the same
// without writing the signed checkpoint after it ("sale-nocheckpoint":
// the checkpoint's cost is the difference).
// Target: p99 ≤ 10 ms.
//
//	go test -tags x11 -run='^$' -bench=LedgerCommit -benchtime=2000x -count=5 ./offline/ledger/
func BenchmarkLedgerCommit(b *testing.B) {
	ctx := context.Background()
	b.Run("audit", func(b *testing.B) {
		l := benchLedger(b)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			start := time.Now()
			if err := l.Append(ctx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("tok-%d", i), Outcome: app.OutcomeSuccess, Detail: "fare 4"}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
	for _, ck := range []bool{true, false} {
		name := "sale"
		if !ck {
			name = "sale-nocheckpoint"
		}
		b.Run(name, func(b *testing.B) {
			l := benchLedger(b)
			if !ck {
				l.testHookBeforeCheckpoint = func() bool { return false } // the checkpoint file is not written
			}
			lat := make([]time.Duration, 0, b.N)
			body := []byte(`{"fare":4,"payment":"cash","doc":"3f9a0c1b2d4e5f60718293a4b5c6d7e8"}`)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				err := l.WriteTx(ctx, func(tx *sql.Tx) error {
					if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("tok-%d", i), Outcome: app.OutcomeSuccess}); err != nil {
						return err
					}
					_, err := l.EnqueueTx(ctx, tx, NewItem{Kind: "sale", Key: fmt.Sprintf("sale-%d", i), Body: body, Personal: `{"name":"x"}`})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkPINHash measures one PIN hash (argon2id over the peppered PIN)
// with DefaultKDF, the cost of a login and of one offline guess, and with
// the neighbouring parameter sets it was chosen from. Floor: 250 ms.
//
// Wall-clock figures include waiting for a core on a busy machine; the
// cpu-ms/op metric (process CPU time, Unix only) does not.
//
//	go test -tags x11 -run='^$' -bench=PINHash -benchtime=10x ./offline/ledger/
func BenchmarkPINHash(b *testing.B) {
	keys, err := NewKeys()
	if err != nil {
		b.Fatal(err)
	}
	salt := make([]byte, pinSaltLen)
	for _, c := range []struct {
		name string
		p    KDFParams
	}{
		{"default", DefaultKDF},
		{"t=1,64MiB", KDFParams{Time: 1, MemoryKiB: 64 * 1024, Threads: 1}},
		{"t=3,64MiB", KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 1}},
		{"t=2,128MiB", KDFParams{Time: 2, MemoryKiB: 128 * 1024, Threads: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime()
			for range b.N {
				start := time.Now()
				keys.hashPIN(schemePepper1, "135790", salt, c.p)
				lat = append(lat, time.Since(start))
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			reportLatency(b, lat)
		})
	}
}

// BenchmarkAuditVerify measures Verify over a 10,000-entry chain.
//
//	go test -run='^$' -bench=AuditVerify ./offline/ledger/
func BenchmarkAuditVerify(b *testing.B) {
	ctx := context.Background()
	l := benchLedger(b)
	err := l.WriteTx(ctx, func(tx *sql.Tx) error {
		for i := range 10000 {
			if _, err := l.AppendTx(ctx, tx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: fmt.Sprintf("tok-%d", i), Outcome: app.OutcomeSuccess}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if res, err := l.Verify(ctx); err != nil || !res.OK {
			b.Fatal(res, err)
		}
	}
}
