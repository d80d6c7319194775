package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
)

// requestsPageSize is how many events one page of the request log shows.
const requestsPageSize = 50

// logRow is one request of the log, labelled for people.
type logRow struct {
	metering.Event
	Time      string
	KeyLabel  string
	Member    string
	CachedPct string
}

// requestsData is what the request log shows.
type requestsData struct {
	pageBase
	Q        usageQuery
	AllTime  bool
	Rows     []logRow
	Models   []option
	Keys     []option
	Members  []option
	Projects []string
	NextURL  string
	FirstURL string
	Paged    bool
}

// parseCursor reads ?before=<unix micros>.<event id>.
func parseCursor(s string) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", nil
	}
	ts, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", errs.E(errs.Invalid, "invalid_cursor", "the page cursor is not valid; start from the first page")
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// requests is the request log: raw events newest first, keyset-paginated, filtered by
// model, key, member, project and (optionally) period.
func (s *Server) requests(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	allTime := q.Get("period") == "" && q.Get("from") == "" && q.Get("to") == ""
	if allTime {
		q.Set("period", "30d") // parsed only for the filters; the log is not bounded in time
	}
	u, err := rq.parseUsageQuery(q)
	if err != nil {
		return err
	}
	beforeTime, beforeID, err := parseCursor(q.Get("before"))
	if err != nil {
		return err
	}
	f := metering.EventFilter{WorkspaceID: rq.Workspace.ID, Filter: u.Filter, BeforeTime: beforeTime, BeforeID: beforeID, Limit: requestsPageSize + 1}
	if !allTime {
		f.Start, f.End = u.Period.Start, u.Period.End
	}
	ctx := r.Context()
	var events []metering.Event
	var names labeler
	err = parallel(
		func() (err error) { events, err = s.metering.Events(ctx, f); return err },
		func() (err error) { names, err = rq.labels(ctx); return err })
	if err != nil {
		return err
	}
	d := requestsData{pageBase: rq.base("Requests", "requests"), Q: u, AllTime: allTime, Paged: beforeID != ""}
	more := len(events) > requestsPageSize
	if more {
		events = events[:requestsPageSize]
	}
	for _, e := range events {
		row := logRow{Event: e, Time: e.Timestamp.In(rq.Loc).Format("2 Jan 15:04:05")}
		row.KeyLabel, _ = names.label(metering.DimKey, e.KeyID)
		row.Member, _ = names.label(metering.DimMember, e.Member)
		if e.Usage.Input > 0 && e.Usage.CachedInput > 0 {
			row.CachedPct = strconv.FormatInt(e.Usage.CachedInput*100/e.Usage.Input, 10) + "% cached"
		}
		d.Rows = append(d.Rows, row)
	}
	base := url.Values{}
	for _, k := range []string{"model", "key", "member", "project"} {
		if v := q.Get(k); v != "" {
			base.Set(k, v)
		}
	}
	if !allTime {
		for k, v := range u.Period.Query() {
			base[k] = v
		}
	}
	d.FirstURL = rq.URL("requests") + "?" + base.Encode()
	if more {
		last := events[len(events)-1]
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(last.Timestamp.UnixMicro(), 10)+"."+last.ID)
		d.NextURL = rq.URL("requests") + "?" + next.Encode()
	}
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return err
	}
	d.Models, d.Keys, d.Members, d.Projects = filterOptions(cat.Models(), names, u)
	return s.render(w, r, http.StatusOK, "requests", d)
}
