package web

import (
	"net/http"
	"net/url"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestWebhookRoutesDeclareManageWebhooks: the route table itself gates the webhook
// forms with manage_webhooks, before any handler runs: a member or viewer is refused
// (403) even by a deployment without notifications, where an owner learns that webhooks
// are not available (503). Before, the routes were declared view_usage and the role was
// checked inside the handlers, after the deployment check.
func TestWebhookRoutesDeclareManageWebhooks(t *testing.T) {
	e := newEnv(t, storetest.SQLite) // no Notify
	f := e.seedFixture()
	page := "/w/" + f.ws + "/settings/webhooks"
	for _, role := range team.Roles {
		want := http.StatusForbidden
		if role.Can(team.ActManageWebhooks) {
			want = http.StatusServiceUnavailable
		}
		c := e.signedIn(f.users[role].Email)
		for _, path := range []string{page, page + "/wh_x/enabled", page + "/wh_x/delete", page + "/wh_x/rotate", page + "/wh_x/test"} {
			if st, _ := c.post(path, url.Values{"url": {"https://hooks.example.com/x"}}); st != want {
				t.Errorf("%s posts %s: %d, want %d", role, path, st, want)
			}
		}
	}
}
