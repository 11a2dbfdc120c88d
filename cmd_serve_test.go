package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"stationdesk/offline/datadir"
	"stationdesk/offline/ledger"
)

// serveConfig writes a serve configuration for data on a random
// loopback port; central is a closed loopback port (sync retries).
func serveConfig(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.toml")
	cfg := "data_dir = " + strconv.Quote(data) + "\nlisten = \"127.0.0.1:0\"\nmode = \"test\"\nstation_id = \"st-0101\"\n[central]\nurl = \"http://127.0.0.1:9\"\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecondServeRefused: serve takes the data folder's lock as the desk
// does. With one serve running, a second on the same folder exits 1
// naming the folder and the PID that holds it, in both languages; the
// first keeps running and stops cleanly.
func TestSecondServeRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	// The station keys, as setup makes them (serve never creates them);
	// the folder has no kind marker yet.
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.LoadOrCreateKeys(data); err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig(t, data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuf{}
	done := make(chan int, 1)
	firstErr := &lockedBuf{}
	go func() { done <- cmdServe(ctx, []string{"--config", cfg, "--demo-key"}, out, firstErr) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "gate verify service on") {
		select {
		case code := <-done:
			t.Fatalf("first serve exited %d: %q", code, firstErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("first serve did not start: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
	}
	errOut := &lockedBuf{}
	// Were it not refused, the second would run until this deadline and
	// exit 0.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	code := cmdServe(ctx2, []string{"--config", cfg, "--demo-key"}, io.Discard, errOut)
	pid := "PID " + strconv.Itoa(os.Getpid())
	if code != 1 || !strings.Contains(errOut.String(), pid) || !strings.Contains(errOut.String(), data) || !strings.Contains(errOut.String(), "正被另一个进程") {
		t.Fatalf("second serve: exit %d, %q", code, errOut.String())
	}
	select {
	case code := <-done:
		t.Fatalf("the first serve stopped (exit %d) when the second was refused", code)
	default:
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("first serve: exit %d", code)
	}
	// The folder is marked production (no --demo).
	if k, ok, err := datadir.ReadKind(data); err != nil || !ok || k != datadir.Production {
		t.Fatalf("serve's folder kind: %q %v %v", k, ok, err)
	}
}

// TestServeKindChecked: serve refuses a demo folder without --demo and a
// production one with it, as the desk does.
func TestServeKindChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		have datadir.Kind
		args []string
	}{
		{"DemoFolderWithoutDemo", datadir.Demo, nil},
		{"ProductionFolderWithDemo", datadir.Production, []string{"--demo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			d, err := datadir.Open(data, tc.have)
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			errOut := &lockedBuf{}
			args := append([]string{"--config", serveConfig(t, data), "--demo-key"}, tc.args...)
			if code := cmdServe(context.Background(), args, io.Discard, errOut); code != 1 || !strings.Contains(errOut.String(), data) {
				t.Fatalf("exit %d, %q", code, errOut.String())
			}
			if _, err := os.Stat(filepath.Join(data, "gate")); err == nil {
				t.Fatal("serve opened its stores in a folder of the other kind")
			}
		})
	}
}

// TestCentralsimFolderChecked: the simulator's folder is a demo
// one; a production folder is refused and a held one names its holder.
func TestCentralsimFolderChecked(t *testing.T) {
	prod := filepath.Join(t.TempDir(), "data")
	d, err := datadir.Open(prod, datadir.Production)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	errOut := &lockedBuf{}
	if code := cmdCentralsim(context.Background(), []string{"--listen", "127.0.0.1:0", "--data", prod}, io.Discard, errOut); code != 1 || !strings.Contains(errOut.String(), "production folder") {
		t.Fatalf("centralsim on a production folder: exit %d, %q", code, errOut.String())
	}
	sim := filepath.Join(t.TempDir(), "sim")
	held, err := datadir.Open(sim, datadir.Demo)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	errOut = &lockedBuf{}
	if code := cmdCentralsim(context.Background(), []string{"--listen", "127.0.0.1:0", "--data", sim}, io.Discard, errOut); code != 1 || !strings.Contains(errOut.String(), "PID "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("centralsim on a held folder: exit %d, %q", code, errOut.String())
	}
}
