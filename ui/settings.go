package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// buildSettings is the settings screen: language and text size for every
// operator.
func (k *Desk) buildSettings() fyne.CanvasObject {
	langSel := widget.NewRadioGroup([]string{"中文", "English"}, nil)
	if k.lang == app.LangEN {
		langSel.SetSelected("English")
	} else {
		langSel.SetSelected("中文")
	}
	langSel.Horizontal = true
	langSel.OnChanged = func(v string) {
		if v == "English" {
			k.SetLanguageChoice(app.LangEN)
		} else if v == "中文" {
			k.SetLanguageChoice(app.LangZH)
		}
	}
	form := widget.NewForm(
		widget.NewFormItem(T("Language"), langSel),
		widget.NewFormItem(T("Text size"), k.scaleSelect()),
	)
	keys := widget.NewLabel(T("Keyboard: F1 lists the keys of every screen; F2–F11 and Ctrl+F2… switch screens, F12 switches the language, Ctrl+L locks the desk, Ctrl+= and Ctrl+- change the text size, Tab moves between fields, Enter presses the focused button, Ctrl+Enter the screen's main action."))
	keys.Wrapping = fyne.TextWrapWord
	return container.NewVBox(form, widget.NewSeparator(), keys)
}
