package main

import (
	"net/http"

	"spectra/internal/api"
	"spectra/internal/gateway"
)

// upstreamAuditSnapshots gives the audit log the state of an upstream before and after
// the operator's API puts or deletes it (api.Deps.AuditSnapshots): its fields, the
// secret only as set or none; "upstream: none" when there is no such upstream.
func upstreamAuditSnapshots(gw *gateway.Gateway) map[string]api.AuditSnapshot {
	upstream := func(r *http.Request, name string) (map[string]string, error) {
		us, err := gw.Upstreams(r.Context())
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			if u.Name == name {
				return api.AuditFields(u), nil
			}
		}
		return map[string]string{"upstream": "none"}, nil
	}
	return map[string]api.AuditSnapshot{
		"POST /api/v1/upstreams": func(r *http.Request, asked map[string]string) (map[string]string, error) {
			return upstream(r, asked["name"])
		},
		"DELETE /api/v1/upstreams/{name}": func(r *http.Request, _ map[string]string) (map[string]string, error) {
			return upstream(r, r.PathValue("name"))
		},
	}
}
