package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ManualDecision is a clerk's manual health-check decision.
type ManualDecision string

// Manual-check decisions.
const (
	ManualPass   ManualDecision = "pass"
	ManualRefuse ManualDecision = "refuse"
)

// ManualReasons are the reason codes a clerk may record (no free text:
// category + time + operator only, docs/rules.md). The first
// two are the reasons of a pass (PassReason says which fits the code shown).
var ManualReasons = []string{
	"valid_certificate",     // pass: green code and a negative test inside the window
	"visitor_negative_test", // pass: no Beijing health code (a visitor) and a negative test inside the window
	"code_red",              // refuse
	"code_yellow",           // refuse
	"nat_outside_window",    // refuse: the test is too old
	"nat_in_future",         // refuse: the certificate's time is after now
	"no_certificate",        // refuse: nothing shown
	"certificate_doubtful",  // refuse: altered, not the rider's, unreadable
	"document_mismatch",     // refuse: the certificate names someone else
	"rider_declined",        // refuse: the rider left or declined the check
}

// ManualReasonLabel returns a reason code's text in l.
func ManualReasonLabel(code string, l Lang) string {
	m := map[string][2]string{
		"valid_certificate":     {"绿码且核酸阴性在时限内", "Green code and a negative test inside the window"},
		"visitor_negative_test": {"无北京健康宝（访客），核酸阴性在时限内", "No Beijing health code (visitor), negative test inside the window"},
		"code_red":              {"红码", "Red code"},
		"code_yellow":           {"黄码", "Yellow code"},
		"nat_outside_window":    {"核酸超出时限", "Test outside the window"},
		"nat_in_future":         {"证明时间晚于当前时间", "Certificate time is in the future"},
		"no_certificate":        {"未出示核酸证明", "No certificate shown"},
		"certificate_doubtful":  {"证明存疑（涂改、非本人、无法辨认）", "Certificate doubtful (altered, not the rider's, unreadable)"},
		"document_mismatch":     {"证明与证件不符", "Certificate does not match the document"},
		"rider_declined":        {"乘客拒绝查验或离开", "Rider declined or left"},
	}
	if v, ok := m[code]; ok {
		return langPick(l, v[0], v[1])
	}
	return code
}

// PassReason returns the reason of a pass for the health code shown: a
// green code's or a visitor's (no Beijing health code); "" for a red or
// yellow code or none chosen, which cannot pass.
func PassReason(shown HealthColor) string {
	switch shown {
	case ColorGreen:
		return "valid_certificate"
	case ColorNone:
		return "visitor_negative_test"
	}
	return ""
}

// IsPassReason reports whether code is one of the reasons of a pass.
func IsPassReason(code string) bool {
	return code == "valid_certificate" || code == "visitor_negative_test"
}

// NATWindowState is where a certificate time lies relative to the policy
// window.
type NATWindowState string

// Window states.
const (
	NATInside  NATWindowState = "inside"
	NATOutside NATWindowState = "outside"
	NATFuture  NATWindowState = "future"
	NATNone    NATWindowState = "none" // no certificate time given
)

// NATAssessment is the plain answer to "is this certificate inside the
// window?" that the manual-check screen shows while the clerk types.
type NATAssessment struct {
	State  NATWindowState
	Age    time.Duration // now − certificate time (negative when in the future)
	Window time.Duration
	ZH, EN string // e.g. "采样于 05-31 14:00，距今 20 小时：在 48 小时时限内。"
}

// Line returns the assessment's sentence in l.
func (a NATAssessment) Line(l Lang) string { return langPick(l, a.ZH, a.EN) }

// AssessNAT applies window to a certificate taken at t, at now. A time more
// than 5 minutes after now is NATFuture (a typing or clock error, refused
// rather than trusted; the same tolerance as NATWithin).
func AssessNAT(t time.Time, window time.Duration, now time.Time) NATAssessment {
	a := NATAssessment{Window: window}
	wh := int(window.Hours())
	if t.IsZero() {
		a.State = NATNone
		a.ZH, a.EN = "未填写核酸采样时间。", "No test time entered."
		return a
	}
	a.Age = now.Sub(t)
	when := t.In(chinaTime).Format("01-02 15:04")
	switch {
	case t.After(now.Add(5 * time.Minute)):
		a.State = NATFuture
		a.ZH = fmt.Sprintf("采样时间 %s 晚于当前时间：证明无效，拒绝。", when)
		a.EN = fmt.Sprintf("Test time %s is in the future: the certificate is not valid; refuse.", when)
	case NATWithin(t, window, now):
		a.State = NATInside
		h := max(0, int(a.Age.Hours()))
		a.ZH = fmt.Sprintf("采样于 %s，距今 %d 小时：在 %d 小时时限内。", when, h, wh)
		a.EN = fmt.Sprintf("Tested %s, %d h ago: inside the %d h window.", when, h, wh)
	default:
		a.State = NATOutside
		h := int(a.Age.Hours())
		a.ZH = fmt.Sprintf("采样于 %s，距今 %d 小时：超出 %d 小时时限。", when, h, wh)
		a.EN = fmt.Sprintf("Tested %s, %d h ago: outside the %d h window.", when, h, wh)
	}
	return a
}

// ChinaTime returns the China Standard Time zone (UTC+8).
func ChinaTime() *time.Location { return chinaTime }

