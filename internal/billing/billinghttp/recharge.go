package billinghttp

import (
	"io"
	"net/http"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// overview is GET /api/v1/workspaces/{id}/billing: what the Billing page draws first —
// recharge options (and why card payments are absent), auto-recharge, open notices.
func (s *server) overview(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ar, err := s.svc.AutoRecharge(r.Context(), id)
	if err != nil {
		return err
	}
	notices, err := s.svc.Notices(r.Context(), id)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		Recharge     billing.RechargeOptions `json:"recharge"`
		AutoRecharge billing.AutoRecharge    `json:"auto_recharge"`
		Notices      []billing.Notice        `json:"notices"`
	}{s.svc.Options(), ar, notices})
	return nil
}

// checkout is POST /api/v1/workspaces/{id}/checkout {"amount":"50.00"} → {"url":"…"}.
func (s *server) checkout(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Amount string `json:"amount"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	a, err := amount("amount", body.Amount)
	if err != nil {
		return err
	}
	sess, err := s.svc.Checkout(r.Context(), r.PathValue("id"), a)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, sess)
	return nil
}

// confirmCheckout is POST /api/v1/workspaces/{id}/checkout/{session_id}/confirm: the
// return page asks Stripe whether the session is paid and credits it if so (once).
func (s *server) confirmCheckout(w http.ResponseWriter, r *http.Request) error {
	res, err := s.svc.ConfirmCheckout(r.Context(), r.PathValue("id"), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, res)
	return nil
}

// redeem is POST /api/v1/workspaces/{id}/redeem {"code":"…"} → 201 with the payment.
func (s *server) redeem(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Code string `json:"code"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	if body.Code == "" || len(body.Code) > 100 {
		return errs.E(errs.Invalid, "invalid_code", "code is required")
	}
	p, err := s.svc.Redeem(r.Context(), r.PathValue("id"), body.Code, r.RemoteAddr)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusCreated, p)
	return nil
}

// stripeWebhook is POST /webhooks/stripe. 200 for every authentic event (refused ones
// included: retrying would not change them; they are logged); 400 for a bad signature
// or payload; 503 when no webhook secret is set; 500 when Stripe should retry.
func (s *server) stripeWebhook(w http.ResponseWriter, r *http.Request) error {
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return errs.E(errs.Invalid, "body_too_large", "the webhook body is larger than %d bytes", MaxBody)
	}
	res, err := s.svc.HandleStripeWebhook(r.Context(), payload, r.Header.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		Received bool `json:"received"`
		billing.WebhookResult
	}{true, res})
	return nil
}
