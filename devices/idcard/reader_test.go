//go:build !windows

package idcard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/devices/idcard"
	"stationdesk/devices/sim"
)

var testNow = time.Date(2026, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func mustDoc(t testing.TB, typ app.DocType, s string) app.DocNumber {
	t.Helper()
	d, err := app.ParseDocAt(typ, s, testNow)
	if err != nil {
		t.Fatalf("test number: %v", err)
	}
	return d
}

// cards are fictitious riders with the public example numbers of docs/devices.md (identity numbers).
func cards(t testing.TB) []struct {
	name string
	kind idcard.Kind
	id   app.Identity
} {
	return []struct {
		name string
		kind idcard.Kind
		id   app.Identity
	}{
		{"Resident", idcard.KindResident, app.Identity{Doc: mustDoc(t, app.DocCNID, "11010519491231002X"), Name: app.NewName("张秀英"),
			Gender: app.GenderFemale, Nation: "01", Birth: day(1949, 12, 31), Address: "北京市朝阳区示例路1号",
			Authority: "北京市公安局朝阳分局", ValidFrom: day(2015, 3, 1), LongTerm: true}},
		{"PermitJ", idcard.KindPermit, app.Identity{Doc: mustDoc(t, app.DocResidencePermit, "810000199408230021"), Name: app.NewName("陈美玲"),
			Gender: app.GenderFemale, Birth: day(1994, 8, 23), Address: "北京市东城区示例街2号", Authority: "北京市公安局",
			ValidFrom: day(2024, 1, 1), ValidTo: day(2029, 1, 1), PermitNumber: "H12345678", IssueCount: 2}},
		{"Foreign2017I", idcard.KindForeign2017, app.Identity{Doc: mustDoc(t, app.DocForeignPR, "KAZ110090123105"), Name: app.NewName("安娜"),
			OtherName: app.NewName("IVANOVA, ANNA"), Gender: app.GenderFemale, Nationality: "KAZ", Birth: day(1990, 12, 31),
			ValidFrom: day(2017, 6, 1), ValidTo: day(2027, 6, 1)}},
		{"Foreign2023Y", idcard.KindForeign2023, app.Identity{Doc: mustDoc(t, app.DocForeignPR, "911398199012310021"),
			Name: app.NewName("SMITH-WILLIAMSON, JOHANNA ELIZABETH MARGARET"), Gender: app.GenderFemale, Nationality: "USA",
			Birth: day(1990, 12, 31), ValidFrom: day(2024, 1, 1), ValidTo: day(2034, 1, 1), IssueCount: 1}},
	}
}

type rig struct {
	sim    *sim.IDReader
	reader *idcard.Reader
	board  *app.StatusBoard
	states chan app.Status
	cancel context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T, mod func(*idcard.Config)) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := sim.NewIDReader(ctx, filepath.Join(t.TempDir(), "ttyID"), 0)
	if err != nil {
		t.Fatal(err)
	}
	board := app.NewStatusBoard(app.SystemClock{})
	states := make(chan app.Status, 1024)
	board.Subscribe(func(st app.Status) {
		if st.Component == app.CompIDReader {
			select {
			case states <- st:
			default:
			}
		}
	})
	cfg := idcard.Config{Port: s.Path(), Board: board, Clock: app.NewFakeClock(testNow),
		PollInterval: 20 * time.Millisecond, ReadTimeout: 1 * time.Second, ShortTimeout: 300 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	if os.Getenv("IDCARD_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&cfg)
	}
	r := idcard.New(cfg)
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

// waitState waits until the reader reports s (with detail containing sub).
func (g *rig) waitState(t *testing.T, s app.State, sub string) {
	t.Helper()
	if cur := g.board.Get(app.CompIDReader); cur.State == s && strings.Contains(cur.Detail, sub) {
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
			t.Fatalf("reader never reached %s %q; now %+v", s, sub, g.board.Get(app.CompIDReader))
		}
	}
}

func (g *rig) read(t *testing.T, d time.Duration) (app.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return g.reader.ReadID(ctx)
}

func sameIdentity(t *testing.T, got, want app.Identity) {
	t.Helper()
	if !got.Doc.Equal(want.Doc) || got.Name.Reveal() != want.Name.Reveal() || got.OtherName.Reveal() != want.OtherName.Reveal() ||
		got.Gender != want.Gender || got.Nation != want.Nation || got.Nationality != want.Nationality ||
		!got.Birth.Equal(want.Birth) || got.Address.Reveal() != want.Address.Reveal() || got.Authority != want.Authority ||
		!got.ValidFrom.Equal(want.ValidFrom) || !got.ValidTo.Equal(want.ValidTo) || got.LongTerm != want.LongTerm ||
		got.PermitNumber != want.PermitNumber || got.IssueCount != want.IssueCount || got.Source != app.SourceReader ||
		len(got.Photo) != 1024 {
		t.Fatalf("identity differs:\n got %s\nwant %s", got, want)
	}
}

func TestReadEachKindThroughPTY(t *testing.T) {
	g := newRig(t, nil)
	for _, c := range cards(t) {
		t.Run(c.name, func(t *testing.T) {
			if err := g.sim.Place(c.id, c.kind); err != nil {
				t.Fatal(err)
			}
			got, err := g.read(t, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			sameIdentity(t, got, c.id)
			g.sim.Lift()
		})
	}
}

func TestCardAlreadyOnReaderIsRead(t *testing.T) {
	g := newRig(t, nil)
	c := cards(t)[0]
	g.sim.Place(c.id, c.kind)
	g.waitState(t, app.StateBusy, "card present")
	got, err := g.read(t, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sameIdentity(t, got, c.id)
}

func TestCardNotFoundAgainUntilReplaced(t *testing.T) {
	g := newRig(t, nil)
	c := cards(t)[0]
	g.sim.Place(c.id, c.kind)
	if _, err := g.read(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Still on the reader: no second read, and that is not an error.
	_, err := g.read(t, 500*time.Millisecond)
	if app.ErrorReason(err) != "timeout" {
		t.Fatalf("second read without re-placing: %v, want timeout", err)
	}
	g.waitState(t, app.StateReady, "")
	g.sim.Lift()
	g.sim.Place(c.id, c.kind)
	if _, err := g.read(t, 5*time.Second); err != nil {
		t.Fatalf("after re-placing: %v", err)
	}
}

func TestInvalidCardsAreReported(t *testing.T) {
	base := idcard.Text{Kind: idcard.KindResident, Name: "张秀英", Gender: "2", Nation: "01", Birth: "19491231", Address: "x",
		Number: "11010519491231002X", Authority: "y", ValidFrom: "20150301", ValidTo: idcard.LongTerm}
	tests := []struct {
		name   string
		mod    func(*idcard.Text)
		raw    func([]byte)
		reason string
	}{
		{"BadCheckDigit", func(x *idcard.Text) { x.Number = "110105194912310021" }, nil, "check_digit"},
		{"BadDate", func(x *idcard.Text) { x.Number = "110105194913310025" }, nil, "date"},
		{"Expired", func(x *idcard.Text) { x.ValidTo = "20250101" }, nil, "expired"},
		{"BirthMismatch", func(x *idcard.Text) { x.Birth = "19491230" }, nil, "birth_mismatch"},
		{"UnknownCardType", nil, func(b []byte) { b[248] = 'Q' }, "unsupported_document"},
	}
	g := newRig(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := base
			if tt.mod != nil {
				tt.mod(&x)
			}
			b, err := idcard.EncodeText(x)
			if err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				tt.raw(b)
			}
			g.sim.PlaceText(b, sim.DemoPhoto())
			id, err := g.read(t, 5*time.Second)
			if app.ErrorReason(err) != tt.reason || app.ErrorCode(err) != app.CodeInvalid {
				t.Fatalf("got %v (reason %q), want reason %q", err, app.ErrorReason(err), tt.reason)
			}
			if !id.Doc.IsZero() || id.Photo != nil {
				t.Fatal("rejected card returned data")
			}
			if strings.Contains(err.Error(), "1101051949") {
				t.Fatal("error text holds the number")
			}
			g.sim.Lift()
		})
	}
}

func TestLineFaultsAreSurvived(t *testing.T) {
	tests := []struct {
		name   string
		inject func(s *sim.IDReader)
	}{
		{"GarbageBeforeFrame", func(s *sim.IDReader) { s.GarbageNext([]byte{0x00, 0xAA, 0xAA, 0x13, 0x96, 0x69, 0xFF}) }},
		{"BadChecksum", func(s *sim.IDReader) { s.BadChecksumNext() }},
		{"ReadSplitAt1", func(s *sim.IDReader) { s.CutNextAt(0, nil); s.SplitNextAt(1, 30*time.Millisecond) }},
		{"ReadSplitAtPreambleEnd", func(s *sim.IDReader) { s.SplitNextAt(5, 30*time.Millisecond) }},
		{"ReadSplitInLength", func(s *sim.IDReader) { s.SplitNextAt(6, 30*time.Millisecond) }},
		{"ReadSplitInText", func(s *sim.IDReader) { s.SplitNextAt(200, 30*time.Millisecond) }},
		{"ReadSplitBeforeChecksum", func(s *sim.IDReader) { s.SplitNextAt(1294, 30*time.Millisecond) }},
	}
	g := newRig(t, nil)
	c := cards(t)[1]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.sim.Place(c.id, c.kind)
			g.waitState(t, app.StateBusy, "card present")
			tt.inject(g.sim)
			got, err := g.read(t, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			sameIdentity(t, got, c.id)
			g.sim.Lift()
		})
	}
}

