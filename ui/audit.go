package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "audit", order: 97, title: "Audit log",
		roles:     []app.Role{app.RoleSupervisor},
		available: func(d Deps) bool { return d.AuditLog != nil },
		build:     (*Desk).buildAudit})
}

// auditActions are offered in the action filter.
var auditActions = []app.AuditAction{
	app.ActLogin, app.ActLogout, app.ActSessionLock, app.ActOperatorCreate, app.ActOperatorSetPIN, app.ActOperatorDisable,
	app.ActOperatorEnable, app.ActOperatorUnlock, app.ActShiftOpen, app.ActShiftClose, app.ActBuyerCheck, app.ActTicketIssue,
	app.ActTicketSale, app.ActWelfareExchange, app.ActTicketVoid, app.ActManualCheck, app.ActOverride, app.ActCardBind,
	app.ActCardBindQueued, app.ActCardUnbind, app.ActCardLookup, app.ActGateReject, app.ActRetentionPurge,
}

// buildAudit is the supervisor's audit browser: filter by action,
// operator and date, newest first; "verify chain" checks the hash chain.
// Entries hold tokens and masked values only; long tokens are shortened
// further on screen.
func (k *Desk) buildAudit() fyne.CanvasObject {
	opts := []string{T("All actions")}
	for _, a := range auditActions {
		opts = append(opts, app.AuditActionName(a, k.lang))
	}
	action := k.newSelect(opts, nil)
	action.SetSelectedIndex(0)
	operator := k.newEntry()
	operator.SetPlaceHolder(T("Operator number"))
	today := k.d.Clock.Now().In(app.ChinaTime()).Format("2006-01-02")
	from, to := k.newEntry(), k.newEntry()
	from.SetPlaceHolder("YYYY-MM-DD")
	to.SetPlaceHolder("YYYY-MM-DD")
	from.SetText(today)
	to.SetText(today)
	result := NewBanner()
	list := container.NewVBox()
	var shown []app.AuditEntry
	// Technicians read the raw codes; the sentence is for the supervisor.
	codes := widget.NewCheck(T("Show the codes for technicians"), nil)
	render := func() {
		list.Objects = nil
		list.Add(widget.NewLabelWithStyle(T("{{.N}} entries", map[string]any{"N": len(shown)}), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		for _, e := range shown {
			l := widget.NewLabel(app.AuditSentence(e, k.lang, k.stationName))
			l.Wrapping = fyne.TextWrapWord
			if e.Outcome != app.OutcomeSuccess {
				l.Importance = widget.WarningImportance
			}
			list.Add(l)
			if codes.Checked {
				raw := widget.NewLabelWithStyle(auditCodes(e), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
				raw.Wrapping = fyne.TextWrapBreak
				raw.SizeName = theme.SizeNameCaptionText
				list.Add(raw)
			}
		}
		list.Refresh()
	}
	codes.OnChanged = func(bool) { render() }
	search := func() {
		f := app.AuditFilter{Operator: strings.TrimSpace(operator.Text), Limit: 300}
		if i := action.SelectedIndex(); i > 0 {
			f.Action = auditActions[i-1]
		}
		for _, d := range []struct {
			e   *Entry
			t   *time.Time
			add int
		}{{from, &f.Since, 0}, {to, &f.Until, 1}} {
			if v := strings.TrimSpace(d.e.Text); v != "" {
				t, err := time.ParseInLocation("2006-01-02", v, app.ChinaTime())
				if err != nil {
					result.Set(ToneError, T("Write dates as YYYY-MM-DD."))
					return
				}
				*d.t = t.AddDate(0, 0, d.add)
			}
		}
		async(k.d.Background, func() ([]app.AuditEntry, error) {
			return k.d.AuditLog.List(context.Background(), f)
		}, func(es []app.AuditEntry, err error) {
			list.Objects = nil
			if err != nil {
				result.Set(ToneError, T("Not done"), k.msg(err))
				list.Refresh()
				return
			}
			result.Clear()
			shown = es
			render()
		})
	}
	verify := k.newButton(T("Verify chain"), func() {
		async(k.d.Background, func() (app.AuditVerifyResult, error) {
			return k.d.AuditLog.Verify(context.Background())
		}, func(r app.AuditVerifyResult, err error) {
			switch {
			case err != nil:
				result.Set(ToneError, T("Not done"), k.msg(err))
			case r.OK:
				result.Set(ToneOK, T("Audit chain intact"), T("{{.N}} entries checked.", map[string]any{"N": r.Entries}))
			default:
				result.Set(ToneError, T("Audit chain broken"), T("First broken entry: #{{.Seq}} ({{.Reason}}). Keep the file; call technical support.",
					map[string]any{"Seq": r.FirstBroken, "Reason": r.Reason}))
			}
		})
	})
	verify.Importance = widget.HighImportance
	find := k.newButton(T("Search"), search)
	// The filters wrap onto a second row rather than widen the window (at
	// large text on a 1024-wide screen they do not fit one row).
	f := k.scale.factor()
	field := func(label string, e fyne.CanvasObject, w float32) fyne.CanvasObject {
		return container.NewHBox(widget.NewLabel(label), container.NewGridWrap(fyne.NewSize(w*f, e.MinSize().Height), e))
	}
	// A Select is as narrow as its placeholder, which showed "All
	// actions" as "…": the action and the operator get the width their
	// texts need at the text size on show.
	filters := container.New(layout.NewRowWrapLayout(), field(T("Action"), action, 220),
		field(T("Operator"), operator, 170), field(T("From"), from, 130), field(T("To"), to, 130), container.NewHBox(find, verify))
	search()
	return container.NewBorder(container.NewVBox(filters, codes, result), nil, nil, nil, container.NewVScroll(list))
}

// auditCodes is an entry as recorded, for technicians: sequence, date and
// time, operator, action, outcome, subject (tokens shortened) and detail.
func auditCodes(e app.AuditEntry) string {
	return fmt.Sprintf("#%d  %s  %s  %s  %s  %s  %s", e.Seq, e.Time.In(app.ChinaTime()).Format("01-02 15:04:05"),
		e.Operator, e.Action, e.Outcome, shortTokens(e.Subject), e.Detail)
}

// stationName names a station code from the fare table in the interface
// language ("" when the desk has no fare table or does not know the code).
func (k *Desk) stationName(code string) string {
	if k.d.Sales == nil {
		return ""
	}
	f := k.d.Sales.Fares()
	if code == f.StationCode() {
		return f.StationName(k.lang)
	}
	if d, ok := f.Destination(code); ok {
		return d.Name(k.lang)
	}
	return ""
}

// shortTokens shortens "doc:<32 hex>" to "doc:<first 8>…" for reading.
func shortTokens(s string) string {
	parts := strings.Fields(s)
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, ":"); ok && len(v) == 32 {
			parts[i] = k + ":" + v[:8] + "…"
		}
	}
	return strings.Join(parts, " ")
}
