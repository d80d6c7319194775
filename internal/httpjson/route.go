package httpjson

import (
	"log/slog"
	"net/http"

	"spectra/internal/team"
)

// HandlerFunc is a JSON handler that reports failure by returning an error, which the
// scaffold writes with WriteError.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one line of a transport's route table: the table alone says who may call what.
type Route struct {
	// Pattern is a net/http ServeMux pattern with its method: "GET /api/v1/…/{id}".
	Pattern string
	// Need is what the caller must be allowed: team.ActPublic (anyone), team.ActOperate
	// (the operator), or a role's action on the workspace {id} of the path.
	Need   team.Action
	Handle HandlerFunc
}

// Guards check a route's Need; api.Server provides both (its Workspace and
// RequireOperator methods).
type Guards struct {
	// Workspace returns nil when r may do need on workspace id (the path's {id}); else an
	// *errs.Error (401, 403 or 404).
	Workspace func(r *http.Request, workspaceID string, need team.Action) error
	// Operator lets a request through to next only for the operator. Needed only by a
	// table with a team.ActOperate route.
	Operator func(next http.Handler) http.Handler
}

// Serve returns h as an http.Handler: a request whose path or query breaks the text rule
// is refused first (400 invalid_text, see RequestText), and h's error, if any, is written
// with WriteError on log.
func Serve(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := RequestText(r) // before any guard, which may look the workspace up
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			WriteError(w, log, err)
		}
	})
}

// Handler returns rt's handler, guarded by g according to rt.Need: a public route is
// served as is; an operator route is wrapped in g.Operator (which answers before the
// text rule, as a middleware); any other is checked with g.Workspace after the text rule.
func Handler(log *slog.Logger, rt Route, g Guards) http.Handler {
	switch rt.Need {
	case team.ActPublic:
		return Serve(log, rt.Handle)
	case team.ActOperate:
		if g.Operator == nil {
			panic("httpjson: " + rt.Pattern + " needs the operator and no Guards.Operator is given")
		}
		return g.Operator(Serve(log, rt.Handle))
	}
	if g.Workspace == nil {
		panic("httpjson: " + rt.Pattern + " needs " + string(rt.Need) + " and no Guards.Workspace is given")
	}
	return Serve(log, func(w http.ResponseWriter, r *http.Request) error {
		if err := g.Workspace(r, r.PathValue("id"), rt.Need); err != nil {
			return err
		}
		return rt.Handle(w, r)
	})
}

// Mount registers every route of routes on mux, each guarded by g (see Handler).
func Mount(mux *http.ServeMux, log *slog.Logger, routes []Route, g Guards) {
	for _, rt := range routes {
		mux.Handle(rt.Pattern, Handler(log, rt, g))
	}
}

// Patterns returns the pattern of every route ("POST /webhooks/stripe", …), for OpenAPI
// coverage tests and documentation.
func Patterns(routes []Route) []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.Pattern
	}
	return out
}
