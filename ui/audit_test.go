package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// fakeAuditBrowser lists fixed entries.
type fakeAuditBrowser struct{ entries []app.AuditEntry }

func (f *fakeAuditBrowser) List(context.Context, app.AuditFilter) ([]app.AuditEntry, error) {
	return f.entries, nil
}

func (f *fakeAuditBrowser) Verify(context.Context) (app.AuditVerifyResult, error) {
	return app.AuditVerifyResult{OK: true, Entries: len(f.entries)}, nil
}

// TestAuditScreenReadsAsSentences: the supervisor's audit screen shows each
// entry as a sentence in the interface language, not as raw codes
// ("ticket.issue success … fare_fen=300"); the codes come on demand for
// technicians, and the action filter names actions in words.
func TestAuditScreenReadsAsSentences(t *testing.T) {
	at := time.Date(2026, 11, 21, 2, 2, 0, 0, time.UTC)
	log := &fakeAuditBrowser{entries: []app.AuditEntry{
		{Seq: 2, Time: at, Operator: "1001", Action: app.ActTicketSale, Outcome: app.OutcomeSuccess, Subject: "doc:0123456789abcdef0123456789abcdef",
			Detail: "issued fare_fen=300 dest=0150 pay=cash token=******0001 assisted=false key=k1"},
		{Seq: 1, Time: at, Operator: "1001", Action: app.ActShiftOpen, Outcome: app.OutcomeSuccess},
	}}
	for _, c := range []struct {
		lang       app.Lang
		want, none []string
		all, codes string
	}{
		{app.LangEN, []string{"10:02 operator 1001 sold a single ticket to 0150, 3.00 yuan, cash, token ******0001.", "10:02 operator 1001 opened a shift."},
			[]string{"ticket.sale", "fare_fen", "售出"}, "Sell a single ticket", "Show the codes for technicians"},
		{app.LangZH, []string{"10:02 操作员 1001 售出单程票（至0150，3.00元，现金，票卡 ******0001）。", "10:02 操作员 1001 开班。"},
			[]string{"ticket.sale", "fare_fen", "sold"}, "售出单程票", "显示技术人员用的原始代码"},
	} {
		t.Run(string(c.lang), func(t *testing.T) {
			a := test.NewTempApp(t)
			w := test.NewTempWindow(t, nil)
			w.Resize(fyne.NewSize(1280, 800))
			clock := app.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local))
			d := NewDesk(a, w, Deps{Auth: &fakeAuth{}, Board: app.NewStatusBoard(clock), Clock: clock, Lang: c.lang, Scale: ScaleNormal,
				AuditLog: log, Background: inline})
			d.Start()
			t.Cleanup(d.Stop)
			d.loggedIn(app.Operator{ID: "9001", DisplayName: "Test", Role: app.RoleSupervisor})
			d.ShowScreen("audit")
			h := &upHarness{harness: &harness{t: t, desk: d, win: w}}
			h.wantText("sentences", c.want...)
			text := h.screenText()
			for _, n := range c.none {
				if strings.Contains(text, n) {
					t.Fatalf("screen shows %q:\n%s", n, text)
				}
			}
			sel := findWidget(w.Content(), func(s *deskSelect) bool { return len(s.Options) > 10 })
			if sel == nil || !strings.Contains(strings.Join(sel.Options, "|"), c.all) {
				t.Fatalf("action filter: %v", sel)
			}
			box := findWidget(w.Content(), func(x *widget.Check) bool { return x.Text == c.codes })
			if box == nil {
				t.Fatalf("no codes toggle %q:\n%s", c.codes, text)
			}
			test.Tap(box)
			h.wantText("codes", "#2  11-21 10:02:00  1001  ticket.sale  success  doc:01234567…  issued fare_fen=300")
			if strings.Contains(h.screenText(), "0123456789abcdef0123456789abcdef") {
				t.Fatal("full token shown")
			}
		})
	}
}
