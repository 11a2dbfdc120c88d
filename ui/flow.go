package ui

// Helpers shared by the service-desk flows (upgrade, card look-up, pending
// list): state that survives a language switch but not leaving the screen,
// background reader waits that stop when the screen goes, keyboard-aware
// buttons and selects, and large text.

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// waitReader calls read in the background until it returns a value, then
// hands it to onValue on the UI goroutine. A reader error goes to onErr (the
// screen says what is wrong and keeps the manual entry open); with tickers on
// the wait is retried after a pause, and onErr(nil) tells the screen when
// the reader is waiting normally again. Nothing is delivered once ctx is
// cancelled: the device drivers serve waiters first-come first-served, so a
// screen that is left must cancel, or its forgotten wait would take the card
// the next screen is waiting for. The drivers answer a cancelled wait with
// "timeout", so cancellation is judged by ctx, never by the error.
func waitReader[T any](b Background, ctx context.Context, read func(context.Context) (T, error), onValue func(T), onErr func(error)) {
	waitReaderSkip(b, ctx, read, nil, nil, onValue, onErr)
}

// readerBack is how long a read after an error must wait before the reader
// counts as back (see waitReaderSkip).
const readerBack = 500 * time.Millisecond

// lyingFor is how fast a read must answer for the card to count as one
// that was already lying on the reader when the wait began (the transit
// card reader answers at once for a card in its field; a card placed
// during the wait makes the read block first).
const lyingFor = 250 * time.Millisecond

