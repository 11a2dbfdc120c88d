package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
	"stationdesk/app/config"
	"stationdesk/app/demo"
	"stationdesk/assets"
	"stationdesk/ui"
)

// demoDesk is the whole demo terminal (ledger file, simulated readers on
// ptys, central simulator and gate service on loopback) behind the desk
// in a Fyne test window.
type demoDesk struct {
	t    *testing.T
	rt   *deskRuntime
	desk *ui.Desk
	win  fyne.Window
	loop *uiLoop
	// inflight counts the desk's background work (use-case calls, not
	// reader waits) that has not yet handed its result to the UI loop.
	inflight atomic.Int64
}

// uiLoop is the test's UI goroutine. Fyne's test driver runs fyne.Do on
// the caller, which is not safe with the use cases on their own
// goroutines (text shaping is not concurrent); so the desk's results and
// the test's own actions all run here, one at a time, as on the real
// driver's main thread.
type uiLoop struct {
	mu    sync.Mutex
	queue []func()
	wake  chan struct{}
	stop  chan struct{}
}

func newUILoop(t *testing.T) *uiLoop {
	l := &uiLoop{wake: make(chan struct{}, 1), stop: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			l.mu.Lock()
			q := l.queue
			l.queue = nil
			l.mu.Unlock()
			for _, f := range q {
				f()
			}
			if len(q) > 0 {
				continue
			}
			select {
			case <-l.wake:
			case <-l.stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(l.stop); <-done })
	return l
}

