package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// DefaultWindowSize is the window's size when the screen's is unknown: it
// fits a 1280×800 screen with a title bar.
var DefaultWindowSize = fyne.NewSize(1280, 760)

// titleBar is what a window manager's decoration takes off the screen's
// usable height.
const titleBar = 32

// WindowSize returns the window size for a screen whose usable area (the
// monitor without task bars) is screen, in Fyne units: the whole area less
// a title bar, at most 1600×1000. A zero screen gives DefaultWindowSize.
func WindowSize(screen fyne.Size) fyne.Size {
	if screen.Width <= 0 || screen.Height <= titleBar {
		return DefaultWindowSize
	}
	return fyne.NewSize(min(screen.Width, 1600), min(screen.Height-titleBar, 1000))
}

// FitScreen sizes the window for a screen whose usable area is screen (see
// WindowSize) and keeps that size: a text-size change that made the window
// grow shrinks it back. Call it on the UI goroutine.
func (k *Desk) FitScreen(screen fyne.Size) {
	k.fit = WindowSize(screen)
	k.w.Resize(k.fit)
}

// bodyLayout places the navigation (objects[0]) at its own width on the
// left, the screen (objects[1]) beside it and the demo drawer (objects[2],
// optional) on the right. The drawer takes between drawerMin and drawerMax
// while the screen keeps at least contentMin; on a screen too narrow for
// that it lies over the screen's right side instead (opaque, shown only
// while the clerk has opened it with Ctrl+D), so neither the screen nor
// the window ever needs to be wider than the monitor.
type bodyLayout struct {
	k                                *Desk
	drawerMin, drawerMax, contentMin float32
}

func (l *bodyLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	nav, content := objs[0].MinSize(), objs[1].MinSize()
	return fyne.NewSize(nav.Width+content.Width, max(nav.Height, content.Height))
}

func (l *bodyLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	navW := objs[0].MinSize().Width
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(navW, size.Height))
	rest := size.Width - navW
	contentW := rest
	if len(objs) > 2 {
		drawer := objs[2]
		need := max(l.contentMin, objs[1].MinSize().Width)
		w := min(l.drawerMax, rest-need)
		over := w < l.drawerMin
		l.k.simOverlay = over
		if over {
			w = min(l.drawerMax, rest)
			if l.k.simOpen {
				drawer.Show()
			} else {
				drawer.Hide()
			}
		} else {
			contentW = rest - w
			drawer.Show()
		}
		drawer.Move(fyne.NewPos(size.Width-w, 0))
		drawer.Resize(fyne.NewSize(w, size.Height))
	}
	objs[1].Move(fyne.NewPos(navW, 0))
	objs[1].Resize(fyne.NewSize(contentW, size.Height))
}

// opaque puts o on the theme's background colour, so it can lie over
// other content.
func opaque(o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameBackground)), o)
}

// centredUpTo is a layout that gives its content the container's width,
// at most w, centred; its height follows the content's minimum as that
// changes (a result box appearing), so nothing below is overlapped.
type centredUpTo float32

func (w centredUpTo) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return fyne.NewSize(min(s.Width, float32(w)), s.Height)
}

func (w centredUpTo) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	cw := min(size.Width, float32(w))
	for _, o := range objs {
		h := min(size.Height, max(o.MinSize().Height, 0))
		o.Move(fyne.NewPos((size.Width-cw)/2, (size.Height-h)/2))
		o.Resize(fyne.NewSize(cw, h))
	}
}
