package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The pending list shows the upgrades and unbinds saved while central was
// unreachable: each item's state (waiting, confirmed, refused with the
// reason), attempts and age. The background worker completes them; this
// screen only watches, refreshing every few seconds while it is shown.
// Subjects are masked by the use case.

func init() {
	registerScreen(screenDef{id: "pending", order: 12, title: "Pending upgrades",
		roles:     []app.Role{app.RoleAssistant, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Upgrades != nil },
		build:     (*Desk).buildPending})
}

// pendingRefresh is how often the shown list refreshes itself.
const pendingRefresh = 5 * time.Second

// pendingLimit is how many items the list shows (newest first).
const pendingLimit = 200

type pendingScreen struct {
	k     *Desk
	root  *fyne.Container
	list  *fyne.Container
	when  *widget.Label
	busy  bool
	items []app.PendingView
	err   error
	at    time.Time
	dead  bool
}

func (k *Desk) buildPending() fyne.CanvasObject {
	s := &pendingScreen{k: k, list: container.NewVBox(), when: widget.NewLabel("")}
	refresh := k.newButton(T("Refresh"), s.refresh)
	intro := note(T("Upgrades saved while central was unreachable. They complete by themselves, once each, when the link returns; this list refreshes every few seconds."), widget.MediumImportance)
	s.root = container.NewStack(container.NewBorder(
		container.NewVBox(intro, container.NewHBox(refresh, s.when), widget.NewSeparator()), nil, nil, nil,
		container.NewVScroll(s.list)))
	k.focus = refresh
	s.refresh()
	if k.d.Background.tickers() {
		ctx, cancel := context.WithCancel(context.Background())
		k.onLeave(func() { s.dead = true; cancel() })
		go func() {
			t := time.NewTicker(pendingRefresh)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					k.d.Background.do(func() {
						if !s.dead {
							s.refresh()
						}
					})
				}
			}
		}()
	}
	return s.root
}

// refresh reloads the list unless a load is already running.
func (s *pendingScreen) refresh() {
	if s.busy {
		return
	}
	s.busy = true
	k := s.k
	async(s.k.d.Background, func() ([]app.PendingView, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.Pending(ctx, pendingLimit)
	}, func(items []app.PendingView, err error) {
		s.busy = false
		s.items, s.err, s.at = items, err, k.d.Clock.Now()
		s.draw()
	})
}

func (s *pendingScreen) draw() {
	k := s.k
	s.when.SetText(T("Updated {{.Time}}", map[string]any{"Time": s.at.In(app.ChinaTime()).Format("15:04:05")}))
	var rows []fyne.CanvasObject
	waiting := 0
	for _, it := range s.items {
		if it.State == app.PendingWaiting {
			waiting++
		}
	}
	switch {
	case s.err != nil:
		rows = append(rows, note(T("The pending list could not be read:")+" "+k.msg(s.err), widget.DangerImportance))
	case len(s.items) == 0:
		rows = append(rows, heading(T("Nothing pending.")))
	default:
		rows = append(rows, heading(T("{{.Waiting}} waiting, {{.Total}} in the list", map[string]any{"Waiting": waiting, "Total": len(s.items)})))
	}
	now := k.d.Clock.Now()
	for _, it := range s.items {
		state := widget.NewLabelWithStyle(pendingStateLabel(it.State), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		switch it.State {
		case app.PendingWaiting:
			state.Importance = widget.WarningImportance
		case app.PendingConfirmed:
			state.Importance = widget.SuccessImportance
		case app.PendingRefused:
			state.Importance = widget.DangerImportance
		}
		kind := T("Bind")
		if it.Kind == app.PendingUnbind {
			kind = T("Unbind")
		}
		// The subject is the use case's masked English summary ("bind
		// ******0006 → GBR 5******72"); its verb is shown translated.
		subj := strings.TrimPrefix(strings.TrimPrefix(it.Subject, "unbind "), "bind ")
		detail := fmt.Sprintf("%s  %s", kind, subj)
		facts := T("{{.N}} attempts", map[string]any{"N": it.Attempts}) + " · " + T("saved") + " " + formatAge(now, it.Created)
		if it.State == app.PendingWaiting && !it.NextTry.IsZero() {
			facts += " · " + T("next try {{.Time}}", map[string]any{"Time": it.NextTry.In(app.ChinaTime()).Format("15:04:05")})
		}
		if it.Reason != "" && it.Reason != "ok" {
			ex := app.ExplainReason(it.Reason)
			why := ex.ZH
			if k.lang == app.LangEN {
				why = ex.EN
			}
			facts += " · " + why
		}
		rows = append(rows, container.NewBorder(nil, nil, state, nil,
			container.NewVBox(note(detail, widget.MediumImportance), note(facts, widget.MediumImportance))), widget.NewSeparator())
	}
	s.list.Objects = rows
	s.list.Refresh()
}

func pendingStateLabel(st app.PendingState) string {
	switch st {
	case app.PendingConfirmed:
		return T("Done")
	case app.PendingRefused:
		return T("Refused")
	}
	return T("Waiting")
}
