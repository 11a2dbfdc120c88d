package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// loginScreen is the operator login (and lock) screen.
type loginScreen struct {
	k      *Desk
	id     *Entry
	pin    *Entry
	submit *widget.Button
	result *Banner
}

// showLogin shows the login screen; id pre-fills the operator number (after
// a lock) and note explains why the screen is shown.
func (k *Desk) showLogin(id, note string) {
	s := &loginScreen{k: k, result: NewBanner()}
	s.id = k.newEntry()
	s.id.SetPlaceHolder(T("Operator number"))
	s.id.SetText(id)
	s.pin = k.newPasswordEntry()
	s.pin.SetPlaceHolder(T("PIN"))
	s.submit = widget.NewButtonWithIcon(T("Log in"), theme.LoginIcon(), s.doLogin)
	s.submit.Importance = widget.HighImportance
	s.id.OnSubmitted = func(string) { k.w.Canvas().Focus(s.pin) }
	s.pin.OnSubmitted = func(string) { s.doLogin() }
	s.id.OnChanged = func(string) { k.touch() }
	s.pin.OnChanged = func(string) { k.touch() }

	title := canvas.NewText("站务台  StationDesk", theme.Color(theme.ColorNamePrimary))
	title.TextSize = theme.TextHeadingSize() * 1.4
	title.TextStyle.Bold = true
	title.Alignment = fyne.TextAlignCenter
	sub := widget.NewLabelWithStyle(T("Ticket window and service desk"), fyne.TextAlignCenter, fyne.TextStyle{})

	form := widget.NewForm(
		widget.NewFormItem(T("Operator"), s.id),
		widget.NewFormItem(T("PIN"), s.pin),
	)
	if note != "" {
		s.result.Set(ToneInfo, note)
	}

	langBtn := widget.NewButton(T("中文 / English (F12)"), k.toggleLanguage)
	sizeSel := k.scaleSelect()
	prefs := container.NewHBox(langBtn, widget.NewLabel(T("Text size")), sizeSel)

	items := []fyne.CanvasObject{title, sub, widget.NewSeparator(), form, s.submit, s.result}
	if len(k.d.Demo) > 0 {
		items = append(items, k.demoHint())
	}
	items = append(items, layout.NewSpacer(), container.NewCenter(prefs))
	card := container.NewVBox(items...)
	body := container.NewBorder(nil, k.statusBar, nil, nil,
		container.NewVScroll(container.New(centredUpTo(560*k.scale.factor()), card)))
	k.w.SetContent(body)
	if id == "" {
		k.w.Canvas().Focus(s.id)
	} else {
		k.w.Canvas().Focus(s.pin)
	}
}

// demoHint tells a newcomer how to log in in demo mode.
func (k *Desk) demoHint() fyne.CanvasObject {
	lines := []string{T("Demo mode — log in as:")}
	for _, d := range k.d.Demo {
		lines = append(lines, fmt.Sprintf("  %s  %s   %s %s", d.Role.Label(k.lang), d.ID, T("PIN"), d.PIN))
	}
	l := widget.NewLabel(strings.Join(lines, "\n"))
	l.Importance = widget.MediumImportance
	return widget.NewCard("", "", l)
}

func (s *loginScreen) doLogin() {
	id := strings.TrimSpace(s.id.Text)
	pin := s.pin.Text
	if id == "" || pin == "" {
		s.result.Set(ToneError, T("Enter your operator number and PIN."))
		return
	}
	s.submit.Disable()
	s.result.Set(ToneInfo, T("Checking…"))
	async(s.k.d.Background, func() (app.Operator, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.k.d.Auth.Login(ctx, id, pin)
	}, func(op app.Operator, err error) {
		s.submit.Enable()
		s.pin.SetText("")
		if err != nil {
			s.result.Set(ToneError, T("Login refused"), s.k.msg(err))
			s.k.w.Canvas().Focus(s.pin)
			return
		}
		s.k.loggedIn(op)
	})
}

// scaleSelect is the text-size chooser used on the login and settings screens.
func (k *Desk) scaleSelect() *widget.Select {
	labels := map[TextScale]string{ScaleNormal: T("Normal"), ScaleLarge: T("Large"), ScaleLarger: T("Larger")}
	var opts []string
	for _, s := range TextScales {
		opts = append(opts, labels[s])
	}
	sel := widget.NewSelect(opts, nil)
	sel.PlaceHolder = T("Text size")
	sel.SetSelected(labels[k.scale])
	sel.OnChanged = func(v string) {
		for s, l := range labels {
			if l == v {
				k.SetTextScale(s)
			}
		}
	}
	return sel
}
