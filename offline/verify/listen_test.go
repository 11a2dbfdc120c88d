package verify

import (
	"errors"
	"net"
	"strings"
	"testing"

	"stationdesk/app"
)

// TestPortInUseIsNamed: serve on a port another process holds says so, in
// both languages, instead of an internal error.
func TestPortInUseIsNamed(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	_, err = net.Listen("tcp", addr)
	if err == nil {
		t.Fatal("second listen on the same port succeeded")
	}
	got := listenError(addr, err)
	var ae *app.Error
	if !errors.As(got, &ae) || ae.Reason != "port_in_use" {
		t.Fatalf("got %v, want reason port_in_use", got)
	}
	en, zh := ae.Message(app.LangEN), ae.Message(app.LangZH)
	if !strings.Contains(en, addr) || !strings.Contains(en, "in use") || !strings.Contains(zh, "已被占用") {
		t.Fatalf("messages do not name the port: %q / %q", en, zh)
	}
	if strings.Contains(app.UserMessage(got, app.LangEN), "Internal error") {
		t.Fatal("still an internal error")
	}
}
