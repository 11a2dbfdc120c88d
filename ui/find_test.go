package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// findWidget returns the first visible object of type W for which ok holds.
func findWidget[W fyne.CanvasObject](root fyne.CanvasObject, ok func(W) bool) W {
	var found W
	var done bool
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if done || o == nil || !o.Visible() {
			return
		}
		if w, is := o.(W); is && ok(w) {
			found, done = w, true
			return
		}
		if c, is := o.(*fyne.Container); is {
			for _, ch := range c.Objects {
				walk(ch)
			}
		}
		if w, is := o.(fyne.Widget); is {
			for _, ch := range test.WidgetRenderer(w).Objects() {
				walk(ch)
			}
		}
	}
	walk(root)
	return found
}
