// Package assets embeds StationDesk's static files: the CJK font, the icon
// and the translation tables. It has no logic and imports no GUI code, so
// tests and headless sub-commands can use the same bytes the window shows.
package assets

import (
	"embed"
	_ "embed"
)

// FontRegular is Noto Sans CJK SC Regular (SIL OFL 1.1, see
// fonts/NOTICE-noto-cjk.txt), the full face extracted from Debian's
// fonts-noto-cjk collection: a .ttc collection crashes Fyne v2.8.1, and a
// subset would lose the rare characters (生僻字) that appear in names read
// from ID cards.
//
//go:embed fonts/NotoSansCJKsc-Regular.otf
var FontRegular []byte

// FontBold is Noto Sans CJK SC Bold subset to GB 2312 plus Latin and common
// symbols. Bold is only used for fixed interface text (headings, labels),
// never for a cardholder's name, so the subset is enough and saves 13 MB.
//
//go:embed fonts/NotoSansSC-Bold-gb2312.otf
var FontBold []byte

// Icon is the application icon (512×512 PNG).
//
//go:embed icons/Icon.png
var Icon []byte

// Translations holds the Fyne lang table translations/zh_Hans.json; the
// keys are the English texts, so English needs no table. The Chinese file
// is named zh_Hans so that a zh_CN locale picks
// our table rather than only Fyne's built-in one (Fyne matches the locale's script, Hans).
//
//go:embed translations
var Translations embed.FS

// ConfigExample is the commented example configuration that
// `stationdesk config example` prints.
//
//go:embed config/stationdesk.example.toml
var ConfigExample []byte
