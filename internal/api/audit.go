package api

import (
	"context"
	"net/http"
	"strconv"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// The operator's audit log over the API: GET /api/v1/audit lists it, and every
// operator call that changes something (any method but GET and HEAD, on a route that
// needs the operator — this API's and every transport's that uses RequireOperator:
// prices, workspaces, keys, members, grants, payments, codes, statements, credit notes,
// upstreams, overdraft — or the operator's call of this API's workspace routes, such as
// the time zone's PATCH) is recorded after it succeeds (2xx): who ("admin-token"), when,
// the route, the workspace, the path and the status (201 created, 200 a replay or an
// update). The console records its own actions, with before → after, through the same
// audit.Service.

var errAuditUnavailable = errs.E(errs.Unavailable, "feature_unavailable", "the audit log is not available in this deployment")

// listAudit is GET /api/v1/audit?actor=&action=&workspace_id=&cursor=&limit=: entries
// newest first, and next_cursor to continue.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	if s.auditLog == nil {
		return errAuditUnavailable
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), WorkspaceID: q.Get("workspace_id")}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor must be the next_cursor of an earlier page")
		}
		f.BeforeID = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and %d", audit.MaxLimit)
		}
		f.Limit = n
	}
	p, err := s.auditLog.List(r.Context(), f)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, p)
	return nil
}

// overdraftRequest is the body of PUT /api/v1/workspaces/{id}/overdraft-limit.
type overdraftRequest struct {
	OverdraftLimit string `json:"overdraft_limit"`
}

// putOverdraft sets a workspace's overdraft limit (team.SetOverdraftLimit): the
// operator's decision alone. 200 with the workspace.
func (s *Server) putOverdraft(w http.ResponseWriter, r *http.Request) error {
	var body overdraftRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	limit, err := money.ParseNonNegative(body.OverdraftLimit)
	if err != nil {
		return errs.E(errs.Invalid, "invalid_overdraft_limit", "overdraft_limit: %s", amountProblem(err))
	}
	_, ws, err := s.team.SetOverdraftLimit(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, ws)
	return nil
}

// auditWriter remembers the status a handler wrote.
type auditWriter struct {
	http.ResponseWriter
	status int
}

func (sw *auditWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *auditWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (sw *auditWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// serveAudited serves an operator's request with next and, when it changed something
// and succeeded, records it in the audit log.
func (s *Server) serveAudited(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if s.auditLog == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		next.ServeHTTP(w, r)
		return
	}
	sw := &auditWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	if sw.status < 200 || sw.status > 299 {
		return
	}
	action := r.Pattern
	if action == "" {
		action = r.Method + " " + r.URL.Path
	}
	e := audit.Entry{Actor: "admin-token", Source: audit.SourceAPI, Action: action, WorkspaceID: r.PathValue("id"), Target: r.URL.Path,
		After: map[string]string{"status": strconv.Itoa(sw.status)}}
	if _, _, err := s.auditLog.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("api: audit entry not recorded", "action", action, "err", err)
	}
}

// audited wraps a route of this API's table so that the operator's calls that change
// something are recorded (serveAudited): those of the operator's routes, and the
// operator's calls of a workspace route (PATCH /api/v1/workspaces/{id}, the time zone,
// say). A workspace key's calls are not operator actions and are not recorded, nor is
// sending events (team.ActUseKeys).
func (s *Server) audited(need team.Action, h http.Handler) http.Handler {
	if need == team.ActPublic || need == team.ActUseKeys {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if need != team.ActOperate && !s.isOperator(bearer(r)) {
			h.ServeHTTP(w, r)
			return
		}
		s.serveAudited(h, w, r)
	})
}
