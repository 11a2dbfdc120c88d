package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// TestReaderBackClearsError: after a reader error, a read that waits
// normally again reports onErr(nil) so the screen takes its red message
// down, before the value arrives.
func TestReaderBackClearsError(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	calls := 0
	back := make(chan struct{})
	read := func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", app.NewError(app.CodeUnavailable, "timeout", "超时", "timeout")
		}
		// The reader is back and waiting: the card arrives only once the
		// screen has been told so (or the deadline passes, and the order
		// check below fails).
		select {
		case <-back:
		case <-time.After(30 * time.Second):
		}
		return "card", nil
	}
	waitReader(Background{Spawn: inline.Spawn}, context.Background(), read, func(v string) { add("value:" + v) }, func(err error) {
		if err == nil {
			add("back")
			close(back)
		} else {
			add("error")
		}
	})
	mu.Lock()
	got := strings.Join(events, " ")
	mu.Unlock()
	if got != "error back value:card" {
		t.Fatalf("events %q, want error, back, value", got)
	}
}

func TestReaderStatusRestoresWaitingText(t *testing.T) {
	h := newHarness(t, app.LangEN)
	l := widget.NewLabel("Waiting for the ID reader…")
	onErr := h.desk.readerStatus(l, "ID reader:", "Type it instead.")
	onErr(app.NewError(app.CodeUnavailable, "reader_disconnected", "读卡器已断开", "The reader was disconnected."))
	if l.Importance != widget.DangerImportance || !strings.Contains(l.Text, "disconnected") {
		t.Fatalf("after an error: %q (%v)", l.Text, l.Importance)
	}
	onErr(nil)
	if l.Text != "Waiting for the ID reader…" || l.Importance == widget.DangerImportance {
		t.Fatalf("after the reader came back: %q (%v)", l.Text, l.Importance)
	}
}
