package app

import (
	"errors"
)

// Code is the closed set of error classes the rest of the program branches
// on. Adapters translate their own failures into one of these.
type Code string

// The error codes (after benbjohnson/wtf error.go).
const (
	CodeInvalid      Code = "invalid"      // the input is wrong; retrying will not help
	CodeNotFound     Code = "not_found"    // the thing asked for does not exist
	CodeConflict     Code = "conflict"     // the request contradicts current state (limits, duplicates)
	CodeUnauthorized Code = "unauthorized" // who is asking may not do this
	CodeUnavailable  Code = "unavailable"  // a dependency is down or timed out; the outcome may be unknown
	CodeInternal     Code = "internal"     // a bug or an unexpected failure
)

// Lang is a user-interface language.
type Lang string

// The two languages of the desk.
const (
	LangZH Lang = "zh"
	LangEN Lang = "en"
)

// Error is a classified, user-safe error. ZH and EN are the messages a clerk
// may see; Reason is a stable machine word (e.g. "check_digit") for tests,
// logs and API bodies. Neither may contain personal data: callers put
// document numbers and names nowhere in an Error. Err is the wrapped cause,
// for logs only, never shown on screen.
type Error struct {
	Code   Code
	Reason string
	ZH, EN string
	Err    error
}

// NewError returns an Error without a cause.
func NewError(code Code, reason, zh, en string) *Error {
	return &Error{Code: code, Reason: reason, ZH: zh, EN: en}
}

// WrapError classifies cause. The cause's text is kept for logs (via
// Unwrap) but never becomes the user message.
func WrapError(cause error, code Code, reason, zh, en string) *Error {
	return &Error{Code: code, Reason: reason, ZH: zh, EN: en, Err: cause}
}

// Error returns the English message prefixed by the code, e.g.
// "invalid: check digit is wrong". It does not include the cause.
func (e *Error) Error() string {
	if e.EN == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.EN
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Message returns the user message in l (Chinese when l is unknown).
func (e *Error) Message(l Lang) string {
	if l == LangEN {
		return e.EN
	}
	return e.ZH
}

// ErrorCode returns the Code of the first *Error in err's chain, "" for nil
// and CodeInternal for errors that were never classified.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorReason returns the Reason of the first *Error in err's chain, or "".
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// UserMessage is the only text of an error that may be shown to a user:
// the classified message, or a generic one for an unclassified error (whose
// raw text might hold a path, a SQL statement or worse).
func UserMessage(err error, l Lang) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message(l) != "" {
		return e.Message(l)
	}
	if l == LangEN {
		return "Internal error. Please try again; if it persists, call the supervisor."
	}
	return "内部错误。请重试；如仍出现，请联系值班站长。"
}
