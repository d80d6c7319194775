package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/team"
)

// upstreamView is an upstream as the admin API shows it: never its secret.
type upstreamView struct {
	Name      string     `json:"name"`
	BaseURL   string     `json:"base_url"`
	Models    []string   `json:"models"`
	HasAPIKey bool       `json:"has_api_key"`
	Source    string     `json:"source"` // "api" or "file" (read-only here)
	Error     string     `json:"error,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// putUpstream registers an upstream, or replaces the one of the same name:
// 201 when created, 200 when replaced.
func (g *Gateway) putUpstream(w http.ResponseWriter, r *http.Request) {
	var u Upstream
	if err := decodeStrict(r, &u); err != nil {
		adminError(w, err)
		return
	}
	if err := u.Validate(); err != nil {
		adminError(w, err)
		return
	}
	if g.fromFile(u.Name) {
		adminError(w, errFromFile)
		return
	}
	now := g.now().UTC().Truncate(time.Microsecond)
	rec := upstream.Record{Name: u.Name, BaseURL: u.BaseURL, Secret: g.box.seal(u.Name, u.APIKey), Models: u.Models, CreatedAt: now, UpdatedAt: now}
	created, err := g.store.PutUpstream(r.Context(), rec)
	if err != nil {
		adminError(w, err)
		return
	}
	g.reload(r.Context())
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	v := upstreamView{Name: u.Name, BaseURL: u.BaseURL, Models: u.Models, HasAPIKey: u.APIKey != "", Source: "api", UpdatedAt: &now}
	if created {
		v.CreatedAt = &now
	}
	writeJSON(w, status, v)
}

var errFromFile = errs.E(errs.Conflict, "upstream_from_file", "this upstream comes from the configuration file; change it there")

func (g *Gateway) fromFile(name string) bool {
	for _, u := range g.reg.file {
		if u.Name == name {
			return true
		}
	}
	return false
}

// listUpstreams lists the configured upstreams (file first, then registered), without secrets.
func (g *Gateway) listUpstreams(w http.ResponseWriter, r *http.Request) {
	recs, err := g.store.Upstreams(r.Context())
	if err != nil {
		adminError(w, err)
		return
	}
	out := []upstreamView{}
	for _, u := range g.reg.file {
		out = append(out, upstreamView{Name: u.Name, BaseURL: u.BaseURL, Models: u.Models, HasAPIKey: u.APIKey != "", Source: "file"})
	}
	for _, rec := range recs {
		if g.fromFile(rec.Name) {
			continue
		}
		secret, err := g.box.open(rec.Name, rec.Secret)
		v := upstreamView{Name: rec.Name, BaseURL: rec.BaseURL, Models: rec.Models, HasAPIKey: secret != "", Source: "api",
			CreatedAt: &rec.CreatedAt, UpdatedAt: &rec.UpdatedAt}
		if err != nil {
			v.HasAPIKey, v.Error = true, err.Error()
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"upstreams": out})
}

// deleteUpstream removes a registered upstream: 204, 404 upstream_not_found, or 409
// upstream_from_file.
func (g *Gateway) deleteUpstream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if g.fromFile(name) {
		adminError(w, errFromFile)
		return
	}
	if err := g.store.DeleteUpstream(r.Context(), name); err != nil {
		adminError(w, err)
		return
	}
	g.reload(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

func (g *Gateway) reload(ctx context.Context) {
	if err := g.reg.load(context.WithoutCancel(ctx)); err != nil {
		g.log.Error("reload upstreams", "err", err)
	}
}

// patchKey changes a key's gateway settings: {"allowed_models":[…],"rpm":N,"tpm":N},
// each optional. It answers the key (without its secret).
func (g *Gateway) patchKey(w http.ResponseWriter, r *http.Request) {
	var l team.KeyLimits
	if err := decodeStrict(r, &l); err != nil {
		adminError(w, err)
		return
	}
	k, err := g.store.SetKeyLimits(r.Context(), r.PathValue("id"), r.PathValue("key_id"), l)
	if err != nil {
		adminError(w, err)
		return
	}
	g.keys.forget(k.ID)
	writeJSON(w, http.StatusOK, k)
}

// decodeStrict reads one JSON object into v, refusing unknown fields.
func decodeStrict(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errs.E(errs.Invalid, "invalid_json", "the request body could not be read")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return errs.E(errs.Invalid, "invalid_json", "the request body is not valid JSON for this endpoint: %v", err)
	}
	if d.More() {
		return errs.E(errs.Invalid, "invalid_json", "the request body holds more than one JSON value")
	}
	return nil
}

// adminError answers err in the admin API's shape {"error":{"code","message"}}.
func adminError(w http.ResponseWriter, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		slog.Error("gateway admin request failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{"code": "internal_error", "message": "internal error"}})
		return
	}
	status := map[errs.Kind]int{
		errs.Invalid: 400, errs.Unauthorized: 401, errs.PaymentRequired: 402, errs.Forbidden: 403,
		errs.NotFound: 404, errs.Conflict: 409, errs.RateLimited: 429, errs.Unavailable: 503,
	}[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
}
