package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// columnsLayout lays cells out row by row in n columns, each column as wide
// as its own widest cell; the spare width goes to column grow. A grid makes
// every column as wide as the widest cell of all, which on the gates screen
// pushed the window past a 1280-pixel screen.
type columnsLayout struct{ n, grow int }

// newColumns returns a container of cells in n columns (see columnsLayout).
func newColumns(n, grow int, cells ...fyne.CanvasObject) *fyne.Container {
	return container.New(columnsLayout{n: n, grow: grow}, cells...)
}

func (l columnsLayout) measure(objs []fyne.CanvasObject) (widths, heights []float32) {
	widths = make([]float32, l.n)
	heights = make([]float32, (len(objs)+l.n-1)/l.n)
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		c, r := i%l.n, i/l.n
		widths[c] = max(widths[c], m.Width)
		heights[r] = max(heights[r], m.Height)
	}
	return widths, heights
}

func sum(xs []float32) (s float32) {
	for _, x := range xs {
		s += x
	}
	return s
}

func (l columnsLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w, h := l.measure(objs)
	pad := theme.Padding()
	return fyne.NewSize(sum(w)+pad*float32(max(len(w)-1, 0)), sum(h)+pad*float32(max(len(h)-1, 0)))
}

func (l columnsLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w, h := l.measure(objs)
	pad := theme.Padding()
	if spare := size.Width - l.MinSize(objs).Width; spare > 0 && l.grow >= 0 && l.grow < l.n {
		w[l.grow] += spare
	}
	var y float32
	for r := range h {
		var x float32
		for c := 0; c < l.n; c++ {
			i := r*l.n + c
			if i >= len(objs) {
				break
			}
			objs[i].Move(fyne.NewPos(x, y))
			objs[i].Resize(fyne.NewSize(w[c], h[r]))
			x += w[c] + pad
		}
		y += h[r] + pad
	}
}

// capWidth is a layout whose minimum width is at most w (the content is
// given whatever width the parent allows). A Select asks for the width of
// its longest option; capped, it truncates instead of widening the window.
type capWidth float32

func (w capWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return fyne.NewSize(min(s.Width, float32(w)), s.Height)
}

func (w capWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
