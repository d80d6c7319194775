package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/team"
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

// authorize checks that p may call a route that needs need (never team.ActPublic,
// which is not guarded). The operator may call every route. A key used on another
// workspace's URL is forbidden_workspace whatever the route; a route for the operator
// is operator_required; team.ActUseKeys (sending events) takes an inference key, every
// other action an admin key. A key never does more than its member's current role
// allows (key_role_forbidden).
func authorize(p principal, need team.Action, r *http.Request) error {
	if p.operator {
		return nil
	}
	if id := r.PathValue("id"); id != "" && id != p.key.WorkspaceID {
		return errForbiddenWS
	}
	switch {
	case need == team.ActOperate:
		return errOperatorRequired
	case need == team.ActUseKeys && p.key.Kind != team.KindInference:
		return errInferenceRequired
	case need != team.ActUseKeys && p.key.Kind != team.KindAdmin:
		return errAdminKeyRequired
	}
	return p.key.RoleAllows(need)
}

// guard authenticates and authorises a request for a route that needs need, then runs
// h with the caller in its context.
func (s *Server) guard(need team.Action, h httpjson.HandlerFunc) httpjson.HandlerFunc {
	if need == team.ActPublic {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if err := authorize(p, need, r); err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
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
		s.serveAudited(next, w, r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{operator: true})))
	})
}
