package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCentralsimCLI runs `stationdesk centralsim`: a usage error without
// --data, then a start that prints the URL and admin token and a clean
// stop when the context ends.
func TestCentralsimCLI(t *testing.T) {
	var errOut bytes.Buffer
	if code := cmdCentralsim(context.Background(), []string{"--listen", "127.0.0.1:0"}, io.Discard, &errOut); code != 2 {
		t.Fatalf("missing --data: exit %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuf{}
	done := make(chan int)
	go func() {
		done <- cmdCentralsim(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "sim"), "--admin-token", "t0k"}, out, io.Discard)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "admin token: t0k") {
		if time.Now().After(deadline) {
			t.Fatalf("no start line: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