// waitReaderSkip is waitReader for readers that report a card lying in
// their field again and again (the transit-card reader): skip(v, lying)
// says whether v is to be passed over — e.g. the previous rider's card left
// on the reader — in which case onSkip tells the clerk (UI goroutine) and
// the reader is asked again after a pause, until that card is lifted or a
// card is placed during the wait (lying false).
func waitReaderSkip[T any](b Background, ctx context.Context, read func(context.Context) (T, error), skip func(v T, lying bool) bool, onSkip func(T), onValue func(T), onErr func(error)) {
	b.wait(func() {
		skipped, failed := false, false
		pauseSkip := 500 * time.Millisecond
		for {
			start := time.Now()
			// After an error (a reader unplugged), a read that has been
			// waiting for half a second means the reader is back: onErr(nil)
			// lets the screen take its red message down.
			var back *time.Timer
			if failed && b.tickers() {
				back = time.AfterFunc(readerBack, func() {
					b.do(func() {
						if ctx.Err() == nil {
							onErr(nil)
						}
					})
				})
			}
			v, err := read(ctx)
			if back != nil {
				back.Stop()
			}
			if ctx.Err() != nil {
				return
			}
			if err == nil && skip != nil && skip(v, time.Since(start) < lyingFor) {
				if !skipped && onSkip != nil {
					b.do(func() {
						if ctx.Err() == nil {
							onSkip(v)
						}
					})
				}
				skipped = true
				if !b.tickers() {
					return
				}
				// The reader answers at once while the card lies there
				// (and the driver logs each read): back off to 3 s.
				select {
				case <-ctx.Done():
					return
				case <-time.After(pauseSkip):
				}
				pauseSkip = min(2*pauseSkip, 3*time.Second)
				continue
			}
			if err == nil {
				b.do(func() {
					if ctx.Err() == nil {
						onValue(v)
					}
				})
				return
			}
			failed = true
			b.do(func() {
				if ctx.Err() == nil {
					onErr(err)
				}
			})
			if !b.tickers() {
				return
			}
			pause := 2 * time.Second
			if app.ErrorReason(err) == "timeout" {
				pause = 200 * time.Millisecond
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	})
}

// cardID identifies a card as read: its number, and its kind for cards
// without a transit number (UnionPay cards, wearables).
func cardID(c app.Card) string { return c.Number + "/" + string(c.Kind) }

// cardName is how a card read is named on screen: its masked number, or
// its kind when it has no transit number.
func cardName(c app.Card) string {
	if c.Number == "" {
		return kindLabel(c.Kind)
	}
	return c.MaskedNumber()
}

// lastCard is the cardID of the last card a flow took or looked up (memory
// only), so the card left on the reader by the previous rider — or after a
// look-up — is not taken for the next one. Safe from any goroutine.
func (k *Desk) lastCard() string {
	id, _ := k.lastCardTaken()
	return id
}

// lastCardTaken is lastCard and the document of the holder the upgrade
// flow took it for (zero after a look-up).
func (k *Desk) lastCardTaken() (string, app.DocNumber) {
	k.lastCardMu.Lock()
	defer k.lastCardMu.Unlock()
	return k.lastCardID, k.lastCardFor
}

func (k *Desk) setLastCard(n string) { k.setLastCardFor(n, app.DocNumber{}) }

// setLastCardFor records that card n was taken for holder (personal
// information, kept in memory only, compared with Equal).
func (k *Desk) setLastCardFor(n string, holder app.DocNumber) {
	k.lastCardMu.Lock()
	defer k.lastCardMu.Unlock()
	k.lastCardID, k.lastCardFor = n, holder
}

// setTyped puts text back into a rebuilt entry with the cursor at its
// end, so the clerk types on where they stopped.
func setTyped(e *Entry, text string) {
	e.SetText(text)
	e.CursorRow, e.CursorColumn = 0, len([]rune(text))
	e.Refresh()
}

// callTimeout bounds a counter-facing use-case call. The central client has
// its own per-call deadlines; this is the desk's outer limit.
const callTimeout = 15 * time.Second

// bigText is text larger than a heading: a card number read aloud to an
// elderly rider, the step the clerk is on. factor multiplies the theme's
// heading size (which already follows the clerk's text size).
func bigText(s string, factor float32) *canvas.Text {
	t := canvas.NewText(s, theme.Color(theme.ColorNameForeground))
	t.TextSize = theme.Size(theme.SizeNameHeadingText) * factor
	t.TextStyle.Bold = true
	return t
}

// numberSize is the bigText factor for a card number: as large as fits
// beside the navigation even for a 19-digit transport-union number
// (canvas text does not wrap, and a too-wide line would widen the window).
func numberSize(n string) float32 {
	if len(n) > 16 {
		return 1.15
	}
	return 1.5
}

// heading is a bold label at heading size.
func heading(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	l.Wrapping = fyne.TextWrapWord
	return l
}

// note is a wrapped label; imp colours it (widget.DangerImportance for a
// problem, WarningImportance for a caution).
func note(s string, imp widget.Importance) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = imp
	return l
}

// stepBar shows the steps of a flow with the current one highlighted, so
// the clerk always knows where they are: "1 Document › 2 Card › …". It is
// one wrapping line, so six proxy steps never widen the window.
func stepBar(names []string, current int) fyne.CanvasObject {
	var segs []widget.RichTextSegment
	for i, n := range names {
		if i > 0 {
			segs = append(segs, &widget.TextSegment{Text: "  ›  ", Style: widget.RichTextStyleInline})
		}
		st := widget.RichTextStyleInline
		switch {
		case i == current:
			st.TextStyle.Bold = true
			st.ColorName = theme.ColorNamePrimary
		case i > current:
			st.ColorName = theme.ColorNameDisabled
		}
		segs = append(segs, &widget.TextSegment{Text: n, Style: st})
	}
	rt := widget.NewRichText(segs...)
	rt.Wrapping = fyne.TextWrapWord
	return rt
}

// formatAge says how long ago t was, coarsely ("3 min", "2 h").
func formatAge(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return T("just now")
	case d < time.Hour:
		return T("{{.N}} min ago", map[string]any{"N": int(d.Minutes())})
	case d < 48*time.Hour:
		return T("{{.N}} h ago", map[string]any{"N": int(d.Hours())})
	}
	return T("{{.N}} days ago", map[string]any{"N": int(d.Hours() / 24)})
}

// screenKey returns the function key of screen id as the navigation shows
// it ("F4"), or "" when the operator has no such screen.
func (k *Desk) screenKey(id string) string {
	for _, s := range k.screens {
		if s.id == id {
			return s.keyLabel()
		}
	}
	return ""
}

// queryMsg is the message for a failed read-only query to central: when
// central cannot be reached, a plain "cannot be reached" (the client's
// outcome-unknown wording is about state-changing requests).
func (k *Desk) queryMsg(err error) string {
	if app.ErrorCode(err) == app.CodeUnavailable {
		return T("Central cannot be reached right now.")
	}
	return k.msg(err)
}

// readerStatus returns an onErr for a status label: an error turns it red
// with prefix, the reader's message and hint; onErr(nil) (the reader is
// back) restores the waiting text it had.
func (k *Desk) readerStatus(status *widget.Label, prefix, hint string) func(error) {
	if status == nil {
		return func(error) {}
	}
	text, imp := status.Text, status.Importance
	return func(err error) {
		if err == nil {
			status.Importance = imp
			status.SetText(text)
			return
		}
		status.Importance = widget.DangerImportance
		status.SetText(prefix + " " + k.msg(err) + " " + hint)
	}
}
