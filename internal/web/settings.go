package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/notify"
	"spectra/internal/team"
)

// endpointRow is one webhook endpoint of the settings page.
type endpointRow struct {
	notify.Endpoint
	Shown   string // the URL for managers, its host for others (a URL may carry a token)
	Events  string
	Created string
}

// deliveryRow is one recent delivery of the settings page.
type deliveryRow struct {
	notify.Delivery
	To       string
	Created  string
	Next     string
	LastTime string
}

// settingsData is what the settings page shows.
type settingsData struct {
	pageBase
	Enabled    bool // notifications are wired in this deployment
	CanManage  bool
	Endpoints  []endpointRow
	Deliveries []deliveryRow
	Pending    bool // some delivery is pending: the list refreshes itself
	EventTypes []string
	NewSecret  string
	SecretFor  string // the endpoint whose secret is shown
	Notice     string
	Error      string
	FormURL    string
	FormDesc   string

	// The workspace's time zone form (owners only).
	CanManageWorkspace bool
	Zones              []string // suggested in the form's datalist
	ZoneForm           string   // the zone as typed, shown again with ZoneError
	ZoneError          string
}

// recentDeliveries is how many deliveries the settings page lists.
const recentDeliveries = 25

var errNoNotify = errs.E(errs.Unavailable, "notifications_unavailable", "webhooks are not available in this deployment")

// settings shows the workspace's time zone (a form for owners), its webhook endpoints
// and their recent deliveries.
func (s *Server) settings(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.settingsPage(r, rq)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("done") {
	case "test":
		d.Notice = "Test event queued. Its delivery appears below."
	case "enabled":
		d.Notice = "Endpoint enabled."
	case "disabled":
		d.Notice = "Endpoint disabled: alerts are no longer sent to it."
	case "deleted":
		d.Notice = "Endpoint deleted."
	case "timezone":
		d.Notice = "Time zone set to " + rq.ZoneLabel() + ". Days, budget periods and statements not yet issued now follow it."
	}
	return s.render(w, r, http.StatusOK, "settings", d)
}

func (s *Server) settingsPage(r *http.Request, rq *request) (settingsData, error) {
	d := settingsData{pageBase: rq.base("Settings", "settings"), Enabled: s.notify != nil, CanManage: rq.Can(team.ActManageWebhooks),
		EventTypes: notify.EventTypes, CanManageWorkspace: rq.Can(team.ActManageWorkspace), Zones: zoneChoices(rq.Workspace.Timezone),
		ZoneForm: rq.Workspace.Timezone}
	if s.notify == nil {
		return d, nil
	}
	ctx := r.Context()
	es, err := s.notify.Endpoints(ctx, rq.Workspace.ID)
	if err != nil {
		return d, err
	}
	names := map[string]string{}
	for _, e := range es {
		row := endpointRow{Endpoint: e, Shown: e.URL, Events: "All events", Created: rq.Date(e.CreatedAt)}
		if len(e.EventTypes) > 0 {
			row.Events = strings.Join(e.EventTypes, ", ")
		}
		if !d.CanManage {
			if u, err := url.Parse(e.URL); err == nil {
				row.Shown = u.Scheme + "://" + u.Host + "/…"
			}
		}
		names[e.ID] = e.Description
		if names[e.ID] == "" {
			names[e.ID] = row.Shown
		}
		d.Endpoints = append(d.Endpoints, row)
	}
	ds, _, err := s.notify.Deliveries(ctx, notify.DeliveryFilter{WorkspaceID: rq.Workspace.ID, Limit: recentDeliveries})
	if err != nil {
		return d, err
	}
	for _, x := range ds {
		row := deliveryRow{Delivery: x, To: x.Address, Created: rq.dateTime(x.CreatedAt), Next: "—", LastTime: "—"}
		if x.Channel == notify.ChannelWebhook {
			row.To = names[x.EndpointID]
		}
		if x.NextAttemptAt != nil {
			row.Next = rq.dateTime(*x.NextAttemptAt)
			d.Pending = true
		}
		if x.LastAttemptAt != nil {
			row.LastTime = rq.dateTime(*x.LastAttemptAt)
		}
		d.Deliveries = append(d.Deliveries, row)
	}
	return d, nil
}

// dateTime formats t in the workspace's time zone.
func (rq *request) dateTime(t time.Time) string { return t.In(rq.Loc).Format(layoutDateTime) }

// manageWebhooks refuses deployments without webhooks (the route table lets only
// roles with manage_webhooks through).
func (s *Server) manageWebhooks() error {
	if s.notify == nil {
		return errNoNotify
	}
	return nil
}

// createWebhook adds an endpoint; the signing secret is shown on this response only.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.manageWebhooks(); err != nil {
		return err
	}
	u, desc := strings.TrimSpace(r.PostFormValue("url")), strings.TrimSpace(r.PostFormValue("description"))
	types := r.PostForm["event_type"]
	if types == nil {
		types = []string{}
	}
	e, secret, err := s.notify.CreateEndpoint(r.Context(), rq.Workspace.ID, notify.EndpointInput{URL: &u, Description: &desc, EventTypes: &types})
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.settingsPage(r, rq)
		if perr != nil {
			return perr
		}
		d.Error, d.FormURL, d.FormDesc = userMessage(err), u, desc
		return s.render(w, r, http.StatusBadRequest, "settings", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("webhook endpoint created in dashboard", "workspace", rq.Workspace.ID, "webhook", e.ID, "by", rq.V.User.ID)
	return s.showSecret(w, r, rq, http.StatusCreated, e, secret)
}

func (s *Server) showSecret(w http.ResponseWriter, r *http.Request, rq *request, status int, e notify.Endpoint, secret string) error {
	d, err := s.settingsPage(r, rq)
	if err != nil {
		return err
	}
	d.NewSecret, d.SecretFor = secret, e.URL
	return s.render(w, r, status, "settings", d)
}

// setWebhookEnabled enables or disables an endpoint (form field enabled=true|false).
func (s *Server) setWebhookEnabled(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.manageWebhooks(); err != nil {
		return err
	}
	on := r.PostFormValue("enabled") == "true"
	if _, err := s.notify.UpdateEndpoint(r.Context(), rq.Workspace.ID, r.PathValue("hook"), notify.EndpointInput{Enabled: &on}); err != nil {
		return err
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	http.Redirect(w, r, rq.URL("settings")+"?done="+done, http.StatusSeeOther)
	return nil
}

// deleteWebhook deletes an endpoint and its deliveries.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.manageWebhooks(); err != nil {
		return err
	}
	if err := s.notify.DeleteEndpoint(r.Context(), rq.Workspace.ID, r.PathValue("hook")); err != nil {
		return err
	}
	s.log.Info("webhook endpoint deleted in dashboard", "workspace", rq.Workspace.ID, "webhook", r.PathValue("hook"), "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("settings")+"?done=deleted", http.StatusSeeOther)
	return nil
}

// rotateWebhook gives an endpoint a new secret, shown on this response only.
func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.manageWebhooks(); err != nil {
		return err
	}
	e, secret, err := s.notify.RotateSecret(r.Context(), rq.Workspace.ID, r.PathValue("hook"))
	if err != nil {
		return err
	}
	s.log.Info("webhook secret rotated in dashboard", "workspace", rq.Workspace.ID, "webhook", e.ID, "by", rq.V.User.ID)
	return s.showSecret(w, r, rq, http.StatusOK, e, secret)
}

// testWebhook queues a test event to an endpoint.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.manageWebhooks(); err != nil {
		return err
	}
	if _, err := s.notify.SendTest(r.Context(), rq.Workspace.ID, r.PathValue("hook")); err != nil {
		return err
	}
	http.Redirect(w, r, rq.URL("settings")+"?done=test", http.StatusSeeOther)
	return nil
}