// post queues f and returns at once (fyne.Do).
func (l *uiLoop) post(f func()) {
	l.mu.Lock()
	l.queue = append(l.queue, f)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run runs f on the loop and waits for it (fyne.DoAndWait).
func (l *uiLoop) run(f func()) {
	done := make(chan struct{})
	l.post(func() { defer close(done); f() })
	<-done
}

func newDemoDesk(t *testing.T, lang app.Lang, scale ui.TextScale, size fyne.Size) *demoDesk {
	t.Helper()
	cfg := config.Config{DataDir: t.TempDir(), Demo: true}
	cfg.Defaults()
	rt, err := startRuntime(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.close)
	a := test.NewTempApp(t)
	loop := newUILoop(t)
	h := &demoDesk{t: t, rt: rt, loop: loop}
	deps := rt.uiDeps(lang, scale, nil)
	deps.Background = ui.Background{Do: loop.post,
		Spawn: func(f func()) {
			h.inflight.Add(1)
			go func() { defer h.inflight.Add(-1); f() }()
		},
		Wait: func(f func()) { go f() }}
	loop.run(func() {
		h.win = test.NewTempWindow(t, nil)
		h.win.Resize(size)
		h.desk = ui.NewDesk(a, h.win, deps)
		h.desk.Start()
		h.desk.FitScreen(fyne.NewSize(size.Width, size.Height+32))
	})
	t.Cleanup(func() { loop.run(h.desk.Stop) })
	return h
}

// key presses name as a keyboard would: to the focused widget, else to the
// window (see the GLFW driver: a key with Ctrl is a shortcut).
func (h *demoDesk) key(name fyne.KeyName) {
	h.loop.run(func() {
		ev := &fyne.KeyEvent{Name: name}
		if f := h.win.Canvas().Focused(); f != nil {
			f.TypedKey(ev)
			return
		}
		if on := h.win.Canvas().OnTypedKey(); on != nil {
			on(ev)
		}
	})
}

// ctrl presses Ctrl+name.
func (h *demoDesk) ctrl(name fyne.KeyName) { h.shortcut(name, fyne.KeyModifierControl) }

func (h *demoDesk) shortcut(name fyne.KeyName, mod fyne.KeyModifier) {
	h.loop.run(func() {
		sc := &desktop.CustomShortcut{KeyName: name, Modifier: mod}
		if f, ok := h.win.Canvas().Focused().(fyne.Shortcutable); ok {
			f.TypedShortcut(sc)
			return
		}
		h.desk.HandleShortcut(sc) // the window's shortcut handler
	})
}

// tab moves the focus to the next field, as the driver does on Tab.
func (h *demoDesk) tab() { h.loop.run(func() { h.win.Canvas().FocusNext() }) }

// typeText types s into the focused widget.
func (h *demoDesk) typeText(s string) {
	h.t.Helper()
	h.loop.run(func() {
		f := h.win.Canvas().Focused()
		if f == nil {
			h.t.Fatalf("nothing focused to type %q into", s)
		}
		for _, r := range s {
			f.TypedRune(r)
		}
	})
}

// eventually polls cond on the UI goroutine until it holds or fails the
// test after stepDeadline.
func (h *demoDesk) eventually(what string, cond func() bool) {
	h.t.Helper()
	poll(h.t, what, func() (bool, string) {
		ok, txt := false, ""
		h.loop.run(func() {
			if ok = cond(); !ok {
				txt = "screen:\n" + h.texts()
			}
		})
		return ok, txt
	})
}

// settle waits until the background work the screen started has handed
// its results to the UI loop and the loop has applied them (and what they
// started in turn), so what is drawn next is the screen's answer.
func (h *demoDesk) settle() {
	h.t.Helper()
	poll(h.t, "the screen's background work", func() (bool, string) {
		if n := h.inflight.Load(); n > 0 {
			return false, fmt.Sprintf("%d calls in flight", n)
		}
		h.loop.run(func() {}) // results are queued before their call ends
		return h.inflight.Load() == 0, "work started by a result"
	})
}

func (h *demoDesk) login(id string) {
	h.t.Helper()
	pin := ""
	for _, o := range demo.Operators() {
		if o.ID == id {
			pin = o.PIN
		}
	}
	h.typeText(id)
	h.key(fyne.KeyReturn)
	h.typeText(pin)
	h.key(fyne.KeyReturn)
	h.eventually("login of "+id, func() bool { return h.desk.Operator() != nil })
}

// shown waits until the window shows every one of want (what names the
// wait in a failure).
func (h *demoDesk) shown(what string, want ...string) {
	h.t.Helper()
	h.eventually(what, func() bool {
		got := h.texts()
		for _, w := range want {
			if !strings.Contains(got, w) {
				return false
			}
		}
		return true
	})
}

// texts returns the visible texts of the window, one a line.
func (h *demoDesk) texts() string { return textsOf(h.win.Canvas().Content()) }

// textsOf returns the visible texts in o, one a line: labels, buttons and
// rich text (through their renderers), and what is typed in entries.
func textsOf(o fyne.CanvasObject) string {
	var b strings.Builder
	walkVisible(o, func(o fyne.CanvasObject) bool {
		switch x := o.(type) {
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		case *ui.Entry:
			b.WriteString("[" + x.Text + "]\n")
		case *canvas.Text:
			b.WriteString(x.Text + "\n")
		}
		return true
	})
	return b.String()
}

// walkVisible calls f for o and every visible object inside it, depth
// first, while f returns true.
func walkVisible(o fyne.CanvasObject, f func(fyne.CanvasObject) bool) {
	if o == nil || !o.Visible() || !f(o) {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walkVisible(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walkVisible(c, f)
		}
	}
}

// overflow lists what of the window does not fit it: the content asking
// for more than the window (the real window would grow past the screen),
// a horizontal scroll bar, and any widget lying outside the window or,
// inside a vertical scroll, outside the scroll's width.
func overflow(w fyne.Window) []string {
	c := w.Canvas()
	var out []string
	size := c.Size()
	if m := c.Content().MinSize(); m.Width > size.Width || m.Height > size.Height {
		out = append(out, fmt.Sprintf("content asks for %.0fx%.0f in a %.0fx%.0f window", m.Width, m.Height, size.Width, size.Height))
	}
	const slack = 1 // rounding of the layouts
	var walk func(o fyne.CanvasObject, at fyne.Position, minX, maxX, minY, maxY float32, path string)
	walk = func(o fyne.CanvasObject, at fyne.Position, minX, maxX, minY, maxY float32, path string) {
		if o == nil || !o.Visible() {
			return
		}
		p, s := at.Add(o.Position()), o.Size()
		if s.Width > 0 && s.Height > 0 && (p.X < minX-slack || p.X+s.Width > maxX+slack || p.Y < minY-slack || p.Y+s.Height > maxY+slack) {
			out = append(out, fmt.Sprintf("%s at %.0f,%.0f size %.0fx%.0f outside x %.0f–%.0f (in %s)", describe(o), p.X, p.Y, s.Width, s.Height, minX, maxX, path))
			return
		}
		path += fmt.Sprintf(" > %T", o)
		switch x := o.(type) {
		case *container.Scroll:
			if x.Content == nil {
				return
			}
			if x.Direction != container.ScrollVerticalOnly && x.Direction != container.ScrollNone && x.Content.MinSize().Width > s.Width+slack {
				out = append(out, fmt.Sprintf("horizontal scroll: %s needs %.0f of %.0f", describe(x.Content), x.Content.MinSize().Width, s.Width))
			}
			// Inside a vertical scroll only the width must fit (what is
			// scrolled off above or below is reached by scrolling).
			walk(x.Content, p, p.X, p.X+s.Width, -1e9, 1e9, path)
		case *widget.Entry, *ui.Entry, *widget.Select, *widget.Table, *widget.List:
			// They clip and scroll their own text or rows.
		case *fyne.Container:
			for _, ch := range x.Objects {
				walk(ch, p, minX, maxX, minY, maxY, path)
			}
		case fyne.Widget:
			for _, ch := range test.WidgetRenderer(x).Objects() {
				walk(ch, p, minX, maxX, minY, maxY, path)
			}
		}
	}
	walk(c.Content(), fyne.Position{}, 0, size.Width, 0, size.Height, "window")
	for _, o := range c.Overlays().List() {
		walk(o, fyne.Position{}, 0, size.Width, 0, size.Height, "overlay")
	}
	return out
}

func describe(o fyne.CanvasObject) string {
	var texts []string
	walkVisible(o, func(o fyne.CanvasObject) bool {
		switch x := o.(type) {
		case *widget.Label:
			texts = append(texts, x.Text)
		case *widget.Button:
			texts = append(texts, x.Text)
		}
		return len(texts) < 3
	})
	s := fmt.Sprintf("%T", o)
	if len(texts) > 0 {
		s += fmt.Sprintf(" %q", strings.Join(texts, " | "))
	}
	return s
}

// screenSizes are the ticket-window PCs' screens, less a title bar.
var screenSizes = []fyne.Size{{Width: 1024, Height: 768 - 32}, {Width: 1280, Height: 800 - 32}, {Width: 1366, Height: 768 - 32}}

// renderEverywhere renders what is on show at each screen size and text
// size of scales in both languages (under the race detector the worst case
// only: the smallest screen at the largest text) and calls check at each;
// the desk is left in lang at the normal text size.
func (h *demoDesk) renderEverywhere(lang app.Lang, scales []ui.TextScale, check func(where string) []string) {
	h.t.Helper()
	sizes := screenSizes
	if raceBuild {
		sizes, scales = screenSizes[:1], ui.TextScales[len(ui.TextScales)-1:]
	}
	for _, l := range []app.Lang{app.LangZH, app.LangEN} {
		for _, size := range sizes {
			for _, scale := range scales {
				var bad []string
				where := fmt.Sprintf("%s %.0fx%.0f %s", l, size.Width, size.Height, scale)
				h.loop.run(func() {
					h.desk.SetLanguageChoice(l)
					h.desk.SetTextScale(scale)
					h.desk.FitScreen(fyne.NewSize(size.Width, size.Height+32))
					bad = check(where)
				})
				for _, b := range bad {
					h.t.Errorf("%s: %s", where, b)
				}
			}
		}
	}
	h.loop.run(func() { h.desk.SetLanguageChoice(lang); h.desk.SetTextScale(ui.ScaleNormal) })
}

// TestEveryScreenFits: every screen of a
// supervisor (who reaches them all) and the login fit 1024×768, 1280×800
// and 1366×768 at every text size in both languages: nothing lies outside
// the window, nothing needs a horizontal scroll bar, and the window never
// has to grow. The same holds in the states the clerk's actions lead to:
// a filled sale form, the receipts, the manual-check form and its record,
// every upgrade step and its result, the unbind form and its result, and a
// look-up's answer (actionStates).
func TestEveryScreenFits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangEN, ui.ScaleNormal, screenSizes[0])
	scales := ui.TextScales
	fits := func(what string) {
		t.Helper()
		h.renderEverywhere(app.LangEN, scales, func(string) []string {
			var out []string
			for _, b := range overflow(h.win) {
				out = append(out, what+": "+b)
			}
			return out
		})
	}
	fits("login")
	h.login("9001")
	var ids []string
	h.loop.run(func() { ids = h.desk.ScreenIDs() })
	for _, id := range ids {
		h.loop.run(func() { h.desk.ShowScreen(id) })
		fits(id)
	}
	// The states after an action at the largest text only, where they are
	// widest: every text size of every state held more than 20 GB of
	// renderings in the test binary.
	scales = ui.TextScales[len(ui.TextScales)-1:]
	h.actionStates(func(state, _ string) { fits(state) })
}

