package ui

import (
	"os"
	"sync"

	"fyne.io/fyne/v2/lang"

	"stationdesk/app"
	"stationdesk/assets"
)

var langMu sync.Mutex

// SetLanguage switches Fyne's lang tables to l. Fyne v2.8 takes the language
// from the OS locale and has no setter, but it re-reads the locale whenever
// translations are added, so we point the process locale at the clerk's
// choice and add ours again (Fyne picks its table by the locale; on Unix only — on Windows
// the OS language wins). Screens must be rebuilt afterwards.
func SetLanguage(l app.Lang) error {
	langMu.Lock()
	defer langMu.Unlock()
	loc := "zh_CN.UTF-8"
	if l == app.LangEN {
		loc = "en_US.UTF-8"
	}
	os.Setenv("LC_ALL", loc)
	os.Setenv("LANGUAGE", loc[:5])
	return lang.AddTranslationsFS(assets.Translations, "translations")
}

// T translates an interface string. The key is the English text; the
// Chinese table is assets/translations/zh_Hans.json, and a test makes sure
// every key used in ui/ is in it.
func T(key string, data ...any) string { return lang.L(key, data...) }
