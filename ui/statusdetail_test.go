package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"stationdesk/app"
)

// TestStatusDetailsFollowTheLanguage: the status bar words what the
// adapters report (a central error, the gate cache's version and age, a
// reader's fault) in the language on show, and switches with it.
func TestStatusDetailsFollowTheLanguage(t *testing.T) {
	h := newHarness(t, app.LangEN)
	down := app.NewError(app.CodeUnavailable, "central_unreachable", "无法连接中心系统。", "Central cannot be reached.")
	h.board.Put(app.Status{Component: app.CompCentral, State: app.StateOffline, Err: down})
	h.board.Put(app.Status{Component: app.CompGateCache, State: app.StateReady, Detail: "version {{.Version}}, {{.Age}} old",
		Args: map[string]any{"Version": int64(17), "Age": 45 * time.Second}})
	h.board.Set(app.CompScanner, app.StateError, "port not found")
	for _, c := range []struct {
		lang app.Lang
		want []string
	}{
		{app.LangEN, []string{"Central: offline (Central cannot be reached.)", "Gate cache: ready (version 17, 45 s old)", "QR scanner: error (port not found)"}},
		{app.LangZH, []string{"中心系统: 离线 (无法连接中心系统。)", "闸机缓存: 就绪 (版本 17，45 秒前)", "扫码器: 故障 (未找到串口)"}},
	} {
		fyne.DoAndWait(func() { h.desk.SetLanguageChoice(c.lang) })
		got := h.texts()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s status bar lacks %q:\n%s", c.lang, w, got)
			}
		}
	}
}
