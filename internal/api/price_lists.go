package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// Price lists (the operator's): POST /api/v1/price-lists makes one, GET lists them or
// reads one, POST /api/v1/price-lists/{name}/prices adds an overriding version later.
// A workspace is assigned one by PATCH /api/v1/workspaces/{id} {"price_list": name}.
// Every write is metering.Service's (CreatePriceList, AddPriceListVersion).

// priceListRequest is the body of POST /api/v1/price-lists.
type priceListRequest struct {
	Name string `json:"name"`
	// AdjustPercent is a percentage of the catalog's prices (-15: 15 % off), at most 2
	// decimals, > -100 and ≤ 1000; fixed once the list is made.
	// A JSON number (or a string holding one); null or left out is 0.
	AdjustPercent json.RawMessage `json:"adjust_percent"`
	// Prices are overriding versions, each as PUT /api/v1/prices/{model} takes one plus
	// its model.
	Prices []listVersionRequest `json:"prices"`
}

// listVersionRequest is one overriding version: a model and its prices as PUT
// /api/v1/prices/{model} takes them.
type listVersionRequest struct {
	Model string `json:"model"`
	priceRequest
}

// priceListOut is a list as the API shows it.
type priceListOut struct {
	Name          string          `json:"name"`
	AdjustPercent json.Number     `json:"adjust_percent"`
	Prices        []pricing.Price `json:"prices"` // by model, then effective_from
	CreatedAt     time.Time       `json:"created_at"`
	// Workspaces are the ids of the workspaces on the list (GET of one list and the
	// answers of writes); WorkspaceCount is how many (every answer).
	Workspaces     []string `json:"workspaces,omitempty"`
	WorkspaceCount int      `json:"workspace_count"`
}

func listOut(l pricing.PriceList, workspaces []string, withIDs bool) priceListOut {
	out := priceListOut{Name: l.Name, AdjustPercent: json.Number(pricing.FormatAdjustPercent(l.AdjustBP)), Prices: l.Prices, CreatedAt: l.CreatedAt,
		WorkspaceCount: len(workspaces)}
	if out.Prices == nil {
		out.Prices = []pricing.Price{}
	}
	if withIDs {
		out.Workspaces = workspaces
		if out.Workspaces == nil {
			out.Workspaces = []string{}
		}
	}
	return out
}

// createPriceList is POST /api/v1/price-lists: 201 with the list, 200 with it when the
// body repeats the one that made it; another body under a taken name is 409
// price_list_exists.
func (s *Server) createPriceList(w http.ResponseWriter, r *http.Request) error {
	var body priceListRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	if !pricing.ValidPriceList(body.Name) {
		return errs.E(errs.Invalid, "invalid_price_list", "name must be a price list's name: lower-case letters, digits and ._- up to 64 characters, starting with a letter or digit (such as \"enterprise-2026\")")
	}
	l := pricing.PriceList{Name: body.Name}
	if raw := strings.TrimSpace(string(body.AdjustPercent)); raw != "" && raw != "null" {
		if unq, err := strconv.Unquote(raw); err == nil && strings.HasPrefix(raw, `"`) {
			raw = unq
		}
		bp, err := pricing.ParseAdjustPercent(raw)
		if err != nil {
			return err
		}
		l.AdjustBP = bp
	}
	now := s.now()
	for i, v := range body.Prices {
		if !pricing.ValidModel(v.Model) {
			return errs.E(errs.Invalid, "invalid_model", "prices[%d].model %q is not a model name (letters, digits and ._:/@+- up to 128 characters)", i, v.Model)
		}
		p, err := v.price(v.Model, now)
		if err != nil {
			return err
		}
		l.Prices = append(l.Prices, p)
	}
	stored, created, err := s.metering.CreatePriceList(r.Context(), l)
	if err != nil {
		return err
	}
	ids, err := s.metering.PriceListWorkspaces(r.Context(), stored.Name)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, listOut(stored, ids, true))
	return nil
}

// listPriceLists is GET /api/v1/price-lists: every list with its versions and how many
// workspaces are on it, by name.
func (s *Server) listPriceLists(w http.ResponseWriter, r *http.Request) error {
	lists, err := s.metering.PriceLists(r.Context())
	if err != nil {
		return err
	}
	out := make([]priceListOut, 0, len(lists))
	for _, l := range lists {
		ids, err := s.metering.PriceListWorkspaces(r.Context(), l.Name)
		if err != nil {
			return err
		}
		out = append(out, listOut(l, ids, false))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"currency": s.currency, "price_lists": out})
	return nil
}

// getPriceList is GET /api/v1/price-lists/{name}: the list, its versions and the
// workspaces on it; 404 price_list_not_found.
func (s *Server) getPriceList(w http.ResponseWriter, r *http.Request) error {
	l, err := s.metering.PriceList(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	ids, err := s.metering.PriceListWorkspaces(r.Context(), l.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, listOut(l, ids, true))
	return nil
}

// addPriceListVersion is POST /api/v1/price-lists/{name}/prices: one overriding version
// ({"model": …, and the fields of PUT /api/v1/prices/{model}}): 201 with it, 200 with
// the stored one when the body repeats it; a different price at the same model and
// effective_from is 409 price_version_exists; 404 price_list_not_found.
func (s *Server) addPriceListVersion(w http.ResponseWriter, r *http.Request) error {
	var body listVersionRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !pricing.ValidPriceList(name) {
		return errs.E(errs.NotFound, "price_list_not_found", "no price list %q", name)
	}
	if !pricing.ValidModel(body.Model) {
		return errs.E(errs.Invalid, "invalid_model", "model %q is not a model name (letters, digits and ._:/@+- up to 128 characters)", body.Model)
	}
	p, err := body.price(body.Model, s.now())
	if err != nil {
		return err
	}
	stored, created, err := s.metering.AddPriceListVersion(r.Context(), name, p)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, stored)
	return nil
}
