package billinghttp

import (
	"net/http"

	"spectra/internal/billing"
	"spectra/internal/httpjson"
)

// autoRechargeView is a workspace's auto-recharge with the currency of its amounts.
type autoRechargeView struct {
	billing.AutoRecharge
	Currency string `json:"currency"`
}

// getAutoRecharge is GET /api/v1/workspaces/{id}/auto-recharge.
func (s *server) getAutoRecharge(w http.ResponseWriter, r *http.Request) error {
	ar, err := s.svc.AutoRecharge(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, autoRechargeView{ar, s.svc.Currency()})
	return nil
}

// putAutoRecharge is PUT /api/v1/workspaces/{id}/auto-recharge
// {"enabled":true,"threshold":"10.00","amount":"50.00","monthly_cap":"500.00"}; a
// field left out keeps its saved value.
func (s *server) putAutoRecharge(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Enabled    *bool   `json:"enabled"`
		Threshold  *string `json:"threshold"`
		Amount     *string `json:"amount"`
		MonthlyCap *string `json:"monthly_cap"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	cur, err := s.svc.AutoRecharge(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	set := cur.AutoRechargeSettings
	if body.Enabled != nil {
		set.Enabled = *body.Enabled
	}
	if set.Threshold, err = optionalAmount("threshold", body.Threshold, set.Threshold); err != nil {
		return err
	}
	if set.Amount, err = optionalAmount("amount", body.Amount, set.Amount); err != nil {
		return err
	}
	if set.MonthlyCap, err = optionalAmount("monthly_cap", body.MonthlyCap, set.MonthlyCap); err != nil {
		return err
	}
	ar, err := s.svc.SetAutoRecharge(r.Context(), r.PathValue("id"), set)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, autoRechargeView{ar, s.svc.Currency()})
	return nil
}

// getBillingDetails is GET /api/v1/workspaces/{id}/billing-details.
func (s *server) getBillingDetails(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.BillingDetails(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, p)
	return nil
}

// putBillingDetails is PUT /api/v1/workspaces/{id}/billing-details with the whole
// Party (name, email, line1, line2, city, postal_code, region, country, tax_id).
func (s *server) putBillingDetails(w http.ResponseWriter, r *http.Request) error {
	var p billing.Party
	if err := decode(w, r, &p); err != nil {
		return err
	}
	p, err := s.svc.SetBillingDetails(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, p)
	return nil
}

// dismissNotice is POST /api/v1/workspaces/{id}/notices/{notice_id}/dismiss → 204.
func (s *server) dismissNotice(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DismissNotice(r.Context(), r.PathValue("id"), r.PathValue("notice_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
