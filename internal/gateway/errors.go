package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"spectra/internal/errs"
)

// apiError is an error in OpenAI's shape: {"error":{"message","type","param","code"}}.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
	// BudgetID names the hard budget that refused the request (budget_exceeded only).
	BudgetID string `json:"budget_id,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, typ, code, msg string) *apiError {
	return &apiError{Status: status, Type: typ, Code: code, Message: msg}
}

// Gateway rejections, each with its own code.
var (
	errMissingKey     = newError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "You didn't provide an API key. Send it as 'Authorization: Bearer sk-…'.")
	errWrongKeyKind   = newError(http.StatusForbidden, "invalid_request_error", "wrong_key_kind", "This is an admin key; the gateway takes inference keys.")
	errInsufficient   = newError(http.StatusPaymentRequired, "insufficient_quota", "insufficient_balance", "The workspace's available balance does not cover this request; recharge to continue.")
	errBodyTooLarge   = newError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "The request body is too large.")
	errInvalidJSON    = newError(http.StatusBadRequest, "invalid_request_error", "invalid_json", "The request body is not a JSON object.")
	errMissingModel   = newError(http.StatusBadRequest, "invalid_request_error", "missing_model", "You must provide a model parameter.")
	errStreamNotAllow = newError(http.StatusBadRequest, "invalid_request_error", "stream_not_supported", "This endpoint does not stream.")
	errUpstreamDown   = newError(http.StatusBadGateway, "server_error", "upstream_unavailable", "The upstream provider could not be reached.")
	errUpstreamBody   = newError(http.StatusBadGateway, "server_error", "upstream_invalid_response", "The upstream provider sent a response that could not be read.")
)

// fromDomain maps a domain error to the OpenAI shape (internal details never reach the client).
func fromDomain(err error) *apiError {
	if e, ok := err.(*apiError); ok {
		return e
	}
	status, typ := http.StatusInternalServerError, "server_error"
	switch errs.KindOf(err) {
	case errs.Invalid:
		status, typ = http.StatusBadRequest, "invalid_request_error"
	case errs.Unauthorized:
		status, typ = http.StatusUnauthorized, "invalid_request_error"
	case errs.PaymentRequired:
		status, typ = http.StatusPaymentRequired, "insufficient_quota"
	case errs.Forbidden:
		status, typ = http.StatusForbidden, "invalid_request_error"
	case errs.NotFound:
		status, typ = http.StatusNotFound, "invalid_request_error"
	case errs.Conflict:
		status, typ = http.StatusConflict, "invalid_request_error"
	case errs.RateLimited:
		status, typ = http.StatusTooManyRequests, "requests"
	case errs.Unavailable:
		status, typ = http.StatusServiceUnavailable, "server_error"
	}
	var d *errs.Error
	if e, ok := err.(*errs.Error); ok {
		d = e
	}
	if d == nil || status == http.StatusInternalServerError {
		return newError(http.StatusInternalServerError, "server_error", "internal_error", "The server had an error while processing your request.")
	}
	return newError(status, typ, d.Code, d.Message)
}

// writeError answers err in OpenAI's error shape, logging internal errors.
func (g *Gateway) writeError(w http.ResponseWriter, err error) {
	e := fromDomain(err)
	if e.Code == "internal_error" {
		g.log.Error("gateway request failed", "err", err)
	}
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding error","type":"server_error","param":null,"code":"internal_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
