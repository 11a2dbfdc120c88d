package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

func rect(w, h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(nil)
	r.SetMinSize(fyne.NewSize(w, h))
	return r
}

// TestColumnsSizeEachColumnToItsWidestCell: a narrow column stays narrow
// (a grid would make all three 100 wide), and the spare width goes to the
// growing column.
func TestColumnsSizeEachColumnToItsWidestCell(t *testing.T) {
	t.Parallel()
	cells := []fyne.CanvasObject{rect(100, 10), rect(20, 10), rect(30, 10), rect(40, 30), rect(10, 10), rect(50, 10)}
	c := newColumns(3, 2, cells...)
	pad := theme.Padding()
	want := fyne.NewSize(100+20+50+2*pad, 10+30+pad)
	if got := c.MinSize(); got != want {
		t.Fatalf("min size %v, want %v", got, want)
	}
	c.Resize(fyne.NewSize(want.Width+60, want.Height))
	if x := cells[2].Position().X; x != 100+20+2*pad {
		t.Fatalf("third column at %v", x)
	}
	if w := cells[5].Size().Width; w != 50+60 {
		t.Fatalf("growing column %v wide, want 110", w)
	}
	if y, h := cells[4].Position().Y, cells[4].Size().Height; y != 10+pad || h != 30 {
		t.Fatalf("second row at %v, %v high", y, h)
	}
}

func TestCapWidth(t *testing.T) {
	t.Parallel()
	wide := container.New(capWidth(50), rect(300, 20))
	if got := wide.MinSize(); got != fyne.NewSize(50, 20) {
		t.Fatalf("capped min size %v", got)
	}
	narrow := container.New(capWidth(50), rect(30, 20))
	if got := narrow.MinSize(); got != fyne.NewSize(30, 20) {
		t.Fatalf("narrow content min size %v", got)
	}
}
