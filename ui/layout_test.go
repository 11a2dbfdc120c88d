package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// bounds returns o's rectangle on the window's canvas.
func bounds(o fyne.CanvasObject) (fyne.Position, fyne.Size) {
	return fyne.CurrentApp().Driver().AbsolutePositionForObject(o), o.Size()
}

func intersect(p1 fyne.Position, s1 fyne.Size, p2 fyne.Position, s2 fyne.Size) bool {
	return p1.X < p2.X+s2.Width && p2.X < p1.X+s1.Width && p1.Y < p2.Y+s2.Height && p2.Y < p1.Y+s1.Height
}

// TestLoginErrorDoesNotOverlapPrefs: the red result box of a refused login
// grows the login card; the language and text-size row moves down instead
// of lying over it. Before, the card sat in a grid cell as high as the card
// without a result, so the row overlapped the box.
func TestLoginErrorDoesNotOverlapPrefs(t *testing.T) {
	for _, scale := range TextScales {
		h := newHarness(t, app.LangEN)
		h.desk.SetTextScale(scale)
		h.win.Resize(fyne.NewSize(1024, 736))
		h.login("1001", "000000")
		var box *Banner
		h.eventually("refusal banner", func() bool {
			box = findWidget(h.win.Canvas().Content(), func(b *Banner) bool { return b.Tone() == ToneError })
			return box != nil
		})
		h.win.Canvas().Content().Refresh()
		lang := findWidget(h.win.Canvas().Content(), func(b *widget.Button) bool { return b.Text == T("中文 / English (F12)") })
		if lang == nil {
			t.Fatal("no language button")
		}
		bp, bs := bounds(box)
		lp, ls := bounds(lang)
		if intersect(bp, bs, lp, ls) {
			t.Errorf("%s: language row %v+%v overlaps the result box %v+%v", scale, lp, ls, bp, bs)
		}
	}
}
