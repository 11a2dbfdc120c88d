package serial

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
)

// statusLog records what Drive reports.
type statusLog struct {
	mu     sync.Mutex
	states []string
	downs  int
}

func (l *statusLog) set(s app.State, d string) {
	l.mu.Lock()
	l.states = append(l.states, string(s)+":"+d)
	l.mu.Unlock()
}

func (l *statusLog) down() { l.mu.Lock(); l.downs++; l.mu.Unlock() }

func (l *statusLog) snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.states...), l.downs
}

func TestDrive(t *testing.T) {
	t.Run("NotConfigured", func(t *testing.T) {
		var l statusLog
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		Drive(ctx, DriveConfig{Status: l.set, Down: l.down}, func(context.Context, *Port) error {
			t.Error("session ran without a port")
			return nil
		})
		st, downs := l.snapshot()
		if len(st) != 1 || st[0] != "not_configured:" || downs != 0 {
			t.Fatalf("states %v downs %d", st, downs)
		}
	})
	t.Run("MissingPortIsAnErrorAndFailsWaiters", func(t *testing.T) {
		var l statusLog
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		path := filepath.Join(t.TempDir(), "ttyGONE")
		Drive(ctx, DriveConfig{Keep: KeepConfig{Path: path, Baud: 115200, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
			Status: l.set, Down: l.down}, func(context.Context, *Port) error {
			t.Error("session ran on a missing port")
			return nil
		})
		st, downs := l.snapshot()
		if len(st) < 2 || st[0] != "connecting:"+path || st[len(st)-1] != "error:port not found" {
			t.Fatalf("states %v", st)
		}
		if downs < 2 { // at least one lost-port report and the final one
			t.Fatalf("Down called %d times", downs)
		}
	})
}
