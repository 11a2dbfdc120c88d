package ui

import (
	"context"
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "shift", order: 5, title: "Shift",
		roles:     []app.Role{app.RoleClerk, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Shifts != nil },
		build:     (*Desk).buildShift})
}

// buildShift opens and closes the shift and shows its report: counts by
// kind, tickets by fare, checks by outcome, upgrades, cash, what is still
// waiting, a bar chart, and CSV export. Closing shows the final report.
func (k *Desk) buildShift() fyne.CanvasObject {
	root := container.NewVBox()
	var load func(final *app.ShiftReport, path string, err error)
	load = func(final *app.ShiftReport, path string, ferr error) {
		type data struct {
			sh  app.Shift
			ok  bool
			rep app.ShiftReport
		}
		async(k.d.Background, func() (data, error) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			sh, ok, err := k.d.Shifts.Current(ctx)
			if err != nil || !ok {
				return data{}, err
			}
			rep, err := k.d.Shifts.Report(ctx)
			return data{sh, true, rep}, err
		}, func(d data, err error) {
			var out []fyne.CanvasObject
			var focus fyne.Focusable
			if ferr != nil {
				out = append(out, bannerOf(ToneError, T("Not done"), k.msg(ferr)))
			} else if err != nil {
				out = append(out, bannerOf(ToneError, T("Not done"), k.msg(err)))
			}
			if final != nil {
				lines := []string{T("Shift closed.")}
				if path != "" {
					lines = append(lines, T("Report saved as")+" "+path)
				}
				out = append(out, bannerOf(ToneOK, lines[0], lines[1:]...))
				out = append(out, k.reportView(*final)...)
			}
			if !d.ok {
				open := k.newButton(T("Open shift"), func() {
					op := *k.op
					async(k.d.Background, func() (app.Shift, error) { return k.d.Shifts.Open(context.Background(), op) },
						func(_ app.Shift, err error) { load(nil, "", err) })
				})
				open.Importance = widget.HighImportance
				k.bindKey(keyOpen, open, T("Open shift"))
				focus = open
				if final == nil {
					out = append(out, heading(T("No shift is open at this window.")))
				}
				out = append(out, container.NewHBox(open))
			} else {
				out = append(out, heading(T("Shift open since")+" "+d.sh.Opened.In(app.ChinaTime()).Format("2006-01-02 15:04")+" · "+d.sh.Operator))
				status := widget.NewLabel("")
				status.Wrapping = fyne.TextWrapWord
				exp := k.newButton(T("Export CSV"), func() {
					async(k.d.Background, func() (string, error) { return k.d.Shifts.Export(d.rep) }, func(p string, err error) {
						if err != nil {
							status.SetText(k.msg(err))
							return
						}
						status.SetText(T("Report saved as") + " " + p)
					})
				})
				confirming := false
				var closeB *deskButton
				closeB = k.newButton(T("Close shift"), func() {
					if !confirming {
						confirming = true
						msg := T("Close the shift now? The report is saved as CSV in the data folder.")
						if w := d.rep.Waiting(); w > 0 {
							msg += " " + T("{{.N}} records are still waiting to be forwarded; they stay in the backlog.", map[string]any{"N": w})
						}
						status.SetText(msg)
						closeB.SetText(T("Confirm: close the shift"))
						return
					}
					{
						op := *k.op
						type closed struct {
							rep  app.ShiftReport
							path string
						}
						async(k.d.Background, func() (closed, error) {
							r, p, err := k.d.Shifts.Close(context.Background(), op)
							return closed{r, p}, err
						}, func(c closed, err error) {
							if err != nil && c.rep.Shift.ID == 0 {
								load(nil, "", err)
								return
							}
							load(&c.rep, c.path, err)
						})
					}
				})
				closeB.Importance = widget.DangerImportance
				k.bindKey(keyPrimary, closeB, T("Close shift (press again to confirm)"))
				k.bindKey(keyExport, exp, T("Export CSV"))
				refresh := k.newButton(T("Refresh"), func() { load(nil, "", nil) })
				out = append(out, container.NewHBox(refresh, exp, closeB), status)
				out = append(out, k.reportView(d.rep)...)
			}
			root.Objects = out
			root.Refresh()
			// The open button has the focus, so Enter opens the shift (the
			// screen may still be building when the answer comes).
			if focus != nil && k.current == "shift" {
				k.focus = focus
				k.w.Canvas().Focus(focus)
			}
		})
	}
	root.Objects = []fyne.CanvasObject{heading(T("Loading…"))}
	load(nil, "", nil)
	return container.NewVScroll(root)
}

func bannerOf(t Tone, head string, lines ...string) *Banner {
	b := NewBanner()
	b.Set(t, head, lines...)
	return b
}

// reportView is the report: the figures and the chart.
func (k *Desk) reportView(r app.ShiftReport) []fyne.CanvasObject {
	t := r.Totals
	l := k.lang
	rows := [][2]string{
		{T("Single-journey tickets"), fmt.Sprint(t.Tickets)},
		{T("Welfare tickets"), fmt.Sprintf("%d (%s %d)", t.Welfare, T("overrides"), t.Overrides)},
		{T("Manual checks passed / refused"), fmt.Sprintf("%d / %d", t.Checks[app.ManualPass], t.Checks[app.ManualRefuse])},
		{T("Upgrades / unbinds at this desk"), fmt.Sprintf("%d / %d", t.Upgrades, t.Unbinds)},
		{T("Cash total"), money(t.CashFen, l)},
		{T("Mobile / bank card"), money(t.ByPayment[app.PayMobile], l) + " / " + money(t.ByPayment[app.PayBank], l)},
		{T("Waiting to be forwarded"), fmt.Sprintf("%d (%s %d)", r.Waiting(), T("upgrades"), r.PendingUpgrades)},
		{T("Incomplete sales"), fmt.Sprint(t.Incomplete)},
	}
	form := widget.NewForm()
	for _, row := range rows {
		v := widget.NewLabelWithStyle(row[1], fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		form.Append(row[0], v)
	}
	return []fyne.CanvasObject{form, widget.NewSeparator(), heading(T("This shift")), barChart(r.Bars(l))}
}

// barChart draws horizontal bars with canvas rectangles: label, bar, value.
func barChart(bars []app.Bar) fyne.CanvasObject {
	maxV := 1
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	const width = 420
	h := theme.TextSize() * 1.6
	grid := container.NewVBox()
	for i, b := range bars {
		fill := color.NRGBA{R: 0x1f, G: 0x6f, B: 0xd1, A: 0xff}
		if i%2 == 1 {
			fill = color.NRGBA{R: 0x2e, G: 0x9d, B: 0x5b, A: 0xff}
		}
		rect := canvas.NewRectangle(fill)
		w := float32(width) * float32(b.Value) / float32(maxV)
		if b.Value > 0 {
			w = max(w, 4)
		}
		rect.SetMinSize(fyne.NewSize(w, h))
		track := canvas.NewRectangle(color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x30})
		track.SetMinSize(fyne.NewSize(width, h))
		bar := container.NewStack(track, container.NewHBox(rect))
		label := widget.NewLabel(b.Label)
		label.Alignment = fyne.TextAlignTrailing
		lw := container.NewGridWrap(fyne.NewSize(180, h+8), label)
		grid.Add(container.NewHBox(lw, container.NewCenter(bar), widget.NewLabelWithStyle(fmt.Sprint(b.Value), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})))
	}
	return grid
}
