package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"stationdesk/app"
)

var errBadBody = errors.New("bad verify body")

// parseVerifyBody decodes {"card":"…"} or {"qr":"…"} with the rules the
// API documents: no unknown fields, no duplicate keys, exactly one of the
// two, nothing after the object, card ≤ 32 and ride code ≤
// app.RideQRMaxLen bytes.
//
// Gates send the compact form, so that form is parsed by hand (no
// reflection, one string allocation); anything else — whitespace, escapes,
// other fields, duplicates — goes to encoding/json, whose answer is the
// reference (FuzzParseVerifyBody checks both agree).
func parseVerifyBody(b []byte) (verifyRequest, error) {
	req, ok := parseCompact(b)
	if !ok {
		var err error
		if req, err = parseJSON(b); err != nil {
			return req, err
		}
	}
	if (req.Card == "") == (req.QR == "") || len(req.Card) > 32 || len(req.QR) > app.RideQRMaxLen {
		return req, errBadBody
	}
	return req, nil
}

// parseCompact accepts exactly {"card":"S"} or {"qr":"S"} where S is
// printable ASCII without '"' and '\' (so its JSON value is S itself).
func parseCompact(b []byte) (verifyRequest, bool) {
	var req verifyRequest
	var rest []byte
	var dst *string
	switch {
	case bytes.HasPrefix(b, []byte(`{"card":"`)):
		rest, dst = b[len(`{"card":"`):], &req.Card
	case bytes.HasPrefix(b, []byte(`{"qr":"`)):
		rest, dst = b[len(`{"qr":"`):], &req.QR
	default:
		return req, false
	}
	if len(rest) < 2 || rest[len(rest)-2] != '"' || rest[len(rest)-1] != '}' {
		return req, false
	}
	v := rest[:len(rest)-2]
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return req, false
		}
	}
	*dst = string(v)
	return req, true
}

// parseJSON is the reference parser: one JSON object whose members are
// "card" or "qr" with string values, each at most once (a duplicate key is
// refused, not "last one wins": two parsers of the same bytes must never
// see two different cards), and nothing after it.
func parseJSON(b []byte) (verifyRequest, error) {
	var req verifyRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return req, errBadBody
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return req, errBadBody
		}
		k, _ := t.(string)
		if k != "card" && k != "qr" || seen[k] {
			return req, errBadBody
		}
		seen[k] = true
		t, err = dec.Token()
		if err != nil {
			return req, errBadBody
		}
		v, ok := t.(string)
		if !ok {
			return req, errBadBody
		}
		if k == "card" {
			req.Card = v
		} else {
			req.QR = v
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return req, errBadBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errBadBody
	}
	return req, nil
}

// bodyPool holds request body buffers (the body never outlives the
// handler: the card number is copied out as a string).
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readBody reads r into buf up to limit bytes. It returns
// *http.MaxBytesError when the body is longer (and MaxBytesReader then
// tells the server to close the connection).
func readBody(w http.ResponseWriter, r io.ReadCloser, buf []byte, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
