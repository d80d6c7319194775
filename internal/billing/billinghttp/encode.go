package billinghttp

import (
	"net/http"
	"strconv"
	"time"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/money"
)

// MaxBody is the largest request body billing reads (Stripe's events included).
const MaxBody = 1 << 20

// retryAfter makes each route's handler answer a 429 (too many redemption attempts)
// with a Retry-After of the redemption window (billing.Service.RedeemWindow, in
// seconds); the scaffold writes the error itself.
func (s *server) retryAfter(routes []httpjson.Route) []httpjson.Route {
	for i, rt := range routes {
		h := rt.Handle
		routes[i].Handle = func(w http.ResponseWriter, r *http.Request) error {
			err := h(w, r)
			if err != nil && httpjson.Status(errs.KindOf(err)) == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64((s.svc.RedeemWindow()+time.Second-1)/time.Second)), 10))
			}
			return err
		}
	}
	return routes
}

// created is 201 when something was made now, 200 for an idempotent replay.
func created(now bool) int {
	if now {
		return http.StatusCreated
	}
	return http.StatusOK
}

// decode reads one JSON object of at most MaxBody bytes from the body into v, refusing
// unknown fields and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return httpjson.Decoder{Limit: MaxBody}.Decode(w, r, v)
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
