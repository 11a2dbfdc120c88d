package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/ui"
)

// TestScreensSpeakOneLanguage renders every screen of the demo desk (real
// ledger, serial drivers on ptys, central simulator and gate service on
// loopback) for a supervisor and a clerk in English and in Chinese, walks
// the widget tree and checks every text drawn: in English no CJK character
// except names (the demo riders', the brand) and station names (the fare
// table's) and the language switch's own "中文"; in Chinese no bare English
// word except codes (numbers, ports, addresses, demo rider keys, document
// formats and standards) and a short list of abbreviations used as such
// (NFC, QR, ID, PIN, key names, units).
func TestScreensSpeakOneLanguage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangEN, ui.ScaleNormal, fyne.NewSize(1280, 800-32))
	// Every component ready first, so the status bar shows its details.
	poll(t, "every component ready", func() (bool, string) {
		for _, c := range app.Components {
			if s := h.rt.board.Get(c); s.State != app.StateReady {
				return false, string(c) + " is " + string(s.State)
			}
		}
		return true, ""
	})

	lc := newLangCheck(h)
	for _, lang := range []app.Lang{app.LangEN, app.LangZH} {
		h.loop.run(func() { h.desk.SetLanguageChoice(lang) })
		lc.check("login")
		for _, op := range []string{"9001", "1001"} {
			h.login(op)
			var ids []string
			h.loop.run(func() { ids = h.desk.ScreenIDs() })
			for _, id := range ids {
				h.loop.run(func() { h.desk.ShowScreen(id) })
				lc.check(op + "/" + id)
			}
			h.loop.run(h.desk.Logout)
		}
	}
	lc.report(200)
}

// TestResultsSpeakOneLanguage checks, as TestScreensSpeakOneLanguage does,
// what the desk says after a clerk's work in each language on a fresh demo
// terminal: the opened shift, a refused and a manual-check buyer, a sale,
// a welfare exchange, a card look-up, the audit log of it all and the
// closing report, then central down. (The upgrade result is left out: its heading and
// explanation are shown in both languages on purpose, for the rider.)
func TestResultsSpeakOneLanguage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	for _, lang := range []app.Lang{app.LangEN, app.LangZH} {
		t.Run(string(lang), func(t *testing.T) {
			h := newDemoDesk(t, lang, ui.ScaleNormal, fyne.NewSize(1280, 800-32))
			dev := h.rt.demo.devices
			ctx := context.Background()
			lc := newLangCheck(h)
			// shown waits for the translation of an English text on screen
			// (with args: the text with those fields filled).
			shown := func(key string, args ...any) {
				t.Helper()
				var want string
				h.loop.run(func() { want = strings.TrimSpace(ui.T(key, args...)) })
				h.eventually(quote(want), func() bool { return strings.Contains(h.texts(), want) })
			}
			idCard := func(rider, answer string) {
				t.Helper()
				if err := dev.PlaceIDCard(rider); err != nil {
					t.Fatal(err)
				}
				shown(answer)
				lc.check(rider)
				dev.LiftIDCard()
			}
			token := func() {
				t.Helper()
				if err := dev.PlaceTransitCard(demo.NewTokenItem); err != nil {
					t.Fatal(err)
				}
			}
			h.login("9001")
			h.key(fyne.KeyF6)
			shown("No shift is open at this window.")
			h.key(fyne.KeyReturn)
			h.eventually("the shift open", func() bool { _, ok, _ := h.rt.shifts.Current(ctx); return ok })
			lc.check("shift opened")

			h.key(fyne.KeyF2)
			idCard("red", "No ticket")
			h.ctrl(fyne.KeyN)
			idCard("visitor-shanghai", "Manual check needed")
			h.ctrl(fyne.KeyN)
			idCard("green-fresh", "May buy one ticket")
			h.key(fyne.KeyRight)
			token()
			h.key(fyne.KeyReturn)
			shown("Ticket issued")
			lc.check("sale")
			dev.LiftTransitCard()

			h.key(fyne.KeyF3)
			idCard("elder-special", "Entitled to a welfare ticket:")
			h.key(fyne.KeyRight)
			token()
			h.key(fyne.KeyReturn)
			shown("Welfare ticket issued")
			lc.check("welfare")
			dev.LiftTransitCard()

			h.key(fyne.KeyF8)
			h.typeText("1000200002")
			h.key(fyne.KeyReturn)
			shown("At the gates now: {{.D}}", map[string]any{"D": ""}) // the decision follows
			lc.check("look-up")

			h.loop.run(func() { h.desk.ShowScreen("audit") })
			lc.check("audit")
			h.key(fyne.KeyF6)
			lc.check("shift with sales")
			h.ctrl(fyne.KeyReturn)
			h.ctrl(fyne.KeyReturn)
			shown("Shift closed.")
			lc.check("shift closed")

			// Central goes away: the status bar and the gates screen say
			// why in the desk's language.
			h.rt.demo.central.DemoControl().SetOnline(false)
			h.rt.gate.Sync.SyncNow()
			poll(t, "central reported down", func() (bool, string) {
				st := h.rt.board.Get(app.CompCentral)
				p := h.rt.gate.Sync.Progress()
				return st.State != app.StateReady, fmt.Sprintf("central %s; gate sync %s %q (err %v)", st.State, p.Phase, p.Detail, p.Err)
			})
			lc.check("central down")
			h.loop.run(func() { h.desk.ShowScreen("gates") })
			poll(t, "the failed sync", func() (bool, string) {
				p := h.rt.gate.Sync.Progress()
				return p.Phase == app.SyncError, string(p.Phase)
			})
			lc.check("gates, central down")
			lc.report(50)
		})
	}
}

