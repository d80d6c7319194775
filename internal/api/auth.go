package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// access says who may call a route.
type access int

const (
	public          access = iota // anyone, no token read
	operatorOnly                  // the operator token
	workspaceReader               // the operator, or an admin key of the workspace {id}
	ingester                      // the operator, or an inference key
	orgReader                     // the operator (with ?workspace_id=), or an admin key
)

// principal is who made a request: the operator, or the holder of a workspace key.
type principal struct {
	operator bool
	key      team.APIKey // set when !operator
}

type principalKey struct{}

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// Authorisation errors.
var (
	errNoCredentials     = errs.E(errs.Unauthorized, "unauthorized", "an Authorization: Bearer <token> header is required")
	errOperatorRequired  = errs.E(errs.Forbidden, "operator_required", "this endpoint takes the operator's admin token")
	errAdminKeyRequired  = errs.E(errs.Forbidden, "admin_key_required", "this endpoint takes an admin key of the workspace (inference keys may only send events)")
	errInferenceRequired = errs.E(errs.Forbidden, "inference_key_required", "events are sent with an inference key of the workspace")
	errForbiddenWS       = errs.E(errs.Forbidden, "forbidden_workspace", "this key belongs to another workspace")
)

// bearer returns the token of an "Authorization: Bearer <token>" header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// isOperator reports, in constant time, whether token is the operator's.
func (s *Server) isOperator(token string) bool {
	if s.adminHash == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(team.HashSecret(token)), []byte(s.adminHash)) == 1
}

// authenticate identifies the caller: the operator, or an active workspace key.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	token := bearer(r)
	if token == "" {
		return principal{}, errNoCredentials
	}
	if s.isOperator(token) {
		return principal{operator: true}, nil
	}
	k, err := s.team.Authenticate(r.Context(), token)
	if err != nil {
		return principal{}, err
	}
	return principal{key: k}, nil
}

// authorize checks that p may call a route of access a. A key used on another
// workspace's URL is forbidden_workspace whatever the route. A key never does more
// than its member's current role allows (key_role_forbidden).
func authorize(p principal, a access, r *http.Request) error {
	if p.operator {
		return nil
	}
	if id := r.PathValue("id"); id != "" && id != p.key.WorkspaceID {
		return errForbiddenWS
	}
	switch a {
	case workspaceReader, orgReader:
		if p.key.Kind != team.KindAdmin {
			return errAdminKeyRequired
		}
		return p.key.RoleAllows(team.ActViewUsage)
	case ingester:
		if p.key.Kind != team.KindInference {
			return errInferenceRequired
		}
		return p.key.RoleAllows(team.ActUseKeys)
	}
	return errOperatorRequired
}

// guard authenticates and authorises a request for a route of access a, then runs h.
func (s *Server) guard(a access, h handlerFunc) http.Handler {
	return s.serve(func(w http.ResponseWriter, r *http.Request) error {
		if a == public {
			return h(w, r)
		}
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if err := authorize(p, a, r); err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// RequireOperator lets a request through only with the operator's admin token; anything
// else gets a JSON 401.
func (s *Server) RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			WriteError(w, s.log, errNoCredentials)
			return
		}
		if !s.isOperator(token) {
			WriteError(w, s.log, errs.E(errs.Unauthorized, "invalid_admin_token", "the operator's admin token is required"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{operator: true})))
	})
}
