package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Tone is the meaning of a result: the banner's colour follows it.
type Tone int

// Result tones.
const (
	ToneNone Tone = iota
	ToneOK
	ToneWarn
	ToneError
	ToneInfo
)

// Banner is the large, coloured, unmistakable result box every action ends
// in: a heading (e.g. "有效 VALID") and one or more detail lines, white on
// green, amber, red or blue. Hidden while there is nothing to say.
type Banner struct {
	widget.BaseWidget
	bg   *canvas.Rectangle
	text *widget.RichText
	tone Tone
}

// NewBanner returns an empty, hidden banner.
func NewBanner() *Banner {
	b := &Banner{bg: canvas.NewRectangle(color.Transparent), text: widget.NewRichText()}
	b.text.Wrapping = fyne.TextWrapWord
	b.bg.CornerRadius = 6
	b.ExtendBaseWidget(b)
	b.Hide()
	return b
}

// Set shows heading and details in tone. Call it on the UI goroutine.
func (b *Banner) Set(tone Tone, heading string, details ...string) {
	b.tone = tone
	fg := theme.ColorNameForegroundOnPrimary
	switch tone {
	case ToneOK:
		b.bg.FillColor = okGreen
		fg = theme.ColorNameForegroundOnSuccess
	case ToneWarn:
		b.bg.FillColor = warnAmber
		fg = theme.ColorNameForegroundOnWarning
	case ToneError:
		b.bg.FillColor = errRed
		fg = theme.ColorNameForegroundOnError
	default:
		b.bg.FillColor = brandBlue
	}
	segs := []widget.RichTextSegment{&widget.TextSegment{Text: heading, Style: widget.RichTextStyle{
		SizeName: theme.SizeNameHeadingText, ColorName: fg, TextStyle: fyne.TextStyle{Bold: true},
	}}}
	for _, d := range details {
		if d == "" {
			continue
		}
		segs = append(segs, &widget.TextSegment{Text: d, Style: widget.RichTextStyle{
			SizeName: theme.SizeNameSubHeadingText, ColorName: fg,
		}})
	}
	b.text.Segments = segs
	b.text.Refresh()
	b.bg.Refresh()
	b.Show()
}

// Clear hides the banner.
func (b *Banner) Clear() {
	b.tone = ToneNone
	b.text.Segments = nil
	b.Hide()
}

// Tone returns the banner's current tone (ToneNone when hidden).
func (b *Banner) Tone() Tone { return b.tone }

// Text returns the banner's text, segments joined by newlines (for tests and
// the screen reader log).
func (b *Banner) Text() string {
	s := ""
	for i, seg := range b.text.Segments {
		if i > 0 {
			s += "\n"
		}
		s += seg.Textual()
	}
	return s
}

// CreateRenderer implements fyne.Widget.
func (b *Banner) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(b.bg, container.NewPadded(b.text)))
}
