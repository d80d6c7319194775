// Package errs is Spectra's small set of error kinds. A domain error carries a kind
// (which decides the HTTP status, mapped once in the transports), a specific code that
// clients can switch on, and a message safe to show to a user.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transports.
type Kind string

// The kinds of error. Transports map each to one status.
const (
	Invalid         Kind = "invalid"          // 400
	Unauthorized    Kind = "unauthorized"     // 401
	PaymentRequired Kind = "payment_required" // 402: money or a budget stops it
	Forbidden       Kind = "forbidden"        // 403
	NotFound        Kind = "not_found"        // 404
	Conflict        Kind = "conflict"         // 409
	RateLimited     Kind = "rate_limited"     // 429
	Unavailable     Kind = "unavailable"      // 503
	Internal        Kind = "internal"         // 500
)

// Error is a domain error with a kind, a specific code and a user-safe message.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// E returns an *Error of kind k with the given code and formatted message.
func E(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or Internal when err carries no *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// CodeOf returns the specific code of err, or "internal_error" when err carries no *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal_error"
}

// Is reports whether err carries an *Error with the given code.
func Is(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