// ManualCheckInput is what the clerk records: what was shown (health-code
// colour, NAT certificate time, where it was issued), the decision and the
// reason. ShownColor ColorNone means no Beijing health-kit code was shown
// (a visitor). Key is made when the form opens. The shown values are
// health information: the type redacts itself.
type ManualCheckInput struct {
	Key        string
	ShownColor HealthColor
	NATTime    time.Time
	Issuer     string // where the certificate was issued, e.g. "上海市徐汇区某检测机构"; ≤ 64 characters
	Decision   ManualDecision
	Reason     string // one of ManualReasons
}

// String is redacted.
func (m ManualCheckInput) String() string {
	return fmt.Sprintf("ManualCheckInput{%s %s}", m.Decision, m.Reason)
}

// GoString is redacted.
func (m ManualCheckInput) GoString() string { return "app." + m.String() }

// Format prints String for every verb.
func (m ManualCheckInput) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, m.String(), m.GoString())
}

// LogValue logs the decision and reason only.
func (m ManualCheckInput) LogValue() slog.Value {
	return slog.GroupValue(slog.String("decision", string(m.Decision)), slog.String("reason", m.Reason))
}

// MarshalJSON encodes the decision and reason only.
func (m ManualCheckInput) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"decision": string(m.Decision), "reason": m.Reason})
}

// ManualCheckRecord is a recorded manual check as the ledger keeps it:
// the subject only as token and masked document; the shown colour, test
// time and issuer (health information) sealed at rest and forwarded, then
// deleted from the outbox once central confirms.
type ManualCheckRecord struct {
	Key           string
	Operator      string
	Terminal      string
	ShiftID       int64
	SubjectToken  string
	SubjectMasked string
	Decision      ManualDecision
	Reason        string
	Window        NATWindowState
	Shown         Sensitive // JSON of ManualShown
	Checked       time.Time
}

// ManualShown is the sealed part of a manual check.
type ManualShown struct {
	Color   HealthColor `json:"shown_color"`
	NATTime *time.Time  `json:"nat_time,omitempty"`
	Issuer  string      `json:"nat_issuer,omitempty"`
}

// ManualCheckWire is the non-personal part of the central contract's
// ManualCheckRecord (the body of a ForwardManualCheck item); the sealed
// ManualShown fields are added when it is sent.
type ManualCheckWire struct {
	ID               string    `json:"id"`
	StationID        string    `json:"station_id,omitempty"`
	Operator         string    `json:"operator,omitempty"`
	SubjectToken     string    `json:"subject_token,omitempty"`
	SubjectDocMasked string    `json:"subject_doc_masked,omitempty"`
	Decision         string    `json:"decision"`
	Reason           string    `json:"reason,omitempty"`
	CheckedAt        time.Time `json:"checked_at"`
}

// ManualCheckResult is what the screen shows after recording a check.
type ManualCheckResult struct {
	Record     ManualCheckRecord
	Assessment NATAssessment
	Created    bool // false: the same form was submitted twice; the first record stands
}

// validateManual checks the input against the policy: a pass needs a green
// code (or none shown, for a visitor) and a certificate inside the window;
// a refusal needs a refusal reason. Errors are CodeInvalid with the reason
// that makes the pass impossible (e.g. "nat_outside_window").
func validateManual(in ManualCheckInput, a NATAssessment) error {
	switch in.ShownColor {
	case ColorGreen, ColorYellow, ColorRed, ColorNone:
	default:
		return NewError(CodeInvalid, "shown_color", "请选择出示的健康码颜色。", "Choose the health-code colour shown.")
	}
	if utf8.RuneCountInString(in.Issuer) > 64 || strings.ContainsFunc(in.Issuer, unicode.IsControl) || ContainsResidentID(in.Issuer) {
		return NewError(CodeInvalid, "issuer", "签发机构最多64个字符，不能填写证件号码。", "Issuer: at most 64 characters, and no ID numbers.")
	}
	known := false
	for _, r := range ManualReasons {
		known = known || r == in.Reason
	}
	if !known {
		return NewError(CodeInvalid, "reason", "请选择原因。", "Choose a reason.")
	}
	switch in.Decision {
	case ManualPass:
		switch {
		case in.ShownColor == ColorRed:
			return NewError(CodeInvalid, "code_red", "红码不能通过人工查验。", "A red code cannot pass a manual check.")
		case in.ShownColor == ColorYellow:
			return NewError(CodeInvalid, "code_yellow", "黄码不能通过人工查验。", "A yellow code cannot pass a manual check.")
		case a.State == NATFuture:
			return NewError(CodeInvalid, "nat_in_future", "核酸证明时间晚于当前时间，不能通过。", "The certificate time is in the future; it cannot pass.")
		case a.State == NATNone:
			return NewError(CodeInvalid, "no_certificate", "通过需要填写核酸采样时间。", "A pass needs the test time from the certificate.")
		case a.State == NATOutside:
			return NewError(CodeInvalid, "nat_outside_window", "核酸超出时限，不能通过。", "The test is outside the window; it cannot pass.")
		case in.Reason != PassReason(in.ShownColor):
			want := PassReason(in.ShownColor)
			return NewError(CodeInvalid, "reason", "通过的原因应为“"+ManualReasonLabel(want, LangZH)+"”。",
				"The reason for a pass is “"+strings.ToLower(ManualReasonLabel(want, LangEN)[:1])+ManualReasonLabel(want, LangEN)[1:]+"”.")
		}
	case ManualRefuse:
		if IsPassReason(in.Reason) {
			return NewError(CodeInvalid, "reason", "请选择拒绝的原因。", "Choose the reason for refusing.")
		}
	default:
		return NewError(CodeInvalid, "decision", "请选择通过或拒绝。", "Choose pass or refuse.")
	}
	return nil
}
