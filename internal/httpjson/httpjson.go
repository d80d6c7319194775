// Package httpjson is the JSON half shared by every transport (api and the *http
// packages): the route scaffold (a Route table whose Need is a team.Action, guarded and
// served by Mount), the one mapping of error kinds to HTTP statuses, writing a value or
// an error {"error":{"code":"…","message":"…"}}, and decoding one strict JSON request
// body. It imports only internal/errs, internal/text, internal/team (for the Action
// vocabulary) and the standard library, so any transport may use it.
package httpjson

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"spectra/internal/errs"
)

// Error is the JSON shape of every error: {"error":{"code":"…","message":"…"}}.
type Error struct {
	Error Detail `json:"error"`
}

// Detail is the inside of an Error: a specific code clients switch on and a message.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Status is the HTTP status of an error kind: the one place kinds become statuses.
func Status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.PaymentRequired:
		return http.StatusPaymentRequired
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// InternalMessage is all a client learns of an internal error.
const InternalMessage = "an internal error occurred; it has been logged"

// internal is the body of every 500.
var internal = Error{Detail{Code: "internal_error", Message: InternalMessage}}

// WriteError writes err as a JSON error with the status of its kind (a 401 also gets
// WWW-Authenticate: Bearer realm="spectra"). An error that is not an *errs.Error, or is
// of kind Internal, is logged on log (when not nil; a canceled request at Info) and
// shown as a generic 500 internal_error.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind == errs.Internal {
		if log != nil {
			if errors.Is(err, context.Canceled) {
				log.Info("request canceled", "err", err)
			} else {
				log.Error("internal error", "err", err)
			}
		}
		Write(w, http.StatusInternalServerError, internal)
		return
	}
	st := Status(e.Kind)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spectra"`)
	}
	Write(w, st, Error{Detail{Code: e.Code, Message: e.Message}})
}

// Write writes v as JSON and a newline with the given status, Content-Type
// application/json, X-Content-Type-Options nosniff, and Cache-Control no-store unless
// the handler set a Cache-Control. A v that cannot be encoded becomes a 500
// internal_error.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(internal)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