func TestCardLiftedMidRead(t *testing.T) {
	g := newRig(t, nil)
	c := cards(t)[0]
	g.sim.Place(c.id, c.kind)
	g.waitState(t, app.StateBusy, "card present")
	g.sim.CutNextAt(600, g.sim.Lift)
	id, err := g.read(t, 10*time.Second)
	if app.ErrorReason(err) != "replace_card" {
		t.Fatalf("got %v, want replace_card", err)
	}
	if !id.Doc.IsZero() {
		t.Fatal("half-read identity reached app")
	}
	g.sim.Place(c.id, c.kind)
	if _, err := g.read(t, 5*time.Second); err != nil {
		t.Fatalf("next read: %v", err)
	}
}

// A read answer with a bad checksum (the card was there) says the read
// failed on a garbled frame, in both languages, and does not wait the read
// timeout out: with a read timeout far beyond the caller's wait, waiting it
// out would end in "timeout" ("no card was placed in time").
func TestCorruptReadFrameSaysTheReadFailed(t *testing.T) {
	g := newRig(t, func(c *idcard.Config) { c.ReadTimeout = 10 * time.Minute })
	c := cards(t)[0]
	g.sim.Place(c.id, c.kind)
	g.waitState(t, app.StateBusy, "card present")
	g.sim.CorruptNextOver(600) // the read answer, not the short polls
	id, err := g.read(t, 20*time.Second)
	if app.ErrorReason(err) != "bad_frame" || app.ErrorCode(err) != app.CodeUnavailable {
		t.Fatalf("got %v, want unavailable/bad_frame", err)
	}
	if !id.Doc.IsZero() {
		t.Fatal("identity from a garbled frame reached app")
	}
	var e *app.Error
	if !errors.As(err, &e) || !strings.Contains(e.EN, "garbled") || !strings.Contains(e.EN, "cable") ||
		!strings.Contains(e.ZH, "连接线") || strings.Contains(e.EN, "in time") {
		t.Fatalf("message does not say what happened and what to do: %q / %q", e.ZH, e.EN)
	}
	if g.sim.Reads() != 1 {
		t.Fatalf("reads %d, want 1", g.sim.Reads())
	}
	// Reseated, the card reads.
	g.sim.Lift()
	g.sim.Place(c.id, c.kind)
	got, err := g.read(t, 20*time.Second)
	if err != nil {
		t.Fatalf("after reseating: %v", err)
	}
	sameIdentity(t, got, c.id)
}

func TestUnplugMidReadAndComeBack(t *testing.T) {
	g := newRig(t, nil)
	c := cards(t)[2]
	g.sim.Place(c.id, c.kind)
	g.waitState(t, app.StateBusy, "card present")
	g.sim.CutNextAt(600, func() { g.sim.Line().Unplug() })
	id, err := g.read(t, 10*time.Second)
	if app.ErrorReason(err) != "reader_disconnected" {
		t.Fatalf("got %v, want reader_disconnected", err)
	}
	if !id.Doc.IsZero() {
		t.Fatal("half-read identity reached app")
	}
	g.waitState(t, app.StateError, "disconnected")
	if err := g.sim.Line().Replug(); err != nil {
		t.Fatal(err)
	}
	g.waitState(t, app.StateReady, "")
	g.sim.Lift()
	g.sim.Place(c.id, c.kind)
	got, err := g.read(t, 5*time.Second)
	if err != nil {
		t.Fatalf("after replug: %v", err)
	}
	sameIdentity(t, got, c.id)
}

func TestReaderThatNeverAnswers(t *testing.T) {
	g := newRig(t, nil)
	g.sim.Silence(true)
	g.waitState(t, app.StateError, "not responding")
	_, err := g.read(t, 3*time.Second)
	if app.ErrorReason(err) != "reader_not_responding" {
		t.Fatalf("got %v, want reader_not_responding", err)
	}
	g.sim.Silence(false)
	g.waitState(t, app.StateReady, "")
}

