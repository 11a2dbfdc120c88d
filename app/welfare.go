package app

import "context"

// WelfareStatus is central's answer whether a document holder may exchange
// a welfare ticket (福利票) and in which category ("elderly",
// "disability", …). Reason texts come from central and are user-safe.
type WelfareStatus struct {
	Eligible         bool
	Category         string
	ReasonZH, Reason string
}

// CentralWelfare is the welfare-eligibility query of the central contract
// (POST /v1/welfare/eligibility). Errors as for Central: CodeUnavailable
// when central cannot be asked.
type CentralWelfare interface {
	WelfareEligibility(ctx context.Context, doc DocNumber) (WelfareStatus, error)
}

// WelfareCategoryLabel names a category in l.
func WelfareCategoryLabel(c string, l Lang) string {
	switch c {
	case "elderly":
		return langPick(l, "老年人", "Elderly")
	case "disability":
		return langPick(l, "残疾人", "Disability")
	case "", "none":
		return langPick(l, "无", "None")
	}
	return c
}

// WelfareInput is a welfare-ticket exchange: the destination and, when
// central did not confirm eligibility, the supervisor who overrides (from
// Sales.AuthorizeOverride) and why.
type WelfareInput struct {
	DestCode string
	Assisted bool
	Override *Operator
	// OverrideReason is a short code: "eligibility_unknown" (central
	// unreachable), "card_shown" (the rider shows a welfare card central
	// does not list yet), "other".
	OverrideReason string
}

// OverrideReasons are the codes a supervisor may give.
var OverrideReasons = []string{"eligibility_unknown", "card_shown", "other"}

// OverrideReasonLabel names a code in l.
func OverrideReasonLabel(code string, l Lang) string {
	switch code {
	case "eligibility_unknown":
		return langPick(l, "中心系统无法确认资格", "Central cannot confirm eligibility")
	case "card_shown":
		return langPick(l, "乘客出示了福利卡，中心尚未登记", "Rider shows a welfare card central does not list yet")
	case "other":
		return langPick(l, "其他（站长负责）", "Other (supervisor's responsibility)")
	}
	return code
}
