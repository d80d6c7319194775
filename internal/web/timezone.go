package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// ZoneLabel names the workspace's time zone with its offset now, as the period pickers
// show it: "Europe/Berlin (UTC+1)", "Asia/Kolkata (UTC+5:30)", "UTC".
func (rq *request) ZoneLabel() string {
	name := rq.Workspace.Timezone
	if name == "" {
		name = "UTC"
	}
	off := utcOffset(rq.Now, rq.Loc)
	if off == "UTC" && (name == "UTC" || name == "Etc/UTC") {
		return name
	}
	return name + " (" + off + ")"
}

// utcOffset is loc's offset from UTC at t: "UTC", "UTC+1", "UTC−3:30".
func utcOffset(t time.Time, loc *time.Location) string {
	_, secs := t.In(loc).Zone()
	if secs == 0 {
		return "UTC"
	}
	sign := "+"
	if secs < 0 {
		sign, secs = "−", -secs
	}
	h, m := secs/3600, secs%3600/60
	if m == 0 {
		return fmt.Sprintf("UTC%s%d", sign, h)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
}

// commonZones are the time zones the settings form suggests (any IANA zone may be typed).
var commonZones = []string{
	"UTC",
	"America/Anchorage", "America/Argentina/Buenos_Aires", "America/Bogota", "America/Chicago", "America/Denver",
	"America/Halifax", "America/Los_Angeles", "America/Mexico_City", "America/New_York", "America/Phoenix",
	"America/Santiago", "America/Sao_Paulo", "America/St_Johns", "America/Toronto", "America/Vancouver",
	"Pacific/Honolulu",
	"Europe/Amsterdam", "Europe/Athens", "Europe/Berlin", "Europe/Brussels", "Europe/Dublin", "Europe/Helsinki",
	"Europe/Istanbul", "Europe/Lisbon", "Europe/London", "Europe/Madrid", "Europe/Moscow", "Europe/Paris",
	"Europe/Prague", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Europe/Zurich",
	"Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi",
	"Asia/Bangkok", "Asia/Dhaka", "Asia/Dubai", "Asia/Hong_Kong", "Asia/Jakarta", "Asia/Jerusalem", "Asia/Karachi",
	"Asia/Kathmandu", "Asia/Kolkata", "Asia/Manila", "Asia/Riyadh", "Asia/Seoul", "Asia/Shanghai", "Asia/Singapore",
	"Asia/Taipei", "Asia/Tehran", "Asia/Tokyo",
	"Australia/Adelaide", "Australia/Brisbane", "Australia/Perth", "Australia/Sydney",
	"Pacific/Auckland", "Pacific/Chatham",
}

// zoneChoices returns the zones to suggest, the workspace's own among them.
func zoneChoices(current string) []string {
	if current == "" || slices.Contains(commonZones, current) {
		return commonZones
	}
	return append([]string{current}, commonZones...)
}

// setTimezone is the settings page's time zone form (owners only: the route needs
// team.ActManageWorkspace). The change redates the workspace's days at once; a zone that
// is not an IANA name shows the form again with the reason.
func (s *Server) setTimezone(w http.ResponseWriter, r *http.Request, rq *request) error {
	tz := strings.TrimSpace(r.PostFormValue("timezone"))
	ws, err := s.team.UpdateWorkspace(r.Context(), rq.Workspace.ID, team.WorkspaceUpdate{Timezone: &tz})
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.settingsPage(r, rq)
		if perr != nil {
			return perr
		}
		d.ZoneError, d.ZoneForm = userMessage(err), tz
		return s.render(w, r, http.StatusBadRequest, "settings", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("workspace time zone set in dashboard", "workspace", ws.ID, "timezone", ws.Timezone, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("settings")+"?done=timezone", http.StatusSeeOther)
	return nil
}
