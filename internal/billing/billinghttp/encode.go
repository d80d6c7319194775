package billinghttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"spectra/internal/api"
	"spectra/internal/errs"
	"spectra/internal/money"
)

// MaxBody is the largest request body billing reads (Stripe's events included).
const MaxBody = 1 << 20

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes err as a JSON error; anything but an *errs.Error of a known kind is
// logged and shown as a generic 500.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind == errs.Internal {
		if errors.Is(err, context.Canceled) {
			log.Info("billing: request canceled", "err", err)
		} else {
			log.Error("billing: internal error", "err", err)
		}
		writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{"internal_error", "an internal error occurred; it has been logged"}})
		return
	}
	st := api.Status(e.Kind)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spectra"`)
	}
	if st == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "900")
	}
	writeJSON(w, st, errorBody{errorDetail{e.Code, e.Message}})
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, st int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		st = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{errorDetail{"internal_error", "an internal error occurred"}})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	w.Write(append(b, '\n'))
}

// created is 201 when something was made now, 200 for an idempotent replay.
func created(now bool) int {
	if now {
		return http.StatusCreated
	}
	return http.StatusOK
}

// decode reads one JSON object from the body into v, refusing unknown fields and
// trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &tooLarge):
		return errs.E(errs.Invalid, "body_too_large", "the request body is larger than %d bytes", MaxBody)
	case errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "invalid_json", "the request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "invalid_json", "the request body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errs.E(errs.Invalid, "invalid_json", "the request body must be a JSON object")
		}
		return errs.E(errs.Invalid, "invalid_field_type", "field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errs.E(errs.Invalid, "unknown_field", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return errs.E(errs.Invalid, "invalid_json", "the request body could not be read")
	}
	if err := d.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errs.E(errs.Invalid, "invalid_json", "the request body holds more than one JSON value")
	}
	return nil
}

// amount parses a decimal-string amount field: positive, at most 6 decimals.
func amount(field, s string) (money.Amount, error) {
	if s == "" {
		return 0, errs.E(errs.Invalid, "invalid_amount", "%s is required, as a decimal string such as \"50.00\"", field)
	}
	a, err := money.ParsePositive(s)
	if err != nil {
		return 0, errs.E(errs.Invalid, "invalid_amount", "%s: %v", field, err)
	}
	return a, nil
}

// optionalAmount parses a non-negative amount field; "" keeps def.
func optionalAmount(field string, s *string, def money.Amount) (money.Amount, error) {
	if s == nil {
		return def, nil
	}
	a, err := money.ParseNonNegative(*s)
	if err != nil {
		return 0, errs.E(errs.Invalid, "invalid_amount", "%s: %v", field, err)
	}
	return a, nil
}
