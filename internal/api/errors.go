package api

import (
	"log/slog"
	"net/http"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// Status is the HTTP status of an error kind; httpjson.Status is the one place kinds
// become statuses.
func Status(k errs.Kind) int { return httpjson.Status(k) }

// WriteError writes err as a JSON error with the status of its kind. An error that is not
// an *errs.Error, or is of kind Internal, is logged and shown as a generic 500.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	httpjson.WriteError(w, log, err)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }
