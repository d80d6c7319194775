package web

import (
	"net/http"
	"net/url"
	"time"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// request is a signed-in request inside one workspace the viewer may see.
type request struct {
	s         *Server
	V         *viewer
	Workspace team.Workspace
	Loc       *time.Location
	Role      team.Role   // the viewer's role here; the operator acts as an owner
	Member    team.Member // zero for an operator who is not a member
	Now       time.Time
	Spaces    []workspaceLink // for the switcher: every workspace the viewer may open

	// The top bar loads while the page runs its own queries; Bar waits for it.
	bar     topBar
	barErr  error
	barDone chan struct{}
}

// Bar returns the balance strip, waiting for it to load.
func (rq *request) Bar() (topBar, error) {
	<-rq.barDone
	return rq.bar, rq.barErr
}

// workspaceLink is one entry of the workspace switcher.
type workspaceLink struct {
	ID, Name string
	Current  bool
}

// Can reports whether the viewer may do a here.
func (rq *request) Can(a team.Action) bool { return rq.Role.Can(a) }

// URL returns the path of a page of this workspace ("" is the overview).
func (rq *request) URL(page string) string {
	return "/w/" + url.PathEscape(rq.Workspace.ID) + "/" + page
}

// pageHandler serves a page inside a workspace.
type pageHandler func(w http.ResponseWriter, r *http.Request, rq *request) error

// errNoWorkspace answers any workspace URL the viewer may not open, whether or not the
// workspace exists: the answer does not tell which.
var errNoWorkspace = errs.E(errs.NotFound, "workspace_not_found", "there is no such workspace, or you are not a member of it")

// errRole refuses an action the viewer's role does not allow.
func errRole(a team.Action) error {
	return errs.E(errs.Forbidden, "role_forbidden", "your role in this workspace does not allow this (%s)", a)
}

// page resolves the workspace {ws} for a signed-in viewer, checks that they are a
// member (or the operator) and that their role allows action, loads the top bar, and
// runs h. A workspace the viewer may not see is a 404, by any URL under it.
func (s *Server) page(action team.Action, h pageHandler) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		rq, err := s.enter(r, v, r.PathValue("ws"))
		if err != nil {
			s.fail(w, r, v, nil, err)
			return nil
		}
		if !rq.Can(action) {
			s.fail(w, r, v, rq, errRole(action))
			return nil
		}
		if err := h(w, r, rq); err != nil {
			s.fail(w, r, v, rq, err)
		}
		return nil
	})
}

// enter builds the request context for workspace id.
func (s *Server) enter(r *http.Request, v *viewer, id string) (*request, error) {
	ctx := r.Context()
	rq := &request{s: s, V: v, Now: s.now()}
	if v.User.Operator {
		ws, err := s.team.Workspace(ctx, id)
		if errs.KindOf(err) == errs.NotFound {
			return nil, errNoWorkspace
		}
		if err != nil {
			return nil, err
		}
		rq.Workspace, rq.Role = ws, team.RoleOwner
		if !v.Bearer {
			if m, err := s.accounts.Member(ctx, id, v.User.ID); err == nil {
				rq.Member = m
			}
		}
	} else {
		m, err := s.accounts.Member(ctx, id, v.User.ID)
		if k := errs.KindOf(err); k == errs.Forbidden || k == errs.NotFound {
			return nil, errNoWorkspace
		}
		if err != nil {
			return nil, err
		}
		ws, err := s.team.Workspace(ctx, id)
		if err != nil {
			return nil, err
		}
		rq.Workspace, rq.Member, rq.Role = ws, m, m.Role
	}
	loc, err := time.LoadLocation(rq.Workspace.Timezone)
	if err != nil {
		loc = time.UTC
	}
	rq.Loc = loc
	spaces, err := s.workspacesOf(r, v)
	if err != nil {
		return nil, err
	}
	for _, sp := range spaces {
		sp.Current = sp.ID == rq.Workspace.ID
		rq.Spaces = append(rq.Spaces, sp)
	}
	rq.barDone = make(chan struct{})
	go func() {
		defer close(rq.barDone)
		rq.bar, rq.barErr = s.topBar(ctx, rq)
	}()
	return rq, nil
}

// workspacesOf lists the workspaces v may open: every one for the operator, their
// memberships otherwise.
func (s *Server) workspacesOf(r *http.Request, v *viewer) ([]workspaceLink, error) {
	var out []workspaceLink
	if v.User.Operator {
		all, err := s.team.Workspaces(r.Context())
		if err != nil {
			return nil, err
		}
		for _, w := range all {
			out = append(out, workspaceLink{ID: w.ID, Name: w.Name})
		}
		return out, nil
	}
	ms, err := s.accounts.Memberships(r.Context(), v.User.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		name := m.WorkspaceName
		if name == "" {
			name = m.WorkspaceID
		}
		out = append(out, workspaceLink{ID: m.WorkspaceID, Name: name})
	}
	return out, nil
}

// workspacesData is the page that lists the workspaces a viewer may open.
type workspacesData struct {
	pageBase
	Spaces []workspaceLink
}

// home sends the viewer to their (first) workspace; an operator who is a member of
// none gets the list of every workspace.
func (s *Server) home(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if !v.Bearer {
		ms, err := s.accounts.Memberships(r.Context(), v.User.ID)
		if err != nil {
			return err
		}
		if len(ms) > 0 {
			http.Redirect(w, r, "/w/"+url.PathEscape(ms[0].WorkspaceID)+"/", http.StatusSeeOther)
			return nil
		}
	}
	spaces, err := s.workspacesOf(r, v)
	if err != nil {
		return err
	}
	if len(spaces) == 1 {
		http.Redirect(w, r, "/w/"+url.PathEscape(spaces[0].ID)+"/", http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, "workspaces", workspacesData{pageBase: s.base("Workspaces", v, nil), Spaces: spaces})
}

// switchWorkspace is the switcher's form target: ?ws=<id> goes to that workspace's
// overview (the workspace page itself checks access).
func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.URL.Query().Get("ws")
	if id == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/w/"+url.PathEscape(id)+"/", http.StatusSeeOther)
	return nil
}

// pageBase is what every page's layout needs.
type pageBase struct {
	Title     string
	Nav       string // the current nav entry
	V         *viewer
	R         *request // nil outside a workspace
	CSRFToken string
	Currency  string
	AdminNav  []adminNavEntry // the operator's console nav; nil outside /admin (admin.go)
}

// base returns the layout data for a page outside a workspace.
func (s *Server) base(title string, v *viewer, rq *request) pageBase {
	b := pageBase{Title: title, V: v, R: rq, Currency: s.currency}
	if v != nil {
		b.CSRFToken = v.CSRF()
	}
	return b
}

// base returns the layout data for a page of this workspace.
func (rq *request) base(title, nav string) pageBase {
	b := rq.s.base(title, rq.V, rq)
	b.Nav = nav
	return b
}

// pageNotFound answers an unknown URL inside a workspace the viewer may see.
func (s *Server) pageNotFound(w http.ResponseWriter, r *http.Request, rq *request) error {
	return errNotFound
}

// Date formats t as a date in the workspace's timezone.
func (rq *request) Date(t time.Time) string { return t.In(rq.Loc).Format(layoutDate) }
