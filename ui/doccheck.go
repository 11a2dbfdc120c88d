package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// docCheckScreen lets a clerk type a document number (a passport, a permit,
// or an ID number when the reader cannot read the card) and see at once
// whether it is well-formed, which document it is and its masked form.
type docCheckScreen struct {
	k      *Desk
	typ    *deskSelect
	number *Entry
	result *Banner
	types  []string // "auto" then app.DocTypes, aligned with typ.Options
}

// docCheckState is what the screen holds across a rebuild.
type docCheckState struct {
	text string
	typ  int
}

func (k *Desk) buildDocCheck() fyne.CanvasObject {
	st := keepState(k, "doccheck", func() *docCheckState { return &docCheckState{} })
	s := &docCheckScreen{k: k, result: NewBanner()}
	s.types = []string{"auto"}
	opts := []string{T("Recognise automatically")}
	for _, t := range app.DocTypes {
		s.types = append(s.types, string(t))
		opts = append(opts, t.Label(k.lang))
	}
	s.number = k.newEntry()
	s.number.SetPlaceHolder(T("e.g. 11010519491231002X or GBR 123456789"))
	s.number.SetText(st.text)
	s.typ = k.newSelect(opts, nil)
	s.typ.SetSelectedIndex(st.typ)
	s.typ.OnChanged = func(string) { st.typ = s.typ.SelectedIndex(); s.check(false) }
	s.number.OnChanged = func(v string) { k.touch(); st.text = v; s.check(false) }
	s.number.OnSubmitted = func(string) { s.check(true) }
	btn := k.newButton(T("Check (Enter)"), func() { s.check(true) })
	btn.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem(T("Document type"), s.typ),
		widget.NewFormItem(T("Number"), s.number),
	)
	help := widget.NewLabel(T("Validation follows GB 11643 (check digit ISO 7064 MOD 11-2) for ID numbers and permits, and ICAO 9303 for passport MRZ lines. The full number is never stored or logged."))
	help.Wrapping = fyne.TextWrapWord
	k.focus = s.number
	s.check(true)
	return container.NewVBox(form, btn, s.result, help)
}

// check validates the entry. While typing (final=false) an incomplete number
// only clears the banner; on Enter every problem is shown.
func (s *docCheckScreen) check(final bool) {
	raw := s.number.Text
	if raw == "" {
		s.result.Clear()
		return
	}
	i := s.typ.SelectedIndex()
	if i < 0 {
		i = 0
	}
	r := app.CheckDocument(s.types[i], raw, s.k.lang)
	switch {
	case r.Valid:
		s.result.Set(ToneOK, T("Valid"), docTypeLabel(r.Type, s.k.lang), r.Masked)
	case final || r.Reason != "length":
		s.result.Set(ToneError, T("Not valid"), r.Error)
	default:
		s.result.Clear()
	}
}

func docTypeLabel(t string, l app.Lang) string {
	dt, err := app.ParseDocType(t)
	if err != nil {
		return t
	}
	return dt.Label(l)
}
