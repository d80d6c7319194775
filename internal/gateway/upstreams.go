package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"spectra/internal/gateway/upstream"
	"spectra/internal/refresh"
)

// Upstream is a provider: a base URL, a secret, the API it speaks and the models it serves.
type Upstream = upstream.Upstream

// upstreamsFile is the format LoadUpstreamsFile reads:
//
//	{"upstreams": [
//	  {"name": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-…", "models": ["gpt-4o", "gpt-4o-mini"]},
//	  {"name": "local",  "base_url": "http://127.0.0.1:11434/v1", "models": ["llama3.1:8b"]},
//	  {"name": "anthropic", "api": "anthropic", "base_url": "https://api.anthropic.com/v1", "api_key": "sk-ant-…", "models": ["claude-sonnet-4-5"]}
//	]}
type upstreamsFile struct {
	Upstreams []Upstream `json:"upstreams"`
}

// LoadUpstreamsFile reads upstreams from a JSON file of the form
// {"upstreams":[{"name","api","base_url","api_key","models":[…]}]} (see the README). Every entry
// is validated; unknown fields and duplicate names are errors. Upstreams from the file are
// merged with those registered through the API and cannot be changed or deleted there.
func LoadUpstreamsFile(path string) ([]Upstream, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var f upstreamsFile
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("upstreams file %s: %w", path, err)
	}
	seen := map[string]bool{}
	for i := range f.Upstreams {
		u := &f.Upstreams[i]
		if err := u.Validate(); err != nil {
			return nil, fmt.Errorf("upstreams file %s: upstream %d: %w", path, i, err)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("upstreams file %s: upstream %q appears twice", path, u.Name)
		}
		seen[u.Name] = true
	}
	return f.Upstreams, nil
}

// registry is the merged, in-memory view of the upstreams: those of the configuration
// file first (in file order), then the stored ones by name. A model is routed to the
// first upstream that serves it among those of the API the client called. The stored part is reloaded after every change made on
// this node and, for changes made on other nodes, at most refreshEvery after them.
type registry struct {
	file  []Upstream
	store upstream.Store
	box   *secretBox
	now   func() time.Time
	log   logger

	mu       sync.RWMutex
	list     []entry
	byModel  map[routeKey]*entry
	loadedAt time.Time

	refresh *refresh.Group // the gateway's background refreshes
}

// entry is one usable upstream.
type entry struct {
	Upstream
	fromFile bool
	meta     []byte // the usage events' metadata: {"upstream":name}
}

// routeKey is an API and a model name.
type routeKey struct{ api, model string }

type logger interface {
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

const refreshEvery = 5 * time.Second

// load reads the stored upstreams and rebuilds the routing table.
func (r *registry) load(ctx context.Context) error {
	recs, err := r.store.Upstreams(ctx)
	if err != nil {
		return err
	}
	list := make([]entry, 0, len(r.file)+len(recs))
	names := map[string]bool{}
	for _, u := range r.file {
		list = append(list, entry{Upstream: u, fromFile: true})
		names[u.Name] = true
	}
	for _, rec := range recs {
		if names[rec.Name] {
			r.log.Warn("stored upstream shadowed by the configuration file", "upstream", rec.Name)
			continue
		}
		secret, err := r.box.open(rec.Name, rec.Secret)
		if err != nil {
			r.log.Error("upstream unusable", "upstream", rec.Name, "err", err)
			continue
		}
		list = append(list, entry{Upstream: Upstream{Name: rec.Name, API: apiOf(rec.API), BaseURL: rec.BaseURL, APIKey: secret, Models: rec.Models}})
	}
	byModel := map[routeKey]*entry{}
	for i := range list {
		list[i].meta, _ = json.Marshal(map[string]string{"upstream": list[i].Name})
		api := apiOf(list[i].API)
		for _, m := range list[i].Models {
			if _, ok := byModel[routeKey{api, m}]; !ok {
				byModel[routeKey{api, m}] = &list[i]
			}
		}
	}
	r.mu.Lock()
	r.list, r.byModel, r.loadedAt = list, byModel, r.now()
	r.mu.Unlock()
	return nil
}

// apiOf is an upstream's API, empty read as OpenAI's.
func apiOf(api string) string {
	if api == "" {
		return upstream.OpenAI
	}
	return api
}

// route returns the OpenAI upstream serving model (routeAPI).
func (r *registry) route(model string) (*entry, bool) { return r.routeAPI(upstream.OpenAI, model) }

// routeAPI returns the upstream of API api (upstream.OpenAI, …) serving model, refreshing
// the table in the background when it is older than refreshEvery.
func (r *registry) routeAPI(api, model string) (*entry, bool) {
	r.mu.RLock()
	e, ok := r.byModel[routeKey{api, model}]
	stale := r.now().Sub(r.loadedAt) > refreshEvery
	r.mu.RUnlock()
	if stale {
		r.refresh.Go("upstreams", func(ctx context.Context) {
			if err := r.load(ctx); err != nil {
				r.log.Error("reload upstreams", "err", err)
			}
		})
	}
	return e, ok
}
