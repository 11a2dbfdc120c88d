//go:build !windows

package diag

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app/demo"
	"stationdesk/devices/sim"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runWatch(t, nil, args...)
}

// runWatch is run with onLine called for each line the command prints to
// stdout as it prints it (to act when the driver reports it is ready).
func runWatch(t *testing.T, onLine func(string), args ...string) (int, string, string) {
	t.Helper()
	out := &syncWriter{onLine: onLine}
	var errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := MainIO(ctx, args, strings.NewReader(""), out, &errb)
	return code, out.String(), errb.String()
}

func lastJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("not JSON lines: %q", s)
	}
	return m
}

func TestCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := sim.StartDemo(ctx, sim.DemoConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := d.Ports()
	fresh, _ := demo.RiderByKey("green-fresh")
	number, name := fresh.Identity.Doc.Reveal(), fresh.Identity.Name.Reveal()

	t.Run("UsageWithoutCommand", func(t *testing.T) {
		if code, _, _ := run(t); code != ExitUsage {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("MissingPort", func(t *testing.T) {
		code, _, stderr := run(t, "read-id", "--port", "/dev/ttyUSB-missing", "--timeout", "1s")
		if code != ExitUsage || !strings.Contains(stderr, "not found") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("PortFlagRequired", func(t *testing.T) {
		if code, _, _ := run(t, "read-card"); code != ExitUsage {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("ReadIDMasked", func(t *testing.T) {
		d.PlaceIDCard("green-fresh")
		defer d.LiftIDCard()
		code, stdout, stderr := run(t, "read-id", "--port", p.IDReader, "--timeout", "30s", "--at", "2024-06-01")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		m := lastJSON(t, stdout)
		if m["event"] != "identity" || m["doc_type"] != "cn-id" || m["doc"] != fresh.Identity.Doc.Masked() {
			t.Fatalf("got %v", m)
		}
		if strings.Contains(stdout, number) || strings.Contains(stdout, name) || strings.Contains(stdout, "示例") {
			t.Fatalf("personal data in masked output: %s", stdout)
		}
	})
	t.Run("ReadIDReveal", func(t *testing.T) {
		d.PlaceIDCard("green-fresh")
		defer d.LiftIDCard()
		code, stdout, _ := run(t, "read-id", "--port", p.IDReader, "--timeout", "30s", "--reveal")
		m := lastJSON(t, stdout)
		if code != ExitOK || m["doc"] != number || m["name"] != name || m["birth"] != "1988-03-14" {
			t.Fatalf("exit %d, %v", code, m)
		}
	})
	t.Run("ReadIDTimeout", func(t *testing.T) {
		code, stdout, stderr := run(t, "read-id", "--port", p.IDReader, "--timeout", "500ms")
		if code != ExitTimeout || lastJSON(t, stdout)["reason"] != "timeout" || !strings.Contains(stderr, "timeout") {
			t.Fatalf("exit %d %q %q", code, stdout, stderr)
		}
	})
	t.Run("ReadIDWrongDevice", func(t *testing.T) {
		code, _, stderr := run(t, "read-id", "--port", p.Scanner, "--timeout", "2s")
		if code != ExitDevice || !strings.Contains(stderr, "reader_not_responding") {
			t.Fatalf("exit %d %q", code, stderr)
		}
	})
	t.Run("ReadCard", func(t *testing.T) {
		d.PlaceTransitCard(demo.ShanghaiNumber)
		defer d.LiftTransitCard()
		code, stdout, _ := run(t, "read-card", "--port", p.CardReader, "--timeout", "30s")
		m := lastJSON(t, stdout)
		if code != ExitOK || m["kind"] != "union" || m["city"] != "上海" || strings.Contains(stdout, demo.ShanghaiNumber) {
			t.Fatalf("exit %d %v", code, m)
		}
	})
	t.Run("Scan", func(t *testing.T) {
		// Scan once the command's scanner has its port open (it waits for
		// a code from the start; a code sent before the port is open would
		// be lost in the pty).
		scanned := false
		onLine := func(l string) {
			if !scanned && strings.Contains(l, `"component":"scanner"`) && strings.Contains(l, `"state":"ready"`) {
				scanned = true
				go d.ScanCode("BJMETRO:ride:secret-0001")
			}
		}
		code, stdout, _ := runWatch(t, onLine, "scan", "--port", p.Scanner, "--baud", "115200", "--timeout", "30s")
		m := lastJSON(t, stdout)
		if code != ExitOK || m["len"] != float64(24) || strings.Contains(stdout, "secret") {
			t.Fatalf("exit %d %v", code, m)
		}
	})
	t.Run("List", func(t *testing.T) {
		if code, _, _ := run(t, "list"); code != ExitOK {
			t.Fatalf("exit %d", code)
		}
	})
}

func TestSimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	out, errb := &syncWriter{}, &syncWriter{}
	done := make(chan int)
	go func() {
		done <- MainIO(ctx, []string{"sim", "--dir", t.TempDir(), "--baud", "0"}, pr, out, errb)
	}()
	io.WriteString(pw, "place-id hk-resident\nplace-card 1000200001\nbogus\n")
	// The three commands are answered in order: the third's complaint on
	// stderr means all were handled.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "bogus") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
	}
	cancel()
	pw.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), `"event":"sim"`) || strings.Count(out.String(), `"event":"ok"`) != 2 || !strings.Contains(errb.String(), "bogus") {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
}

// syncWriter is a buffer the command under test writes to while the test
// reads it; onLine, if set, sees each complete line as it is written.
type syncWriter struct {
	mu      sync.Mutex
	b       bytes.Buffer
	partial string
	onLine  func(string)
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if s.onLine != nil {
		s.partial += string(p)
		for {
			i := strings.IndexByte(s.partial, '\n')
			if i < 0 {
				break
			}
			s.onLine(s.partial[:i])
			s.partial = s.partial[i+1:]
		}
	}
	return len(p), nil
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
