package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "operators", order: 96, title: "Operators",
		roles:     []app.Role{app.RoleSupervisor},
		available: func(d Deps) bool { return d.Operators != nil },
		build:     (*Desk).buildOperators})
}

// buildOperators is the supervisor's account screen: the accounts, a new
// account, and per account reset PIN, disable/enable and unlock. Every
// change is audited by the store; display names are shown here only.
func (k *Desk) buildOperators() fyne.CanvasObject {
	root := container.NewVBox()
	msg := NewBanner()
	var load func()
	done := func(what string) func(struct{}, error) {
		return func(_ struct{}, err error) {
			if err != nil {
				msg.Set(ToneError, T("Not done"), k.msg(err))
			} else {
				msg.Set(ToneOK, what)
			}
			load()
		}
	}
	do := func(f func(context.Context, app.Operator) error) func() (struct{}, error) {
		op := *k.op
		return func() (struct{}, error) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			return struct{}{}, f(ctx, op)
		}
	}
	// New account form.
	id, name, pin := k.newEntry(), k.newEntry(), k.newPasswordEntry()
	id.SetPlaceHolder(T("Operator number"))
	name.SetPlaceHolder(T("Name"))
	pin.SetPlaceHolder(T("First PIN (6 digits)"))
	var roleLabels []string
	for _, r := range app.Roles {
		roleLabels = append(roleLabels, r.Label(k.lang))
	}
	role := k.newSelect(roleLabels, nil)
	role.SetSelectedIndex(0)
	create := k.newButton(T("Create account"), func() {
		o := app.Operator{ID: strings.TrimSpace(id.Text), DisplayName: strings.TrimSpace(name.Text), Role: app.Roles[max(0, role.SelectedIndex())]}
		p := pin.Text
		pin.SetText("")
		async(k.d.Background, do(func(ctx context.Context, by app.Operator) error { return k.d.Operators.CreateOperator(ctx, by, o, p) }),
			done(T("Account created:")+" "+o.ID))
	})
	create.Importance = widget.HighImportance
	newForm := widget.NewCard("", T("New account"), container.NewVBox(widget.NewForm(
		widget.NewFormItem(T("Operator number"), id), widget.NewFormItem(T("Name"), name),
		widget.NewFormItem(T("Role"), role), widget.NewFormItem(T("PIN"), pin)), create))

	list := container.NewVBox()
	load = func() {
		async(k.d.Background, func() ([]app.Operator, error) {
			return k.d.Operators.ListOperators(context.Background())
		}, func(ops []app.Operator, err error) {
			list.Objects = nil
			if err != nil {
				list.Add(widget.NewLabel(k.msg(err)))
			}
			for _, o := range ops {
				st := T("active")
				if o.Disabled {
					st = T("disabled")
				}
				newPIN := k.newPasswordEntry()
				newPIN.SetPlaceHolder(T("New PIN"))
				reset := k.newButton(T("Set PIN"), func() {
					p := newPIN.Text
					newPIN.SetText("")
					async(k.d.Background, do(func(ctx context.Context, by app.Operator) error { return k.d.Operators.SetPIN(ctx, by, o.ID, p) }),
						done(T("PIN changed:")+" "+o.ID))
				})
				toggle := k.newButton(T("Disable"), func() {
					async(k.d.Background, do(func(ctx context.Context, by app.Operator) error { return k.d.Operators.Disable(ctx, by, o.ID) }),
						done(T("Account disabled:")+" "+o.ID))
				})
				if o.Disabled {
					toggle = k.newButton(T("Enable"), func() {
						async(k.d.Background, do(func(ctx context.Context, by app.Operator) error { return k.d.Operators.Enable(ctx, by, o.ID) }),
							done(T("Account enabled:")+" "+o.ID))
					})
				}
				unlock := k.newButton(T("Unlock"), func() {
					async(k.d.Background, do(func(ctx context.Context, by app.Operator) error { return k.d.Operators.Unlock(ctx, by, o.ID) }),
						done(T("Lock-out lifted:")+" "+o.ID))
				})
				label := widget.NewLabelWithStyle(o.ID+"  "+k.operatorName(o)+"  ·  "+o.Role.Label(k.lang)+"  ·  "+st, fyne.TextAlignLeading, fyne.TextStyle{Bold: !o.Disabled})
				pinBox := container.NewGridWrap(fyne.NewSize(160, newPIN.MinSize().Height), newPIN)
				list.Add(container.NewBorder(nil, nil, label, container.NewHBox(pinBox, reset, toggle, unlock)))
			}
			list.Refresh()
		})
	}
	load()
	root.Objects = []fyne.CanvasObject{msg, heading(T("Accounts")), list, widget.NewSeparator(), newForm,
		note(T("PINs are stored as argon2id hashes. Five wrong PINs lock an account for 15 minutes; Unlock lifts it. Every change is in the audit log."), widget.LowImportance)}
	return container.NewVScroll(root)
}

// operatorName is o's name as the desk shows it: as typed, except a demo
// account still under its seeded name, whose name says what it is and is
// shown in the interface language.
func (k *Desk) operatorName(o app.Operator) string {
	for _, d := range k.d.Demo {
		if d.ID == o.ID && d.Name == o.DisplayName && k.lang == app.LangEN && d.NameEN != "" {
			return d.NameEN
		}
	}
	return o.DisplayName
}
