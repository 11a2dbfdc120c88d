package ui

import (
	"image/color"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// choiceGroup is a set of choices of which one (or none yet) is chosen,
// reached from the keyboard as one field: Tab gives it the focus, the
// digit keys 1…n choose an entry directly (each entry shows its digit),
// Left/Right and Up/Down move the choice, F1…F12 reach the desk; a click
// on an entry chooses it too. widget.RadioGroup makes every entry a Tab
// stop of its own and takes only Space, which left the manual check's
// choices to a clerk tabbing through the whole navigation first.
type choiceGroup struct {
	widget.BaseWidget
	k        *Desk
	options  []string
	selected int // -1: none chosen
	cols     int // entries side by side (0: one under the other)
	focused  bool
	// OnChanged gets the index chosen (UI goroutine).
	OnChanged func(i int)

	bg    *canvas.Rectangle
	items []*choiceItem
}

// newChoice makes a choiceGroup of options, cols of them side by side (0:
// one under the other); the entries' text wraps, so the group never asks
// for more width than its column.
func (k *Desk) newChoice(options []string, cols int, changed func(int)) *choiceGroup {
	c := &choiceGroup{k: k, options: options, selected: -1, cols: cols, OnChanged: changed}
	c.ExtendBaseWidget(c)
	return c
}

// Selected returns the index chosen, or -1.
func (c *choiceGroup) Selected() int { return c.selected }

// SetSelected chooses entry i (-1 for none) without calling OnChanged.
func (c *choiceGroup) SetSelected(i int) {
	if i < -1 || i >= len(c.options) {
		return
	}
	c.selected = i
	c.Refresh()
}

// choose chooses entry i as the clerk did and tells OnChanged.
func (c *choiceGroup) choose(i int) {
	if i < 0 || i >= len(c.options) {
		return
	}
	c.selected = i
	c.Refresh()
	if c.OnChanged != nil {
		c.OnChanged(i)
	}
}

func (c *choiceGroup) step(d int) {
	i := c.selected + d
	if c.selected < 0 {
		i = 0
		if d < 0 {
			i = len(c.options) - 1
		}
	}
	if i >= 0 && i < len(c.options) {
		c.choose(i)
	}
}

// FocusGained implements fyne.Focusable.
func (c *choiceGroup) FocusGained() { c.focused = true; c.Refresh() }

// FocusLost implements fyne.Focusable.
func (c *choiceGroup) FocusLost() { c.focused = false; c.Refresh() }

// TypedRune implements fyne.Focusable: 1…n choose.
func (c *choiceGroup) TypedRune(r rune) {
	c.k.touch()
	if r >= '1' && r <= '9' {
		c.choose(int(r - '1'))
	}
}

// TypedKey implements fyne.Focusable.
func (c *choiceGroup) TypedKey(ev *fyne.KeyEvent) {
	c.k.touch()
	if c.k.globalKey(ev) {
		return
	}
	switch ev.Name {
	case fyne.KeyRight, fyne.KeyDown:
		c.step(1)
	case fyne.KeyLeft, fyne.KeyUp:
		c.step(-1)
	case fyne.KeySpace:
		if c.selected < 0 {
			c.choose(0)
		}
	}
}

// Tapped gives the group the focus when clicked beside its entries.
func (c *choiceGroup) Tapped(*fyne.PointEvent) {
	if cv := fyne.CurrentApp().Driver().CanvasForObject(c); cv != nil {
		cv.Focus(c)
	}
}

// Refresh shows the choice and the focus.
func (c *choiceGroup) Refresh() {
	c.update()
	c.BaseWidget.Refresh()
}

// update sets the entries' marks and the focus colour.
func (c *choiceGroup) update() {
	if c.bg != nil {
		c.bg.FillColor = color.Transparent
		if c.focused {
			c.bg.FillColor = theme.Color(theme.ColorNameFocus)
		}
		c.bg.Refresh()
	}
	for i, it := range c.items {
		it.set(i == c.selected)
	}
}

// CreateRenderer implements fyne.Widget.
func (c *choiceGroup) CreateRenderer() fyne.WidgetRenderer {
	c.bg = canvas.NewRectangle(color.Transparent)
	c.bg.CornerRadius = theme.InputRadiusSize()
	box := container.NewVBox()
	if c.cols > 0 {
		box = container.NewGridWithColumns(c.cols)
	}
	c.items = nil
	for i, o := range c.options {
		it := &choiceItem{group: c, i: i, icon: widget.NewIcon(theme.RadioButtonIcon()), label: widget.NewLabel(strconv.Itoa(i+1) + "  " + o)}
		it.label.Wrapping = fyne.TextWrapWord
		it.ExtendBaseWidget(it)
		c.items = append(c.items, it)
		box.Add(it)
	}
	c.update()
	return widget.NewSimpleRenderer(container.NewStack(c.bg, box))
}

// choiceItem is one entry of a choiceGroup: clicked, it is chosen. It
// takes no focus of its own (the group does).
type choiceItem struct {
	widget.BaseWidget
	group *choiceGroup
	i     int
	icon  *widget.Icon
	label *widget.Label
}

func (it *choiceItem) set(on bool) {
	res := theme.RadioButtonIcon()
	if on {
		res = theme.NewPrimaryThemedResource(theme.RadioButtonCheckedIcon())
	}
	it.icon.SetResource(res)
	it.label.TextStyle.Bold = on
	it.label.Refresh()
}

// Tapped implements fyne.Tappable.
func (it *choiceItem) Tapped(*fyne.PointEvent) {
	it.group.k.touch()
	it.group.choose(it.i)
	if cv := fyne.CurrentApp().Driver().CanvasForObject(it.group); cv != nil {
		cv.Focus(it.group)
	}
}

// CreateRenderer implements fyne.Widget.
func (it *choiceItem) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, it.icon, nil, it.label))
}
