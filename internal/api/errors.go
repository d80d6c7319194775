package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"spectra/internal/errs"
)

// errorBody is the JSON shape of every error: {"error":{"code":"…","message":"…"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
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

// internalMessage is all a client learns of an internal error.
const internalMessage = "an internal error occurred; it has been logged"

// WriteError writes err as a JSON error with the status of its kind. An error that is not
// an *errs.Error, or is of kind Internal, is logged and shown as a generic 500.
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
		WriteJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal_error", Message: internalMessage}})
		return
	}
	if s := Status(e.Kind); s == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spectra"`)
	}
	WriteJSON(w, Status(e.Kind), errorBody{errorDetail{Code: e.Code, Message: e.Message}})
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{errorDetail{Code: "internal_error", Message: internalMessage}})
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
