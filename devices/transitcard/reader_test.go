//go:build !windows

package transitcard_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices/sim"
	"stationdesk/devices/transitcard"
)

var testNow = time.Date(2026, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

type rig struct {
	sim    *sim.CardReader
	reader *transitcard.Reader
	board  *app.StatusBoard
	states chan app.Status
	cancel context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := sim.NewCardReader(ctx, filepath.Join(t.TempDir(), "ttyCARD"), 0)
	if err != nil {
		t.Fatal(err)
	}
	board := app.NewStatusBoard(app.SystemClock{})
	states := make(chan app.Status, 1024)
	board.Subscribe(func(st app.Status) {
		if st.Component == app.CompCardReader {
			select {
			case states <- st:
			default:
			}
		}
	})
	r := transitcard.New(transitcard.Config{Port: s.Path(), Board: board, Clock: app.NewFakeClock(testNow),
		PollInterval: 20 * time.Millisecond, Timeout: 300 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	g := &rig{sim: s, reader: r, board: board, states: states, cancel: cancel, done: make(chan struct{})}
	go func() { r.Run(ctx); close(g.done) }()
	t.Cleanup(func() {
		cancel()
		<-g.done
		s.Close()
	})
	g.waitState(t, app.StateReady, "")
	return g
}

func (g *rig) waitState(t *testing.T, s app.State, sub string) {
	t.Helper()
	if cur := g.board.Get(app.CompCardReader); cur.State == s && strings.Contains(cur.Detail, sub) {
		return
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st := <-g.states:
			if st.State == s && strings.Contains(st.Detail, sub) {
				return
			}
		case <-timeout:
			t.Fatalf("reader never reached %s %q; now %+v", s, sub, g.board.Get(app.CompCardReader))
		}
	}
}

func (g *rig) read(t *testing.T) (app.Card, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.reader.ReadCard(ctx)
}

func TestReadEachKind(t *testing.T) {
	validTo := time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		card app.Card
		want app.Card
	}{
		{"Ordinary", app.Card{Number: "1000200001", Kind: app.CardOrdinary, Form: app.FormPhysical, Balance: 4560, ValidTo: validTo},
			app.Card{Number: "1000200001", Kind: app.CardOrdinary, Form: app.FormPhysical, Balance: 4560, ValidTo: validTo}},
		{"PhoneNFC", app.Card{Number: "1000300001", Kind: app.CardOrdinary, Form: app.FormNFC, Balance: 1280, ValidTo: validTo},
			app.Card{Number: "1000300001", Kind: app.CardOrdinary, Form: app.FormNFC, Balance: 1280, ValidTo: validTo}},
		{"Student", app.Card{Number: "1000500001", Kind: app.CardStudent, Balance: 100, ValidTo: validTo},
			app.Card{Number: "1000500001", Kind: app.CardStudent, Form: app.FormPhysical, Balance: 100, ValidTo: validTo}},
		{"SpecialElder", app.Card{Number: "1000400001", Kind: app.CardSpecialElder, Balance: 0, ValidTo: validTo},
			app.Card{Number: "1000400001", Kind: app.CardSpecialElder, Form: app.FormPhysical, Balance: 0, ValidTo: validTo}},
		{"CivilAffairs", app.Card{Number: "1000700001", Kind: app.CardCivilAffairs, ValidTo: validTo},
			app.Card{Number: "1000700001", Kind: app.CardCivilAffairs, Form: app.FormPhysical, ValidTo: validTo}},
		{"Commemorative", app.Card{Number: "1000600001", Kind: app.CardCommemorative, Balance: 2000, ValidTo: validTo},
			app.Card{Number: "1000600001", Kind: app.CardCommemorative, Form: app.FormPhysical, Balance: 2000, ValidTo: validTo}},
		{"Overdrawn", app.Card{Number: "1000200099", Kind: app.CardOrdinary, Balance: -350, ValidTo: validTo},
			app.Card{Number: "1000200099", Kind: app.CardOrdinary, Form: app.FormPhysical, Balance: -350, ValidTo: validTo}},
		{"UnionShanghai", app.Card{Number: "3104290000000000017", Kind: app.CardUnion, Balance: 3550, ValidTo: validTo},
			app.Card{Number: "3104290000000000017", Kind: app.CardUnion, City: "上海", Form: app.FormPhysical, Balance: 3550, ValidTo: validTo}},
		{"UnionBeijingIsOrdinary", app.Card{Number: "3104100000000000025", Kind: app.CardUnion, Balance: 10, ValidTo: validTo},
			app.Card{Number: "3104100000000000025", Kind: app.CardOrdinary, City: "北京", Form: app.FormPhysical, Balance: 10, ValidTo: validTo}},
		{"UnionPayNumberNotRead", app.Card{Number: "6216610000000099", Kind: app.CardUnionPay},
			app.Card{Kind: app.CardUnionPay, Form: app.FormPhysical, Balance: -1}},
		{"DCEPWearable", app.Card{Number: "0086000000000001", Kind: app.CardDCEPWearable},
			app.Card{Kind: app.CardDCEPWearable, Form: app.FormPhysical, Balance: -1}},
		{"BlankToken", app.Card{Number: "9900000001", Kind: app.CardSingleJourney},
			app.Card{Number: "9900000001", Kind: app.CardSingleJourney, Form: app.FormPhysical, Balance: 0}},
	}
	g := newRig(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := g.sim.Place(tt.card); err != nil {
				t.Fatal(err)
			}
			got, err := g.read(t)
			if err != nil {
				t.Fatal(err)
			}
			if got.Number != tt.want.Number || got.Kind != tt.want.Kind || got.Form != tt.want.Form || got.City != tt.want.City ||
				got.Balance != tt.want.Balance || !got.ValidTo.Equal(tt.want.ValidTo) {
				t.Fatalf("got  %+v %s %s %d %v\nwant %+v %s %s %d %v", got, got.Number, got.City, got.Balance, got.ValidTo,
					tt.want, tt.want.Number, tt.want.City, tt.want.Balance, tt.want.ValidTo)
			}
			g.sim.Lift()
		})
	}
}

