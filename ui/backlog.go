package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "backlog", order: 4, title: "Waiting to forward",
		roles:     []app.Role{app.RoleClerk, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Backlog != nil || d.Sales != nil },
		build:     (*Desk).buildBacklog})
}

// buildBacklog shows what the ticket window has not yet forwarded to
// central (sales, exchanges, manual checks) and the sales whose token was
// not written (incomplete), with "forward now", "continue" and, for the
// supervisor, "void".
func (k *Desk) buildBacklog() fyne.CanvasObject {
	root := container.NewVBox()
	var load func()
	load = func() {
		type data struct {
			items []app.BacklogItem
			st    app.BacklogStats
			inc   []app.SaleRecord
			errs  []error
		}
		async(k.d.Background, func() (data, error) {
			var d data
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			if k.d.Backlog != nil {
				var err error
				d.items, d.st, err = k.d.Backlog.Backlog(ctx, 200)
				d.errs = append(d.errs, err)
			}
			if k.d.Sales != nil {
				var err error
				d.inc, err = k.d.Sales.Incomplete(ctx)
				d.errs = append(d.errs, err)
			}
			return d, nil
		}, func(d data, _ error) {
			root.Objects = k.backlogView(d.items, d.st, d.inc, d.errs, load)
			root.Refresh()
		})
	}
	root.Objects = []fyne.CanvasObject{heading(T("Loading…"))}
	load()
	return container.NewVScroll(root)
}

func (k *Desk) backlogView(items []app.BacklogItem, st app.BacklogStats, inc []app.SaleRecord, errs []error, reload func()) []fyne.CanvasObject {
	now := k.d.Clock.Now()
	var out []fyne.CanvasObject
	for _, err := range errs {
		if err != nil {
			b := NewBanner()
			b.Set(ToneError, T("Not done"), k.msg(err))
			out = append(out, b)
		}
	}
	if k.d.Backlog != nil {
		sum := NewBanner()
		switch {
		case st.Waiting == 0 && st.Failed == 0:
			sum.Set(ToneOK, T("Everything is forwarded to central."))
		case st.Waiting > 0:
			sum.Set(ToneWarn, T("{{.N}} records waiting to be forwarded", map[string]any{"N": st.Waiting}),
				T("Oldest:")+" "+formatAge(now, st.Oldest)+". "+T("They are sent automatically, exactly once, when the link to central works."))
		default:
			sum.Set(ToneError, T("{{.N}} records refused by central", map[string]any{"N": st.Failed}))
		}
		out = append(out, sum)
		last := T("Last round:") + " " + formatAge(now, st.LastRound)
		if st.LastError != "" {
			last += " — " + T("stopped:") + " " + st.LastError
		} else if !st.LastRound.IsZero() {
			last += " — " + T("{{.N}} forwarded", map[string]any{"N": st.LastForwarded})
		}
		fwd := k.newButton(T("Forward now"), func() { k.d.Backlog.Kick(); reload() })
		fwd.Importance = widget.HighImportance
		out = append(out, container.NewHBox(fwd, k.newButton(T("Refresh"), reload), widget.NewLabel(last)))
		for _, it := range items {
			line := fmt.Sprintf("%s  %s  ·  %s  ·  %s", it.Created.In(app.ChinaTime()).Format("01-02 15:04:05"), it.Summary, it.State, T("attempts")+fmt.Sprint(" ", it.Attempts))
			if it.LastError != "" {
				line += "  ·  " + it.LastError
			}
			l := widget.NewLabel(line)
			if it.State == "failed" {
				l.Importance = widget.DangerImportance
			}
			out = append(out, l)
		}
	}
	if len(inc) > 0 {
		out = append(out, widget.NewSeparator(), heading(T("Incomplete sales (the token was not written, or not known to be)")),
			note(T("Put the token back on the card reader and press Continue: a written token is recognised and not written again; a blank one is written. The supervisor may void a sale whose token is lost."), widget.MediumImportance))
		for _, r := range inc {
			msg := widget.NewLabel("")
			msg.Wrapping = fyne.TextWrapWord
			cont := k.newButton(T("Continue"), nil)
			cont.OnTapped = func() {
				cont.Disable()
				op := *k.op
				async(k.d.Background, func() (app.SaleResult, error) {
					ctx, cancel := context.WithTimeout(context.Background(), tokenWait)
					defer cancel()
					return k.d.Sales.ResumeSale(ctx, op, r.Key)
				}, func(_ app.SaleResult, err error) {
					cont.Enable()
					if err != nil {
						msg.SetText(k.msg(err))
						return
					}
					reload()
				})
			}
			row := container.NewHBox(widget.NewLabel(fmt.Sprintf("%s  %s  %s  %s  %s", r.Created.In(app.ChinaTime()).Format("01-02 15:04"),
				r.Kind.Label(k.lang), money(r.FareFen, k.lang), app.MaskCardNumber(r.TokenSerial), r.LastError)), cont)
			if k.hasRole(app.RoleSupervisor) {
				void := k.newButton(T("Void"), func() {
					op := *k.op
					async(k.d.Background, func() (struct{}, error) {
						return struct{}{}, k.d.Sales.VoidSale(context.Background(), op, r.Key, "supervisor_void")
					}, func(_ struct{}, err error) {
						if err != nil {
							msg.SetText(k.msg(err))
							return
						}
						reload()
					})
				})
				void.Importance = widget.DangerImportance
				row.Add(void)
			}
			out = append(out, row, msg)
		}
	}
	return out
}
