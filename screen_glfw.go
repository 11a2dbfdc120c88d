//go:build !ci

package main

import (
	"fyne.io/fyne/v2"
	"github.com/go-gl/glfw/v3.4/glfw"
)

// screenArea returns the usable area (without task bars) of the primary
// monitor in Fyne units, or false when GLFW cannot tell. Call it on the
// main goroutine once the app runs (Lifecycle OnStarted): Fyne has then
// initialised GLFW. Fyne itself offers no monitor size.
func screenArea(w fyne.Window) (fyne.Size, bool) {
	m := glfw.GetPrimaryMonitor()
	if m == nil {
		return fyne.Size{}, false
	}
	_, _, width, height := m.GetWorkarea()
	if width <= 0 || height <= 0 {
		if v := m.GetVideoMode(); v != nil {
			width, height = v.Width, v.Height
		}
	}
	if width <= 0 || height <= 0 {
		return fyne.Size{}, false
	}
	scale := w.Canvas().Scale()
	if sx, _ := m.GetContentScale(); sx > scale {
		scale = sx
	}
	if scale <= 0 {
		scale = 1
	}
	return fyne.NewSize(float32(width)/scale, float32(height)/scale), true
}
