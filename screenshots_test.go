package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shotScreens are a supervisor's screens in navigation order with their
// keys (xdotool names), as the navigation shows them.
var shotScreens = []struct{ id, key string }{
	{"ticket", "F2"}, {"welfare", "F3"}, {"check", "F4"}, {"backlog", "F5"}, {"shift", "F6"},
	{"upgrade", "F7"}, {"lookup", "F8"}, {"pending", "F9"}, {"doccheck", "F10"}, {"gates", "F11"},
	{"devsettings", "ctrl+F2"}, {"operators", "ctrl+F3"}, {"audit", "ctrl+F4"}, {"settings", "ctrl+F5"},
}

// TestScreenshots saves a PNG of the login and of every screen of the real
// demo window under Xvfb at 1280×800 with the large text, in Chinese and
// in English, as SCREEN-zh.png / SCREEN-en.png in the folder named by
// STATIONDESK_SCREENSHOTS (make screenshots: assets/screenshots). Only the
// keyboard moves between the screens. Skipped without that variable.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("STATIONDESK_SCREENSHOTS")
	if dir == "" {
		t.Skip("STATIONDESK_SCREENSHOTS is not set (make screenshots)")
	}
	for _, tool := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	display := startXvfbSized(t, "1280x800x24")
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATIONDESK_CHILD=1", "DISPLAY="+display,
		"STATIONDESK_ARGS=--demo --data "+data+" --lang zh --text-size large", "HOME="+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "STATIONDESK READY" {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case <-time.After(stepDeadline):
		t.Fatalf("desk not ready; stderr:\n%s", stderr)
	}
	t.Setenv("DISPLAY", display)
	var wid string
	poll(t, "the window mapped", func() (bool, string) {
		out, err := exec.Command("xdotool", "search", "--onlyvisible", "--name", "StationDesk").CombinedOutput()
		if f := strings.Fields(string(out)); err == nil && len(f) > 0 {
			wid = f[0]
			return true, ""
		}
		return false, string(out)
	})
	xdo := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("xdotool", args...).CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v %s", args, err, out)
		}
	}
	grab := func(p string) (image.Image, error) {
		if out, err := exec.Command("import", "-display", display, "-window", wid, p).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("import: %v %s", err, bytes.TrimSpace(out))
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		return img, err
	}
	var last image.Image
	// shot saves name once the window shows something new (it differs
	// from the last picture) and has settled (three pictures in a row
	// agree: a screen that loads its content draws twice).
	shot := func(name string) {
		t.Helper()
		p := filepath.Join(dir, name)
		var prev image.Image
		same := 0
		poll(t, "a settled picture for "+name, func() (bool, string) {
			img, err := grab(p)
			if err != nil {
				return false, err.Error()
			}
			if colours(img) <= minColours {
				return false, "not drawn yet"
			}
			if last != nil && changed(last, img) <= minChanged {
				return false, "not changed from the last screen yet"
			}
			// A blinking text cursor is not a change.
			if prev == nil || changed(prev, img) > settled {
				prev, same = img, 0
				return false, "still changing"
			}
			if same++; same < 2 {
				return false, "settling"
			}
			last = img
			return true, ""
		})
		t.Logf("saved %s", p)
	}
	shot("login-zh.png")
	xdo("type", "--delay", "40", "9001")
	xdo("key", "Return")
	xdo("type", "--delay", "40", "900101")
	xdo("key", "Return")
	logFile := filepath.Join(data, "stationdesk.log")
	poll(t, "the login", func() (bool, string) {
		b, err := os.ReadFile(logFile)
		return err == nil && bytes.Contains(b, []byte(`"msg":"operator logged in"`)), "not yet logged in"
	})
	for _, lang := range []string{"zh", "en"} {
		if lang == "en" {
			xdo("key", "F12")
		}
		for _, s := range shotScreens {
			xdo("key", s.key)
			shot(s.id + "-" + lang + ".png")
		}
		xdo("key", "F1")
		shot("help-" + lang + ".png")
		xdo("key", "Escape")
	}
	xdo("key", "ctrl+l")
	shot("login-en.png")
}

// settled is the share of sampled pixels two pictures of a settled
// window may differ in: a blinking text cursor, not a redrawn screen.
const settled = 0.0005

// startXvfbSized starts a private X server with one screen of geometry
// (WxHxDepth) and returns its DISPLAY.
func startXvfbSized(t *testing.T, geometry string) string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", geometry, "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return fmt.Sprintf(":%s", strings.TrimSpace(line))
}
