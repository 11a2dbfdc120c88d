package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// modal is a small modal window on the desk's canvas: a title, content and
// a row of buttons. It is built on widget.ModalPopUp rather than the
// dialog package, which would pull a file-system module into go.mod for
// nothing we use.
type modal struct {
	pop     *widget.PopUp
	onClose func()
}

// showModal shows title and content with buttons (the last one is the
// default action). Each button's action runs after the modal closed.
func (k *Desk) showModal(title string, content fyne.CanvasObject, width float32, buttons ...*widget.Button) *modal {
	m := &modal{}
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameSubHeadingText
	for _, b := range buttons {
		act := b.OnTapped
		b.OnTapped = func() {
			k.touch()
			m.Close()
			if act != nil {
				act()
			}
		}
	}
	row := container.NewHBox()
	row.Add(layout.NewSpacer())
	for _, b := range buttons {
		row.Add(b)
	}
	box := container.NewBorder(container.NewVBox(head, widget.NewSeparator()), container.NewVBox(widget.NewSeparator(), row), nil, nil, content)
	m.pop = widget.NewModalPopUp(container.NewPadded(box), k.w.Canvas())
	m.pop.Resize(fyne.NewSize(width, box.MinSize().Height+theme.Padding()*4))
	m.pop.Show()
	return m
}

// Close hides the modal (once) and runs its close hook.
func (m *modal) Close() {
	if m.pop == nil {
		return
	}
	m.pop.Hide()
	m.pop = nil
	if m.onClose != nil {
		m.onClose()
	}
}

// confirm asks a yes/no question; yes runs only on the confirm button.
func (k *Desk) confirm(title, message, yes string, danger bool, onYes func()) *modal {
	msg := widget.NewLabel(message)
	msg.Wrapping = fyne.TextWrapWord
	no := widget.NewButton(T("Do not change"), nil)
	ok := widget.NewButton(yes, onYes)
	ok.Importance = widget.HighImportance
	if danger {
		ok.Importance = widget.DangerImportance
	}
	return k.showModal(title, msg, 560, no, ok)
}