func TestSAMSelfTestFailure(t *testing.T) {
	g := newRig(t, nil)
	g.sim.SetSAMStatus(idcard.SWSelfTest)
	g.sim.Line().Unplug()
	g.sim.Line().Replug()
	g.waitState(t, app.StateError, "self-test")
}

func TestNoiseMarksReaderMisconfigured(t *testing.T) {
	g := newRig(t, func(c *idcard.Config) { c.NoiseLimit = 3 })
	waiter := make(chan error, 1)
	go func() { _, err := g.read(t, 20*time.Second); waiter <- err }()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // wrong-baud noise: every answer preceded and corrupted
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				g.sim.GarbageNext([]byte{0xFE, 0x3C, 0x00, 0xF8, 0xAA, 0x80})
				g.sim.BadChecksumNext()
			}
		}
	}()
	g.waitState(t, app.StateError, "noise")
	if err := <-waiter; app.ErrorReason(err) != "reader_misconfigured" {
		t.Fatalf("waiter got %v, want reader_misconfigured", err)
	}
}

func TestNotConfigured(t *testing.T) {
	board := app.NewStatusBoard(app.SystemClock{})
	r := idcard.New(idcard.Config{Board: board})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	if _, err := r.ReadID(context.Background()); app.ErrorReason(err) != "not_configured" {
		t.Fatalf("got %v", err)
	}
	cancel()
	<-done
	if st := board.Get(app.CompIDReader); st.State != app.StateNotConfigured {
		t.Fatalf("state %s", st.State)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestUnplugReplug100 unplugs and replugs the reader 100 times under the
// same name, waiting for it to come back each time, then checks that no
// goroutine or file descriptor was left behind.
func TestUnplugReplug100(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	fds0, gr0 := countFDs(t), runtime.NumGoroutine()
	func() {
		g := newRig(t, nil)
		line := g.sim.Line()
		for i := 0; i < 100; i++ {
			if err := line.Unplug(); err != nil {
				t.Fatal(err)
			}
			g.waitState(t, app.StateError, "")
			if err := line.Replug(); err != nil {
				t.Fatal(err)
			}
			g.waitState(t, app.StateReady, "")
		}
		c := cards(t)[3]
		g.sim.Place(c.id, c.kind)
		if _, err := g.read(t, 5*time.Second); err != nil {
			t.Fatalf("read after 100 replugs: %v", err)
		}
		g.cancel()
		<-g.done
		g.sim.Close()
	}()
	var fds, gr int
	// Exiting goroutines finish on their own time: poll, up to 30 s.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		fds, gr = countFDs(t), runtime.NumGoroutine()
		if fds <= fds0 && gr <= gr0 {
			break
		}
		time.Sleep(100 * time.Millisecond) // poll interval; the deadline decides
	}
	if fds > fds0 || gr > gr0 {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("leak: fds %d → %d, goroutines %d → %d\n%s", fds0, fds, gr0, gr, buf[:n])
	}
	fmt.Fprint(os.Stderr) // keep fmt used when the leak branch is not taken
}
