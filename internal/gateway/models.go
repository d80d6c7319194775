package gateway

import (
	"net/http"
	"sort"
)

// modelInfo is one entry of GET /v1/models, in OpenAI's shape.
type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"` // the upstream that serves it
}

// models lists the models the key may use: priced now, served by an upstream, and
// allowed for the key.
func (g *Gateway) models(w http.ResponseWriter, r *http.Request) {
	key, err := g.authenticate(r)
	if err != nil {
		g.writeError(w, err)
		return
	}
	cat, err := g.metering.Catalog(r.Context())
	if err != nil {
		g.writeError(w, err)
		return
	}
	now := g.now()
	data := []modelInfo{}
	for _, m := range cat.Models() {
		p, err := cat.At(m, now)
		if err != nil || !key.AllowsModel(m) {
			continue
		}
		up, ok := g.reg.route(m)
		if !ok {
			continue
		}
		data = append(data, modelInfo{ID: m, Object: "model", Created: p.EffectiveFrom.Unix(), OwnedBy: up.Name})
	}
	sort.Slice(data, func(i, j int) bool { return data[i].ID < data[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}
