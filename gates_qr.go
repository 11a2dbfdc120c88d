package main

import (
	"fmt"
	"os"
	"strings"

	qr "github.com/piglig/go-qr"
	"golang.org/x/term"

	"stationdesk/app/atomicfile"
	"stationdesk/offline/verify"
)

// The provisioning QR code (docs/gate-contract.md "Keys and provisioning") carries
// verify.Provisioning.QRPayload: the provisioning file's JSON object
// without whitespace, in byte mode, at error correction level M (15 % of
// the code may be lost; the library raises it when that fits in the same
// version). A provisioning with two http endpoints is about 350 bytes: a
// version 14 symbol of 73 modules, 77 columns in half blocks (two module
// rows per text line) with the terminal's quiet zone, so it fits an
// 80-column terminal; the PNG has 8 pixels per module.

// qrBorder is the PNG's quiet zone in modules (ISO/IEC 18004 asks for 4).
const qrBorder = 4

// qrTermBorder is the terminal's quiet zone: 2 modules (drawn light, the
// terminal's own background is dark around it) keep the usual symbol in
// 80 columns; phone and gate scanners read it.
const qrTermBorder = 2

// provisioningQR encodes the provisioning for the gate's scanner.
func provisioningQR(p verify.Provisioning) (*qr.QrCode, error) {
	return qr.EncodeBinary(p.QRPayload(), qr.Medium)
}

// qrDark is the module at (x, y), light outside the symbol (quiet zone).
func qrDark(q *qr.QrCode, x, y int) bool {
	n := q.Size()
	return x >= 0 && y >= 0 && x < n && y < n && q.Module(x, y)
}

// qrHalfBlocks renders q for a terminal: each text line is two module
// rows, light modules are drawn (█ ▀ ▄) and dark ones left blank, so on a
// terminal's usual dark background the code reads dark on light. With
// ansi the lines force white on black, so a light-background terminal
// shows the same code rather than its negative.
func qrHalfBlocks(q *qr.QrCode, ansi bool) string {
	var b strings.Builder
	n := q.Size()
	for y := -qrTermBorder; y < n+qrTermBorder; y += 2 {
		if ansi {
			b.WriteString("\x1b[97;40m")
		}
		for x := -qrTermBorder; x < n+qrTermBorder; x++ {
			top, bot := !qrDark(q, x, y), !qrDark(q, x, y+1)
			switch {
			case top && bot:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bot:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		if ansi {
			b.WriteString("\x1b[0m")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writeQRPNG writes q as a PNG of 8 pixels per module, 0600 (it holds
// the key), atomically.
func writeQRPNG(q *qr.QrCode, path string) error {
	b, err := q.ToPNGBytes(qr.NewQrCodeImgConfig(8, qrBorder))
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

// stdoutIsTerminal says whether the QR code is printed by default.
func stdoutIsTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// qrChoice is how gates add/rotate show the provisioning as a QR code.
type qrChoice struct {
	on, off bool   // --qr, --no-qr
	png     string // --qr-png FILE
}

func (c qrChoice) validate() error {
	if c.on && c.off {
		return fmt.Errorf("give --qr or --no-qr, not both")
	}
	return nil
}
