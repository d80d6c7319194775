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
	errInvalidJSON    = newError(http.StatusBadRequest, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
	errNotObject      = newError(http.StatusBadRequest, "invalid_request_error", "invalid_json", "The request body must be a JSON object.")
	errMissingModel   = newError(http.StatusBadRequest, "invalid_request_error", "missing_model", "You must provide a model parameter.")
	errStreamNotAllow = newError(http.StatusBadRequest, "invalid_request_error", "stream_not_supported", "This endpoint does not stream.")
	errUpstreamDown   = newError(http.StatusBadGateway, "server_error", "upstream_unavailable", "The upstream provider could not be reached.")
	errUpstreamBody   = newError(http.StatusBadGateway, "server_error", "upstream_invalid_response", "The upstream provider sent a response that could not be read.")
	errInvalidKey     = newError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided, or the key was revoked.")
)

// errModelNotAllowed refuses a model the key may not use.
func errModelNotAllowed(model string) *apiError {
	return newError(http.StatusForbidden, "invalid_request_error", "model_not_allowed", "This API key may not use the model `"+model+"`.")
}

// errModelNotFound refuses a model no upstream of the API called serves.
func errModelNotFound(model string) *apiError {
	return newError(http.StatusNotFound, "invalid_request_error", "model_not_found", "The model `"+model+"` does not exist or no upstream serves it.")
}

// newParamError is a 400 about one field of the request body.
func newParamError(param, code, msg string) *apiError {
	e := newError(http.StatusBadRequest, "invalid_request_error", code, msg)
	e.Param = &param
	return e
}

// errInvalidType refuses a field whose JSON type is not the one its endpoint takes.
func errInvalidType(param, want string) *apiError {
	return newParamError(param, "invalid_type", "Invalid type for '"+param+"': expected "+want+".")
}

// errDuplicateKey refuses a body that names a field twice: providers differ on which
// copy wins, so no hold could be sure to cover the one the upstream reads.
func errDuplicateKey(param string) *apiError {
	return newParamError(param, "duplicate_key", "The field '"+param+"' appears more than once in the request body.")
}

// errFieldCase refuses a field whose name differs from one the gateway reads only in
// case: field names are case-sensitive, and a provider might read it either way.
func errFieldCase(param, want string) *apiError {
	return newParamError(param, "invalid_field_name", "Unrecognized request argument '"+param+"': field names are case-sensitive (did you mean '"+want+"'?).")
}

// errMethodNotAllowed answers a route called with a method it does not take.
func errMethodNotAllowed(r *http.Request) *apiError {
	return newError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "Invalid method for URL ("+r.Method+" "+r.URL.Path+").")
}

// methodNotAllowed is the handler of a gateway path called with the wrong method: a 405
// in OpenAI's error shape, with the Allow header.
func (g *Gateway) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		g.writeError(w, errMethodNotAllowed(r))
	}
}

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
func (g *Gateway) writeError(w http.ResponseWriter, err error) { g.writeErrorAs(w, openAI{}, err) }

// writeErrorAs answers err in wire wr's error shape, logging internal errors.
func (g *Gateway) writeErrorAs(w http.ResponseWriter, wr wire, err error) {
	e := fromDomain(err)
	if e.Code == "internal_error" {
		g.log.Error("gateway request failed", "err", err)
	}
	wr.writeError(w, e)
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
