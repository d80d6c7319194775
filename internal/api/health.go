package api

import (
	"context"
	"net/http"
	"time"

	"spectra/internal/errs"
)

// healthz answers while the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers when the database does.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.db != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			s.log.Warn("readiness check failed", "err", err)
			return errs.E(errs.Unavailable, "database_unavailable", "the database does not answer")
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
