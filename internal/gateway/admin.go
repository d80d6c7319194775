package gateway

import (
	"context"
	"log/slog"
	"time"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/team"
)

// UpstreamView is an upstream as the operator sees it: never its secret.
type UpstreamView struct {
	Name      string     `json:"name"`
	API       string     `json:"api"` // "openai", "anthropic" or "gemini"
	BaseURL   string     `json:"base_url"`
	Models    []string   `json:"models"`
	HasAPIKey bool       `json:"has_api_key"`
	Source    string     `json:"source"` // "api" or "file" (read-only here)
	Error     string     `json:"error,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// ErrFromFile refuses to change an upstream of the configuration file through the API.
var ErrFromFile = errs.E(errs.Conflict, "upstream_from_file", "this upstream comes from the configuration file; change it there")

// PutUpstream registers u, or replaces the registered upstream of the same name, with
// its secret sealed at rest, and routes its models at once on this node. created says
// whether it is new. Errors: u's validation (invalid_upstream_name, invalid_api,
// invalid_base_url, invalid_models), upstream_from_file (409), or the store's.
func (g *Gateway) PutUpstream(ctx context.Context, u Upstream) (v UpstreamView, created bool, err error) {
	if err := u.Validate(); err != nil {
		return UpstreamView{}, false, err
	}
	if g.fromFile(u.Name) {
		return UpstreamView{}, false, ErrFromFile
	}
	now := g.now().UTC().Truncate(time.Microsecond)
	rec := upstream.Record{Name: u.Name, API: u.API, BaseURL: u.BaseURL, Secret: g.box.seal(u.Name, u.APIKey), Models: u.Models, CreatedAt: now, UpdatedAt: now}
	if created, err = g.store.PutUpstream(ctx, rec); err != nil {
		return UpstreamView{}, false, err
	}
	g.reload(ctx)
	v = UpstreamView{Name: u.Name, API: u.API, BaseURL: u.BaseURL, Models: u.Models, HasAPIKey: u.APIKey != "", Source: "api", UpdatedAt: &now}
	if created {
		v.CreatedAt = &now
	}
	return v, created, nil
}

func (g *Gateway) fromFile(name string) bool {
	for _, u := range g.reg.file {
		if u.Name == name {
			return true
		}
	}
	return false
}

// Upstreams lists the configured upstreams (file first, then registered), without
// secrets; a registered secret that cannot be opened is reported in Error.
func (g *Gateway) Upstreams(ctx context.Context) ([]UpstreamView, error) {
	recs, err := g.store.Upstreams(ctx)
	if err != nil {
		return nil, err
	}
	out := []UpstreamView{}
	for _, u := range g.reg.file {
		out = append(out, UpstreamView{Name: u.Name, API: apiOf(u.API), BaseURL: u.BaseURL, Models: u.Models, HasAPIKey: u.APIKey != "", Source: "file"})
	}
	for _, rec := range recs {
		if g.fromFile(rec.Name) {
			continue
		}
		secret, err := g.box.open(rec.Name, rec.Secret)
		v := UpstreamView{Name: rec.Name, API: apiOf(rec.API), BaseURL: rec.BaseURL, Models: rec.Models, HasAPIKey: secret != "", Source: "api",
			CreatedAt: &rec.CreatedAt, UpdatedAt: &rec.UpdatedAt}
		if err != nil {
			v.HasAPIKey, v.Error = true, err.Error()
		}
		out = append(out, v)
	}
	return out, nil
}

// DeleteUpstream removes a registered upstream and stops routing to it on this node.
// Errors: upstream_from_file (409), upstream_not_found (404).
func (g *Gateway) DeleteUpstream(ctx context.Context, name string) error {
	if g.fromFile(name) {
		return ErrFromFile
	}
	if err := g.store.DeleteUpstream(ctx, name); err != nil {
		return err
	}
	g.reload(ctx)
	return nil
}

func (g *Gateway) reload(ctx context.Context) {
	if err := g.reg.load(context.WithoutCancel(ctx)); err != nil {
		g.log.Error("reload upstreams", "err", err)
	}
}

// SetKeyLimits changes key keyID's settings (allowed models, rpm, tpm, project, expiry;
// nil fields stay) and applies them at once on this node, returning the key without its
// secret. Errors: invalid_allowed_models, invalid_rpm, invalid_tpm, invalid_project,
// invalid_expires_at (400: an expiry not in the future),
// key_not_found (404, also for a key of another workspace).
func (g *Gateway) SetKeyLimits(ctx context.Context, workspaceID, keyID string, l team.KeyLimits) (team.APIKey, error) {
	if l.ExpiresAt.Set {
		if err := team.CheckExpiry(l.ExpiresAt.Time, g.now()); err != nil {
			return team.APIKey{}, err
		}
	}
	k, err := g.store.SetKeyLimits(ctx, workspaceID, keyID, l)
	if err != nil {
		return team.APIKey{}, err
	}
	g.keys.forget(k.ID)
	return k, nil
}

// Logger is the gateway's logger, for its transports.
func (g *Gateway) Logger() *slog.Logger { return g.log }
