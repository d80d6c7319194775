package api

import (
	"net/http"
	"net/url"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
)

// DefaultUsageRange is how far back a usage query without start reaches.
const DefaultUsageRange = 7 * 24 * time.Hour

// usageFilter reads the optional comma-list filters of GET …/usage.
func usageFilter(q url.Values) metering.Filter {
	return metering.Filter{Models: listParam(q, "models"), Keys: listParam(q, "key_ids"),
		Projects: listParam(q, "projects"), Members: listParam(q, "members")}
}

// timeRange reads start and end (RFC 3339 or Unix seconds); end defaults to now and
// start to end − DefaultUsageRange.
func timeRange(q url.Values, now time.Time) (start, end time.Time, err error) {
	end = now
	if v := q.Get("end"); v != "" {
		var ok bool
		if end, ok = parseTime(v); !ok {
			return start, end, errs.E(errs.Invalid, "invalid_end", "end must be an RFC 3339 time or Unix seconds")
		}
	}
	start = end.Add(-DefaultUsageRange)
	if v := q.Get("start"); v != "" {
		var ok bool
		if start, ok = parseTime(v); !ok {
			return start, end, errs.E(errs.Invalid, "invalid_start", "start must be an RFC 3339 time or Unix seconds")
		}
	}
	return start, end, nil
}

// bucketWidth reads "1h" or "1d" (the default).
func bucketWidth(v string) (time.Duration, error) {
	switch v {
	case "", "1d":
		return 24 * time.Hour, nil
	case "1h":
		return time.Hour, nil
	}
	return 0, errs.E(errs.Invalid, "invalid_bucket", "bucket must be 1h or 1d")
}

// usage answers GET /api/v1/workspaces/{id}/usage from hourly rollups. Day buckets
// follow tz, by default the workspace's time zone.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.team.Workspace(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tz := ws.Timezone
	if v := q.Get("tz"); v != "" {
		tz = v
	}
	loc, err := loadLocation(tz)
	if err != nil {
		return err
	}
	start, end, err := timeRange(q, s.now())
	if err != nil {
		return err
	}
	width, err := bucketWidth(q.Get("bucket"))
	if err != nil {
		return err
	}
	uq := metering.UsageQuery{WorkspaceID: ws.ID, Start: start, End: end, Bucket: width, Location: loc,
		GroupBy: listParam(q, "group_by"), Filter: usageFilter(q)}
	buckets, err := s.metering.Usage(r.Context(), uq)
	if err != nil {
		return err
	}
	if buckets == nil {
		buckets = []metering.Bucket{}
	}
	WriteJSON(w, http.StatusOK, struct {
		WorkspaceID string            `json:"workspace_id"`
		Timezone    string            `json:"timezone"`
		Bucket      string            `json:"bucket"`
		Currency    string            `json:"currency"`
		Buckets     []metering.Bucket `json:"buckets"`
	}{ws.ID, loc.String(), bucketName(width), s.currency, buckets})
	return nil
}

func bucketName(d time.Duration) string {
	if d == time.Hour {
		return "1h"
	}
	return "1d"
}
