//go:build !windows

package diag

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"stationdesk/app/demo"
	"stationdesk/devices/sim"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := MainIO(ctx, args, strings.NewReader(""), &out, &errb)
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
		code, stdout, stderr := run(t, "read-id", "--port", p.IDReader, "--timeout", "5s", "--at", "2024-06-01")
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
		code, stdout, _ := run(t, "read-id", "--port", p.IDReader, "--timeout", "5s", "--reveal")
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
		code, stdout, _ := run(t, "read-card", "--port", p.CardReader, "--timeout", "5s")
		m := lastJSON(t, stdout)
		if code != ExitOK || m["kind"] != "union" || m["city"] != "上海" || strings.Contains(stdout, demo.ShanghaiNumber) {
			t.Fatalf("exit %d %v", code, m)
		}
	})
	t.Run("Scan", func(t *testing.T) {
		go func() { time.Sleep(300 * time.Millisecond); d.ScanCode("BJMETRO:ride:secret-0001") }()
		code, stdout, _ := run(t, "scan", "--port", p.Scanner, "--baud", "115200", "--timeout", "5s")
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
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- MainIO(ctx, []string{"sim", "--dir", t.TempDir(), "--baud", "0"}, pr, &syncWriter{w: &out}, &errb)
	}()
	io.WriteString(pw, "place-id hk-resident\nplace-card 1000200001\nbogus\n")
	time.Sleep(500 * time.Millisecond)
	cancel()
	pw.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), `"event":"sim"`) || strings.Count(out.String(), `"event":"ok"`) != 2 || !strings.Contains(errb.String(), "bogus") {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
}

type syncWriter struct{ w *bytes.Buffer }

func (s *syncWriter) Write(p []byte) (int, error) { return s.w.Write(p) }
