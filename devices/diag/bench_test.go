//go:build !windows

package diag

import (
	"context"
	"testing"
	"time"
)

// The issue-3 figures as Go benchmarks (`go test -run '^$' -bench .
// ./devices/diag`); `stationdesk devices bench` prints the same figures
// with the simulators in a child process for the idle figure.

func BenchmarkIDCardPlacedToDocument(b *testing.B) {
	r, err := BenchIDCard(context.Background(), max(b.N, 20), 115200)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P95.Microseconds())/1000, "p95-ms")
}

func BenchmarkTransitCardPlacedToNumber(b *testing.B) {
	r, err := BenchTransitCard(context.Background(), max(b.N, 20), 115200)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P95.Microseconds())/1000, "p95-ms")
}

func BenchmarkIdlePollCPU(b *testing.B) {
	r, err := BenchIdle(context.Background(), 5*time.Second, 115200, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Drivers, "%core-drivers+sim-answers")
}
