package gatesim

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadResponse feeds arbitrary bytes to the generator's HTTP/1.1
// response parser: it must return an error or a body within the declared
// length, never panic or allocate without bound.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nResponse-Signature: 00ff\r\n\r\n{}",
		"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n{\"error\":\"unauthorized\"}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\n", "garbage", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l := &lconn{br: bufio.NewReader(bytes.NewReader(b))}
		status, body, _, _, err := l.readResponse(nil)
		if err == nil && (status < 0 || status > 999 || len(body) > 1<<16) {
			t.Fatalf("status %d body %d", status, len(body))
		}
	})
}
