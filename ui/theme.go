package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"stationdesk/assets"
)

// TextScale is the clerk's text-size choice. Service desks with elderly
// riders run at Large or Larger; every size in the theme scales with it.
type TextScale string

// The text sizes offered in Settings.
const (
	ScaleNormal TextScale = "normal"
	ScaleLarge  TextScale = "large"
	ScaleLarger TextScale = "larger"
)

// TextScales lists the choices in order.
var TextScales = []TextScale{ScaleNormal, ScaleLarge, ScaleLarger}

func (s TextScale) factor() float32 {
	switch s {
	case ScaleLarge:
		return 1.25
	case ScaleLarger:
		return 1.5
	}
	return 1
}

// ParseTextScale returns the scale named s, or ScaleLarge (the default for a
// service desk) when s is unknown.
func ParseTextScale(s string) TextScale {
	for _, v := range TextScales {
		if string(v) == s {
			return v
		}
	}
	return ScaleLarge
}

var (
	fontRegular = fyne.NewStaticResource("NotoSansCJKsc-Regular.otf", assets.FontRegular)
	fontBold    = fyne.NewStaticResource("NotoSansSC-Bold-gb2312.otf", assets.FontBold)
	// IconResource is the application icon.
	IconResource = fyne.NewStaticResource("Icon.png", assets.Icon)
)

// Theme is StationDesk's Fyne theme: the bundled CJK font (Fyne's default
// font has no Chinese glyphs), a light variant always (counters are bright
// and a dark screen is harder to read for elderly riders looking on), the
// brand colour, and every size multiplied by the clerk's TextScale.
type Theme struct {
	base  fyne.Theme
	scale float32
}

// NewTheme returns the theme at text size s.
func NewTheme(s TextScale) *Theme {
	return &Theme{base: theme.DefaultTheme(), scale: s.factor()}
}

var (
	brandBlue  = color.NRGBA{R: 0x0B, G: 0x5C, B: 0xAD, A: 0xFF}
	okGreen    = color.NRGBA{R: 0x1B, G: 0x7F, B: 0x3B, A: 0xFF}
	warnAmber  = color.NRGBA{R: 0xB2, G: 0x6A, B: 0x00, A: 0xFF}
	errRed     = color.NRGBA{R: 0xB3, G: 0x26, B: 0x1E, A: 0xFF}
	mutedGrey  = color.NRGBA{R: 0x75, G: 0x75, B: 0x75, A: 0xFF}
	onStrongFg = color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF}
)

// Color forces the light variant and uses strong, high-contrast colours for
// success, warning and error so a result is unmistakable from a metre away.
func (t *Theme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNamePrimary, theme.ColorNameFocus:
		if n == theme.ColorNameFocus {
			return color.NRGBA{R: 0x0B, G: 0x5C, B: 0xAD, A: 0x66}
		}
		return brandBlue
	case theme.ColorNameSuccess:
		return okGreen
	case theme.ColorNameWarning:
		return warnAmber
	case theme.ColorNameError:
		return errRed
	case theme.ColorNameForegroundOnSuccess, theme.ColorNameForegroundOnWarning,
		theme.ColorNameForegroundOnError, theme.ColorNameForegroundOnPrimary:
		return onStrongFg
	}
	return t.base.Color(n, theme.VariantLight)
}

// Font returns the bundled CJK faces; monospace and symbol stay Fyne's.
func (t *Theme) Font(s fyne.TextStyle) fyne.Resource {
	switch {
	case s.Monospace || s.Symbol:
		return t.base.Font(s)
	case s.Bold:
		return fontBold
	}
	return fontRegular
}

// Icon returns Fyne's icons.
func (t *Theme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

// Size scales every size of the default theme.
func (t *Theme) Size(n fyne.ThemeSizeName) float32 { return t.base.Size(n) * t.scale }

// navTheme is the theme of the navigation: the same text, less padding
// in and between the buttons, so a supervisor's fourteen screens fit the
// height of a 768-pixel screen at the largest text without a scroll bar.
type navTheme struct{ *Theme }

func (t navTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameInnerPadding:
		return t.Theme.Size(n) * 0.1
	case theme.SizeNamePadding:
		return t.Theme.Size(n) * 0.25
	}
	return t.Theme.Size(n)
}
