package app

import "strings"

// DocCheck is the result of CheckDocument, printed as JSON by
// `stationdesk doc check --type TYPE NUMBER`. It never holds the full
// number: Masked is set only for a valid number, Error is the user message
// (which never repeats the input) and Reason the stable machine word of
// the *Error (e.g. "check_digit").
type DocCheck struct {
	Type   string `json:"type"`
	Valid  bool   `json:"valid"`
	Masked string `json:"masked,omitempty"`
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// CheckDocument validates raw as a document of type typ — a DocType name,
// or "auto" (or "") to recognise the type as DetectDoc does — with the
// wall clock, and reports the outcome with messages in l. Type is the
// recognised type when there is one, otherwise typ as given ("auto"), or
// "" when typ is unknown (reason "type"; the unknown name is not echoed
// since it might be a number typed into the wrong argument).
func CheckDocument(typ, raw string, l Lang) DocCheck {
	typ = strings.ToLower(strings.TrimSpace(typ))
	var (
		d   DocNumber
		err error
		out DocCheck
	)
	if typ == "" || typ == "auto" {
		out.Type = "auto"
		var t DocType
		if t, err = detectType(raw); err == nil {
			out.Type = string(t)
			d, err = ParseDoc(t, raw)
		}
	} else {
		var t DocType
		if t, err = ParseDocType(typ); err == nil {
			out.Type = string(t)
			d, err = ParseDoc(t, raw)
		}
	}
	if err != nil {
		out.Error = UserMessage(err, l)
		out.Reason = ErrorReason(err)
		return out
	}
	out.Valid = true
	out.Masked = d.Masked()
	return out
}
