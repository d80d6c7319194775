// Package upstream holds the gateway's upstream providers: servers registered by base
// URL and secret, each speaking one API (OpenAI's, which OpenRouter, vLLM, Ollama, …
// speak too; Anthropic's Messages API; Google's Gemini API) and serving a list of
// models. It knows nothing of HTTP or SQL.
package upstream

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// Upstream is a provider with its secret in clear. The admin API never shows the secret back.
type Upstream struct {
	Name    string   `json:"name"`
	BaseURL string   `json:"base_url"` // e.g. https://api.openai.com/v1; requests go to BaseURL + "/chat/completions"
	APIKey  string   `json:"api_key,omitempty"`
	Models  []string `json:"models"`
	// API is the wire format the upstream speaks, one of APIs; empty is OpenAI's.
	// Requests reach only upstreams of the API the client called.
	API string `json:"api,omitempty"`
}

// The APIs an upstream may speak.
const (
	OpenAI    = "openai"    // OpenAI's API: BaseURL like https://api.openai.com/v1
	Anthropic = "anthropic" // Anthropic's Messages API: BaseURL like https://api.anthropic.com/v1
	Gemini    = "gemini"    // Google's Gemini API: BaseURL like https://generativelanguage.googleapis.com/v1beta
)

// APIs lists the values Upstream.API takes.
var APIs = []string{OpenAI, Anthropic, Gemini}

var name = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// MaxModels bounds the models of one upstream.
const MaxModels = 1000

// Validate checks u and normalises it: the base URL loses a trailing slash, the model
// list its duplicates, and an empty API becomes "openai". It returns an *errs.Error with
// code invalid_upstream_name, invalid_api, invalid_base_url or invalid_models.
func (u *Upstream) Validate() error {
	if !name.MatchString(u.Name) {
		return errs.E(errs.Invalid, "invalid_upstream_name", "upstream name %q is not valid (lowercase letters, digits and ._- up to 64 characters)", u.Name)
	}
	if u.API == "" {
		u.API = OpenAI
	}
	if !slices.Contains(APIs, u.API) {
		return errs.E(errs.Invalid, "invalid_api", "api %q is not one of openai, anthropic, gemini", u.API)
	}
	u.BaseURL = strings.TrimRight(strings.TrimSpace(u.BaseURL), "/")
	p, err := url.Parse(u.BaseURL)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return errs.E(errs.Invalid, "invalid_base_url", "base_url must be an absolute http(s) URL without query, fragment or credentials, e.g. https://api.openai.com/v1")
	}
	if len(u.APIKey) > 4096 {
		return errs.E(errs.Invalid, "invalid_api_key", "api_key is at most 4096 characters")
	}
	var models []string
	for _, m := range u.Models {
		if !pricing.ValidModel(m) {
			return errs.E(errs.Invalid, "invalid_models", "model name %q is not valid", m)
		}
		if !slices.Contains(models, m) {
			models = append(models, m)
		}
	}
	if len(models) == 0 || len(models) > MaxModels {
		return errs.E(errs.Invalid, "invalid_models", "an upstream serves between 1 and %d models", MaxModels)
	}
	u.Models = models
	return nil
}

// Serves reports whether u serves model.
func (u Upstream) Serves(model string) bool { return slices.Contains(u.Models, model) }

// Record is an upstream as stored: Secret is the sealed form of its API key (see the
// gateway's secret box), never the key in clear when the deployment has a secret key.
type Record struct {
	Name      string
	API       string // one of APIs; empty reads as OpenAI
	BaseURL   string
	Secret    string
	Models    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ErrNotFound is returned for an upstream name that is not registered.
var ErrNotFound = errs.E(errs.NotFound, "upstream_not_found", "no upstream with this name")

// Store persists upstreams. Implemented by internal/store.
type Store interface {
	// PutUpstream stores r, replacing an upstream of the same name (keeping its
	// CreatedAt), and reports whether it was created now.
	PutUpstream(ctx context.Context, r Record) (bool, error)
	// Upstreams returns every stored upstream, ordered by name.
	Upstreams(ctx context.Context) ([]Record, error)
	// DeleteUpstream removes an upstream. Errors: ErrNotFound.
	DeleteUpstream(ctx context.Context, name string) error
}