func TestIssueSingleJourney(t *testing.T) {
	g := newRig(t)
	spec := app.TicketSpec{FareFen: 300, Origin: "0150", ValidUntil: testNow.Add(2 * time.Hour)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	g.sim.Place(app.Card{Number: "9900000001", Kind: app.CardSingleJourney})
	tok, err := g.reader.IssueSingleJourney(ctx, spec)
	if err != nil || tok != "9900000001" {
		t.Fatalf("issue: %q %v", tok, err)
	}
	want := "9900000001" + "01" + "012c" + "0150" + testNow.Add(2*time.Hour).Format("200601021504")
	if got := hex.EncodeToString(g.sim.File(1)); got != want {
		t.Fatalf("token file %s, want %s", got, want)
	}
	c, err := g.reader.ReadCard(ctx)
	if err != nil || c.Kind != app.CardSingleJourney || c.Balance != 300 {
		t.Fatalf("read back %+v %v", c, err)
	}

	t.Run("NotBlank", func(t *testing.T) {
		if _, err := g.reader.IssueSingleJourney(ctx, spec); app.ErrorReason(err) != "not_blank" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("PlacedAgainStillWritten", func(t *testing.T) {
		// A real token keeps its ticket when lifted; the simulator too,
		// until the token is recycled (erased at the exit gate).
		g.sim.Lift()
		g.sim.Place(app.Card{Number: "9900000001", Kind: app.CardSingleJourney})
		if c, err := g.reader.ReadCard(ctx); err != nil || c.Balance != 300 {
			t.Fatalf("placed again: %+v %v, want the ticket of 300 fen", c, err)
		}
		g.sim.Recycle("9900000001")
		g.sim.Place(app.Card{Number: "9900000001", Kind: app.CardSingleJourney})
		if c, err := g.reader.ReadCard(ctx); err != nil || c.Balance != 0 || !c.ValidTo.IsZero() {
			t.Fatalf("recycled: %+v %v, want blank", c, err)
		}
	})
	t.Run("NotToken", func(t *testing.T) {
		g.sim.Place(app.Card{Number: "1000200001", Kind: app.CardOrdinary, Balance: 1})
		if _, err := g.reader.IssueSingleJourney(ctx, spec); app.ErrorReason(err) != "not_token" {
			t.Fatalf("got %v", err)
		}
	})
	for _, bad := range []struct {
		name string
		spec app.TicketSpec
	}{
		{"ZeroFare", app.TicketSpec{FareFen: 0, Origin: "0150", ValidUntil: testNow.Add(time.Hour)}},
		{"HugeFare", app.TicketSpec{FareFen: 70000, Origin: "0150", ValidUntil: testNow.Add(time.Hour)}},
		{"BadOrigin", app.TicketSpec{FareFen: 300, Origin: "01A0", ValidUntil: testNow.Add(time.Hour)}},
		{"Past", app.TicketSpec{FareFen: 300, Origin: "0150", ValidUntil: testNow.Add(-time.Hour)}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := g.reader.IssueSingleJourney(ctx, bad.spec); app.ErrorReason(err) != "ticket_spec" {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestCardLiftedMidRead(t *testing.T) {
	g := newRig(t)
	g.sim.Place(app.Card{Number: "1000200001", Kind: app.CardOrdinary, Balance: 1})
	g.waitState(t, app.StateBusy, "card present")
	g.sim.LiftAfterAPDUs(2)
	c, err := g.read(t)
	if app.ErrorReason(err) != "replace_card" || c.Number != "" {
		t.Fatalf("got %+v %v, want replace_card", c, err)
	}
}

func TestUnplugMidReadAndComeBack(t *testing.T) {
	g := newRig(t)
	g.sim.Place(app.Card{Number: "1000200001", Kind: app.CardOrdinary, Balance: 1})
	g.waitState(t, app.StateBusy, "card present")
	g.sim.CutNextAt(3, func() { g.sim.Line().Unplug() })
	c, err := g.read(t)
	if app.ErrorReason(err) != "reader_disconnected" || c.Number != "" {
		t.Fatalf("got %+v %v, want reader_disconnected", c, err)
	}
	g.waitState(t, app.StateError, "disconnected")
	g.sim.Line().Replug()
	g.waitState(t, app.StateBusy, "card present")
	if c, err := g.read(t); err != nil || c.Number != "1000200001" {
		t.Fatalf("after replug: %+v %v", c, err)
	}
}

func TestLineFaults(t *testing.T) {
	g := newRig(t)
	for _, tt := range []struct {
		name   string
		inject func()
	}{
		{"Garbage", func() { g.sim.GarbageNext([]byte{0x02, 0xFF, 0x13, 0x03, 0x00}) }},
		{"BadChecksum", func() { g.sim.BadChecksumNext() }},
		{"SplitAt1", func() { g.sim.SplitNextAt(1, 20*time.Millisecond) }},
		{"SplitAt3", func() { g.sim.SplitNextAt(3, 20*time.Millisecond) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g.sim.Place(app.Card{Number: "1000200001", Kind: app.CardOrdinary, Balance: 5})
			g.waitState(t, app.StateBusy, "")
			tt.inject()
			if c, err := g.read(t); err != nil || c.Number != "1000200001" {
				t.Fatalf("%+v %v", c, err)
			}
			g.sim.Lift()
		})
	}
}

func TestReaderThatNeverAnswers(t *testing.T) {
	g := newRig(t)
	g.sim.Silence(true)
	g.waitState(t, app.StateError, "not responding")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := g.reader.ReadCard(ctx); app.ErrorReason(err) != "reader_not_responding" {
		t.Fatalf("got %v", err)
	}
	g.sim.Silence(false)
	g.waitState(t, app.StateReady, "")
}

func TestNotConfigured(t *testing.T) {
	r := transitcard.New(transitcard.Config{})
	if _, err := r.ReadCard(context.Background()); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("got %v", err)
	}
}

func TestUnplugReplug100(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	count := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	fds0, gr0 := count(), runtime.NumGoroutine()
	func() {
		g := newRig(t)
		for i := 0; i < 100; i++ {
			g.sim.Line().Unplug()
			g.waitState(t, app.StateError, "")
			g.sim.Line().Replug()
			g.waitState(t, app.StateReady, "")
		}
		g.cancel()
		<-g.done
		g.sim.Close()
	}()
	var fds, gr int
	// Exiting goroutines finish on their own time: poll, up to 30 s.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if fds, gr = count(), runtime.NumGoroutine(); fds <= fds0 && gr <= gr0 {
			return
		}
		time.Sleep(100 * time.Millisecond) // poll interval; the deadline decides
	}
	t.Fatalf("leak: fds %d → %d, goroutines %d → %d", fds0, fds, gr0, gr)
}
