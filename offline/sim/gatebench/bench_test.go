package gatebench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestQuartiles(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want [5]float64
	}{
		{[]float64{9, 1, 8, 2, 7, 3, 6, 4, 5}, [5]float64{1, 3, 5, 7, 9}},
		{[]float64{70}, [5]float64{70, 70, 70, 70, 70}},
		{[]float64{90, 80}, [5]float64{80, 80, 90, 90, 90}},
	} {
		if got := quartiles(append([]float64(nil), c.in...)); got != c.want {
			t.Errorf("quartiles(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestProcCPU: the CPU time read from /proc grows while this process
// works, and a process that does not exist is an error.
func TestProcCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	c0, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	x := uint64(1)
	for {
		for i := 0; i < 1_000_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		c1, err := procCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if c1 > c0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %.2f s while computing (%d)", c0, x)
		}
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
	if got := cpuPerAnswer(loadReport{OK: 1000, ServerCPU: 0.042}); got < 41.99 || got > 42.01 {
		t.Fatalf("cpuPerAnswer = %.3f µs, want 42", got)
	}
	if got := cpuPerAnswer(loadReport{OK: 1000}); got != 0 {
		t.Fatalf("unmeasured CPU gave %.3f µs", got)
	}
}

func TestParsePageSizes(t *testing.T) {
	got, err := parsePageSizes("1024, 4096,65536")
	if err != nil || len(got) != 3 || got[0] != 1024 || got[1] != 4096 || got[2] != 65536 {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "3000", "256", "131072", "4096,", "4k", "-4096"} {
		if got, err := parsePageSizes(bad); err == nil {
			t.Errorf("%q accepted as %v", bad, got)
		}
	}
}

// TestReadProcMemory: this process's memory is read from /proc, its peak
// grows when it holds more, and a process that does not exist is an error.
func TestReadProcMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m0, err := readProcMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m0.PeakKiB <= 0 || m0.AnonKiB <= 0 || m0.FileKiB <= 0 || m0.AnonKiB+m0.FileKiB > m0.PeakKiB+1024 {
		t.Fatalf("implausible memory %+v", m0)
	}
	hold := make([]byte, 256<<20)
	for i := range hold {
		hold[i] = byte(i) // touched, so it is resident
	}
	m1, err := readProcMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m1.PeakKiB < m0.PeakKiB+200<<10 || m1.AnonKiB < m0.AnonKiB+200<<10 {
		t.Fatalf("256 MiB held: peak %d -> %d KiB, anonymous %d -> %d KiB", m0.PeakKiB, m1.PeakKiB, m0.AnonKiB, m1.AnonKiB)
	}
	runtime.KeepAlive(hold)
	if _, err := readProcMemory(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
