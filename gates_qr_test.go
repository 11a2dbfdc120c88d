package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	qr "github.com/piglig/go-qr"

	"stationdesk/offline/verify"
)

// qrFromText reads the half-block QR code printed after the line starting
// with "provisioning QR code" back into a module matrix (true = dark),
// quiet zone included; ANSI colour codes are dropped.
func qrFromText(t *testing.T, out string) [][]bool {
	t.Helper()
	_, after, ok := strings.Cut(out, "provisioning QR code")
	if !ok {
		t.Fatalf("no QR code in the output:\n%s", out)
	}
	lines := strings.Split(after, "\n")[1:]
	var rows [][]bool
	for _, l := range lines {
		l = strings.ReplaceAll(strings.ReplaceAll(l, "\x1b[97;40m", ""), "\x1b[0m", "")
		l = strings.TrimRight(l, "\r")
		if l == "" || strings.Trim(l, "█▀▄ ") != "" {
			break
		}
		var top, bot []bool
		for _, r := range l {
			// drawn = light; blank = dark
			top = append(top, r == ' ' || r == '▄')
			bot = append(bot, r == ' ' || r == '▀')
		}
		rows = append(rows, top, bot)
	}
	if len(rows) == 0 {
		t.Fatalf("empty QR code in:\n%s", out)
	}
	return rows
}

// modulesOf is the library's module matrix of q with the terminal's
// quiet zone.
func modulesOf(q *qr.QrCode) [][]bool {
	var m [][]bool
	for y := -qrTermBorder; y < q.Size()+qrTermBorder; y++ {
		var row []bool
		for x := -qrTermBorder; x < q.Size()+qrTermBorder; x++ {
			row = append(row, qrDark(q, x, y))
		}
		m = append(m, row)
	}
	return m
}

// imageOf draws a module matrix at 4 pixels per module.
func imageOf(m [][]bool) image.Image {
	const s = 4
	img := image.NewGray(image.Rect(0, 0, len(m[0])*s, len(m)*s))
	for y, row := range m {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{}
			}
			for dy := range s {
				for dx := range s {
					img.SetGray(x*s+dx, y*s+dy, c)
				}
			}
		}
	}
	return img
}

// equalMatrix: the printed matrix is the library's, row for row; the
// text form has an even number of rows, so when the symbol with its quiet
// zone has an odd height the one spare row at the bottom must be light.
func equalMatrix(printed, lib [][]bool) bool {
	if len(printed) != len(lib) && len(printed) != len(lib)+1 {
		return false
	}
	for y, row := range printed {
		for x, dark := range row {
			want := false
			if y < len(lib) {
				if len(row) != len(lib[y]) {
					return false
				}
				want = lib[y][x]
			}
			if dark != want {
				return false
			}
		}
	}
	return true
}

// compactFile is the provisioning file's JSON without whitespace: what
// the QR code must hold.
func compactFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// TestGatesProvisioningQR: add --qr prints a QR code in half blocks and
// --qr-png writes a PNG (0600); both decode to exactly the provisioning
// file's content (compact JSON) and the printed modules are the library's
// encoding of it; without a terminal and without --qr nothing is printed;
// rotate writes its own; --qr with --no-qr is refused.
func TestGatesProvisioningQR(t *testing.T) {
	dir, pin, _ := gatesFolder(t)
	tmp := t.TempDir()
	prov, pngPath := filepath.Join(tmp, "g1.json"), filepath.Join(tmp, "g1.png")
	code, out, errOut := runCLI("gates", "add", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin,
		"--endpoint", "http://10.20.0.2:8443", "--endpoint", "http://10.20.0.3:8443", "--out", prov, "--qr", "--qr-png", pngPath)
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	want := compactFile(t, prov)
	if !strings.Contains(out, "holds the key") || strings.Contains(out, "\x1b[") {
		t.Fatalf("no secret warning, or colour codes without a terminal:\n%s", out)
	}

	fi, err := os.Stat(pngPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PNG %v %v", fi, err)
	}
	f, _ := os.Open(pngPath)
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal("not a PNG:", err)
	}
	got, err := qr.Decode(img)
	if err != nil || got != want {
		t.Fatalf("PNG decodes to %q (%v), want the provisioning file %q", got, err, want)
	}

	printed := qrFromText(t, out)
	p, _, err := verify.ParseProvisioning([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := provisioningQR(p)
	if err != nil {
		t.Fatal(err)
	}
	if !equalMatrix(printed, modulesOf(lib)) {
		t.Fatal("printed modules differ from the library's encoding of the provisioning")
	}
	if got, err := qr.Decode(imageOf(printed)); err != nil || got != want {
		t.Fatalf("terminal QR decodes to %q (%v)", got, err)
	}
	if w := len(printed[0]); w > 80 {
		t.Errorf("QR code of a two-endpoint provisioning is %d columns wide, more than a terminal's 80", w)
	}

	// rotate: no terminal, no --qr: no QR text; the PNG is the new key's.
	png2 := filepath.Join(tmp, "g1-k2.png")
	code, out, errOut = runCLI("gates", "rotate", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin, "--endpoint", "http://10.20.0.2:8443",
		"--out", prov, "--qr-png", png2)
	if code != 0 || strings.Contains(out, "provisioning QR code") || strings.ContainsAny(out, "█▀▄") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	f, _ = os.Open(png2)
	img, err = png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := qr.Decode(img); err != nil || got != compactFile(t, prov) || !strings.Contains(got, `"key_id":2`) {
		t.Fatalf("rotated PNG holds %q (%v)", got, err)
	}

	if code, _, e := runCLI("gates", "add", "g2", "--data", dir, "--operator", "1001", "--pin-file", pin, "--qr", "--no-qr"); code != 2 || !strings.Contains(e, "not both") {
		t.Fatalf("--qr --no-qr: %d %s", code, e)
	}
}

// TestGatesQRDefaultOnTerminal: on a terminal (a pty) add prints the QR
// code by default, in forced white-on-black, and --no-qr turns it off.
func TestGatesQRDefaultOnTerminal(t *testing.T) {
	dir, pin, _ := gatesFolder(t)
	tmp := t.TempDir()
	run1 := func(args ...string) (int, string) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skip("no pty:", err)
		}
		defer ptmx.Close()
		read := make(chan string, 1)
		go func() { b, _ := io.ReadAll(ptmx); read <- string(b) }()
		var e bytes.Buffer
		code := run(context.Background(), args, tty, &e)
		tty.Close()
		select {
		case s := <-read:
			return code, s + e.String()
		case <-time.After(10 * time.Second):
			t.Fatal("pty output not read")
		}
		return 0, ""
	}
	code, out := run1("gates", "add", "g1", "--data", dir, "--operator", "1001", "--pin-file", pin, "--endpoint", "http://10.20.0.2:8443", "--out", filepath.Join(tmp, "g1.json"))
	if code != 0 || !strings.Contains(out, "\x1b[97;40m") {
		t.Fatalf("add on a terminal: %d\n%s", code, out)
	}
	if got, err := qr.Decode(imageOf(qrFromText(t, out))); err != nil || got != compactFile(t, filepath.Join(tmp, "g1.json")) {
		t.Fatalf("terminal QR decodes to %q (%v)", got, err)
	}
	code, out = run1("gates", "add", "g2", "--data", dir, "--operator", "1001", "--pin-file", pin, "--endpoint", "http://10.20.0.2:8443", "--out", filepath.Join(tmp, "g2.json"), "--no-qr")
	if code != 0 || strings.Contains(out, "provisioning QR code") {
		t.Fatalf("--no-qr on a terminal: %d\n%s", code, out)
	}
}