// TestResultOnScreen: after each action that produces a result (a sale, a
// welfare exchange, a manual check, an upgrade, an unbind, a look-up) its
// result is on screen — inside the window and inside the part of every
// scrolling area on show, pinned or scrolled into view — at every screen
// size and text size in both languages.
func TestResultOnScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangEN, ui.ScaleNormal, screenSizes[0])
	h.login("9001")
	n := 0
	shots := os.Getenv("STATIONDESK_SCREENSHOTS")
	h.actionStates(func(state, result string) {
		if shots != "" && afterShots[state] != "" {
			h.saveShot(filepath.Join(shots, afterShots[state]))
		}
		if result == "" {
			return
		}
		n++
		h.renderEverywhere(app.LangEN, ui.TextScales, func(where string) []string {
			want := result
			if strings.HasPrefix(where, string(app.LangZH)) {
				want = resultZH[result]
			}
			if why := onScreen(h.win, want); why != "" {
				return []string{state + ": " + why}
			}
			return nil
		})
	})
	if n != len(resultZH) {
		t.Fatalf("%d results checked, want %d", n, len(resultZH))
	}
}

// afterShots are the states of actionStates that make screenshots saves
// (as NAME-zh.png and NAME-en.png): the forms a clerk fills and the
// results, which the screens' first states in TestScreenshots do not show.
// The filled manual-check form is left out: the software painter draws the
// part of its form scrolled out of view over the status bar, which the
// real window clips.
var afterShots = map[string]string{
	"sale form filled":      "ticket-filled",
	"ticket sold":           "ticket-sold",
	"welfare issued":        "welfare-issued",
	"manual check recorded": "check-recorded",
	"upgrade confirm":       "upgrade-confirm",
	"upgrade result":        "upgrade-done",
	"unbind done":           "unbind-done",
	"look-up answer":        "lookup-answer",
}