// langCheck collects what a desk shows in the wrong language.
type langCheck struct {
	h       *demoDesk
	allowZH []string
	codes   []string
	seen    map[string]bool
	bad     []string
}

func newLangCheck(h *demoDesk) *langCheck {
	return &langCheck{h: h, allowZH: allowedCJK(h.rt), codes: codeWords(h.rt), seen: map[string]bool{}}
}

// check waits for the screen's background answers, then checks every
// text drawn in the desk's current language.
func (c *langCheck) check(where string) {
	c.h.t.Helper()
	c.h.settle()
	var texts []string
	var lang app.Lang
	c.h.loop.run(func() { texts, lang = drawnTexts(c.h.win.Canvas().Content()), c.h.desk.Lang() })
	for _, s := range texts {
		if s = strings.TrimSpace(s); s == "" || c.seen[string(lang)+s] {
			continue
		}
		c.seen[string(lang)+s] = true
		var why string
		if lang == app.LangEN {
			why = cjkLeft(s, c.allowZH)
		} else {
			why = englishLeft(s, c.codes)
		}
		if why != "" {
			c.bad = append(c.bad, string(lang)+" "+where+": "+why+" in "+quote(s))
		}
	}
}

// report fails the test with what was found, and when fewer than atLeast
// texts were checked (the walk is broken).
func (c *langCheck) report(atLeast int) {
	c.h.t.Helper()
	sort.Strings(c.bad)
	for _, b := range c.bad {
		c.h.t.Error(b)
	}
	if len(c.seen) < atLeast {
		c.h.t.Errorf("checked only %d texts: the walk over the screens is broken", len(c.seen))
	}
}

// drawnTexts is every text drawn under o: canvas texts (labels, buttons,
// rich text and banners all end in these), entries' placeholders, and
// selects' choices and placeholders.
func drawnTexts(o fyne.CanvasObject) []string {
	var out []string
	walkVisible(o, func(o fyne.CanvasObject) bool {
		switch x := o.(type) {
		case *canvas.Text:
			out = append(out, x.Text)
		case *widget.Select:
			out = append(out, x.Options...)
			out = append(out, x.PlaceHolder)
		case *ui.Entry:
			out = append(out, x.PlaceHolder)
		}
		return true
	})
	return out
}

// allowedCJK lists the Chinese texts English screens may show: the demo
// riders' names (whole and masked), the fare table's station names, the
// brand and the language switch.
func allowedCJK(rt *deskRuntime) []string {
	out := []string{"中文", "站务台"}
	for _, r := range demo.Riders() {
		out = append(out, r.Identity.Name.Reveal(), r.Identity.Name.Masked())
		if r.Identity.Address.Reveal() != "" {
			out = append(out, r.Identity.Address.Reveal())
		}
		if r.Identity.Authority != "" {
			out = append(out, r.Identity.Authority)
		}
	}
	f := rt.sales.Fares()
	out = append(out, f.StationName(app.LangZH))
	for _, d := range f.Destinations() {
		out = append(out, d.NameZH)
	}
	// Longest first, so a name is removed before a shorter one inside it.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// cjkLeft returns what is left of s that is Chinese once the allowed
// names are taken out, or "".
func cjkLeft(s string, allowed []string) string {
	for _, a := range allowed {
		if a != "" {
			s = strings.ReplaceAll(s, a, " ")
		}
	}
	var left []rune
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) || r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF {
			left = append(left, r)
		}
	}
	if len(left) == 0 {
		return ""
	}
	return "CJK " + quote(string(left))
}

// englishWords are the bare English words Chinese screens may show: they
// are used as codes, abbreviations or names in Chinese text too.
var englishWords = map[string]bool{
	"NFC": true, "QR": true, "ID": true, "PIN": true, "IP": true, "USB": true, "TLS": true, "HTTP": true, "HTTPS": true,
	"Ctrl": true, "Tab": true, "Esc": true, "Shift": true, "Alt": true, "Enter": true,
	"ms": true, "min": true, "h": true, "s": true, "KB": true, "MB": true, "GB": true, "bps": true, "baud": true, "CNY": true,
	// the language switch and the brand
	"English": true, "StationDesk": true,
	// formats and standards: a date as printed, a passport's nationality
	// code (ICAO 9303), the ID number's check digits (ISO 7064 MOD 11-2),
	// the shift report's file type
	"YYYY-MM-DD": true, "GBR": true, "ICAO": true, "ISO": true, "MOD": true, "CSV": true,
}

var wordRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_./:'\-]*`)

// codeWords are what Chinese screens of this demo terminal show as written
// in any language: the demo riders' keys and names (a passport's name is
// in Latin letters) and the simulated readers' port names (a real port
// reads ttyUSB0).
func codeWords(rt *deskRuntime) []string {
	var out []string
	for _, r := range demo.Riders() {
		// keys are handles; a passport's Latin name is a name
		out = append(out, r.Key, r.Identity.Name.Reveal(), r.Identity.Name.Masked())
	}
	if rt.demo != nil && rt.demo.devices != nil {
		p := rt.demo.devices.Ports()
		for _, path := range []string{p.IDReader, p.CardReader, p.Scanner} {
			out = append(out, path, filepath.Base(path))
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// englishLeft returns the first bare English word in s that is not a code
// or an allowed word, or "".
func englishLeft(s string, codes []string) string {
	for _, c := range codes {
		if c != "" {
			s = strings.ReplaceAll(s, c, " ")
		}
	}
	for _, w := range wordRe.FindAllString(s, -1) {
		w = strings.TrimRight(w, ".:'-")
		if w == "" || englishWords[w] || strings.ContainsAny(w, "0123456789_/:.") || len(w) == 1 {
			continue
		}
		return "English " + quote(w)
	}
	return ""
}

func quote(s string) string { return "«" + s + "»" }
