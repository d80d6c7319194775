package api

import (
	"net/http"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// unmatched answers requests under /api/ that no route takes: 405 with an Allow header
// when the path exists with other methods, else 404, both as JSON errors.
func (s *Server) unmatched(mux *http.ServeMux) http.Handler {
	return httpjson.Serve(s.log, func(w http.ResponseWriter, r *http.Request) error {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			// 405 is no domain error kind: the one status written here rather than by Status.
			WriteJSON(w, http.StatusMethodNotAllowed, httpjson.Error{Error: httpjson.Detail{Code: "method_not_allowed",
				Message: r.Method + " is not allowed here (allowed: " + strings.Join(allow, ", ") + ")"}})
			return nil
		}
		return errs.E(errs.NotFound, "not_found", "no endpoint at %s", r.URL.Path)
	})
}