// saveShot saves what is on show, rendered by Fyne's software painter at
// 1280×800 with the large text, as base-zh.png and base-en.png, and puts
// the desk back in English at the normal text size.
func (h *demoDesk) saveShot(base string) {
	h.t.Helper()
	for _, l := range []app.Lang{app.LangZH, app.LangEN} {
		var img image.Image
		h.loop.run(func() {
			h.desk.SetLanguageChoice(l)
			h.desk.SetTextScale(ui.ScaleLarge)
			h.desk.FitScreen(fyne.NewSize(1280, 800))
			img = h.win.Canvas().Capture()
		})
		f, err := os.Create(base + "-" + string(l) + ".png")
		if err != nil {
			h.t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			h.t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	h.loop.run(func() { h.desk.SetLanguageChoice(app.LangEN); h.desk.SetTextScale(ui.ScaleNormal) })
}

// resultZH are the results actionStates names, in Chinese (the desk's own
// translation tables).
var resultZH = func() map[string]string {
	zh := map[string]string{}
	files, _ := fs.Glob(assets.Translations, "translations/*.json")
	for _, f := range files {
		b, err := fs.ReadFile(assets.Translations, f)
		if err != nil {
			panic(err)
		}
		var table map[string]string
		if err := json.Unmarshal(b, &table); err != nil {
			panic(f + ": " + err.Error())
		}
		maps.Copy(zh, table)
	}
	out := map[string]string{"Upgraded": "升级成功", "Unbound": "已解绑", "1000 2000 02": "1000 2000 02", "At the gates now": "闸机现在"}
	for _, en := range []string{"Ticket issued", "Welfare ticket issued", "Manual check passed and recorded."} {
		out[en] = zh[en]
	}
	return out
}()

// onScreen reports why no text object showing want lies wholly inside the
// window and inside every scroll it is in, or "" when one does.
func onScreen(w fyne.Window, want string) string {
	type rect struct{ x0, y0, x1, y1 float32 }
	size := w.Canvas().Size()
	found, seen := false, []string{}
	var walk func(o fyne.CanvasObject, at fyne.Position, clip rect)
	walk = func(o fyne.CanvasObject, at fyne.Position, clip rect) {
		if found || o == nil || !o.Visible() {
			return
		}
		p, s := at.Add(o.Position()), o.Size()
		text := ""
		switch x := o.(type) {
		case *canvas.Text:
			text = x.Text
		case *widget.RichText:
			text = x.String()
		}
		if text != "" && strings.Contains(text, want) {
			const slack = 1
			if p.X >= clip.x0-slack && p.Y >= clip.y0-slack && p.X+s.Width <= clip.x1+slack && p.Y+s.Height <= clip.y1+slack {
				found = true
				return
			}
			seen = append(seen, fmt.Sprintf("at %.0f,%.0f size %.0fx%.0f, visible part x %.0f–%.0f y %.0f–%.0f", p.X, p.Y, s.Width, s.Height, clip.x0, clip.x1, clip.y0, clip.y1))
		}
		switch x := o.(type) {
		case *container.Scroll:
			inner := rect{max(clip.x0, p.X), max(clip.y0, p.Y), min(clip.x1, p.X+s.Width), min(clip.y1, p.Y+s.Height)}
			if x.Content != nil {
				walk(x.Content, p, inner)
			}
		case *fyne.Container:
			for _, ch := range x.Objects {
				walk(ch, p, clip)
			}
		case fyne.Widget:
			for _, ch := range test.WidgetRenderer(x).Objects() {
				walk(ch, p, clip)
			}
		}
	}
	walk(w.Canvas().Content(), fyne.Position{}, rect{0, 0, size.Width, size.Height})
	if found {
		return ""
	}
	if len(seen) == 0 {
		return fmt.Sprintf("%q is not shown", want)
	}
	return fmt.Sprintf("%q is out of view: %s", want, strings.Join(seen, "; "))
}
