package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"spectra/internal/errs"
	"spectra/internal/metering"
)

// Fuzz targets for what the dashboard reads from outside: query parameters and form
// fields. Their seed corpora run with every `go test`; a long run is
//
//	go test -run='^$' -fuzz=FuzzParsePeriod -fuzztime=5m -parallel=1 ./internal/web/
//
// Each target checks properties, not just the absence of a panic: a parse either fails
// with its documented code or gives a value that is sane and that the dashboard's own
// links choose again.

// fuzzZones are the time zones the period targets run in: UTC, a usual DST zone, odd
// offsets, a 30-minute DST shift and a zone whose clocks have skipped midnight.
var fuzzZones = []string{"UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe", "America/Santiago", "America/Havana"}

func fuzzLoc(t *testing.T, i uint8) *time.Location {
	loc, err := time.LoadLocation(fuzzZones[int(i)%len(fuzzZones)])
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	return loc
}

// fuzzNow maps any number to an instant between 1970 and about 2240.
func fuzzNow(n int64) time.Time {
	const span = int64(1) << 33 // seconds
	return time.Unix(((n%span)+span)%span, (n>>7)%1e9&0x3fffffff).UTC()
}

// FuzzParsePeriod: the period picker's ?period=&from=&to=.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"", "period=today", "period=7d", "period=30d", "period=month", "period=custom&from=2025-06-01&to=2025-06-10",
		"from=2025-06-01&to=2025-06-01", "period=custom&from=2025-06-10&to=2025-06-01", "period=custom&from=2024-01-01&to=2025-12-31",
		"period=custom&from=2025-02-30&to=2025-03-01", "period=year", "period=custom&from=0000-01-01&to=0000-01-02",
		"period=custom&from=9999-12-30&to=9999-12-31", "period=custom&from=2025-6-1&to=2025-06-02", "to=2025-06-01", "period=%zz"} {
		f.Add(s, int64(1750001400), uint8(1))
	}
	f.Add("period=today", int64(1699164000), uint8(6)) // around a DST change
	f.Add("period=month", int64(0), uint8(3))
	f.Fuzz(func(t *testing.T, raw string, nowN int64, zone uint8) {
		q, _ := url.ParseQuery(raw)
		now, loc := fuzzNow(nowN), fuzzLoc(t, zone)
		p, err := parsePeriod(q, "7d", now, loc)
		if err != nil {
			if !errs.Is(err, "invalid_period") {
				t.Fatalf("%q: error %v", raw, err)
			}
			return
		}
		checkPeriod(t, raw, p, now)
		// The picker's links choose the same period again.
		again, err := parsePeriod(p.Query(), "today", now, loc)
		if err != nil || !again.Start.Equal(p.Start) || !again.End.Equal(p.End) || again.Key != p.Key || again.Label != p.Label {
			t.Fatalf("%q: %+v does not round-trip (%+v, %v)", raw, p, again, err)
		}
	})
}

// checkPeriod asserts what every parsed period promises.
func checkPeriod(t *testing.T, raw string, p Period, now time.Time) {
	t.Helper()
	if !p.Start.Before(p.End) {
		t.Fatalf("%q: start %v is not before end %v", raw, p.Start, p.End)
	}
	if p.Cut.Before(p.Start) || p.Cut.After(p.End) {
		t.Fatalf("%q: cut %v outside [%v, %v]", raw, p.Cut, p.Start, p.End)
	}
	if p.End.Sub(p.Start) > (maxCustomDays*24+2)*time.Hour && p.Key != "month" {
		t.Fatalf("%q: a period of %v", raw, p.End.Sub(p.Start))
	}
	if p.Step != time.Hour && p.Step != 24*time.Hour {
		t.Fatalf("%q: step %v", raw, p.Step)
	}
	if !p.PrevStart.Before(p.Start) || p.PrevEnd.Before(p.PrevStart) {
		t.Fatalf("%q: previous period [%v, %v) against [%v, %v)", raw, p.PrevStart, p.PrevEnd, p.Start, p.End)
	}
	if p.Label == "" || p.Phrase == "" || p.PrevLabel == "" {
		t.Fatalf("%q: unlabelled %+v", raw, p)
	}
	for _, d := range []string{p.From, p.To} {
		if _, err := time.Parse(dateLayout, d); err != nil {
			t.Fatalf("%q: from/to %q is not a date", raw, d)
		}
	}
}

// FuzzUsageQuery: the Usage and Requests pages' filters (period, group, model, key,
// member, project), as any query string may set them.
func FuzzUsageQuery(f *testing.F) {
	for _, s := range []string{"", "group=", "group=key", "group=bogus", "model=gpt-4o&key=key_1&member=usr_1&project=prod",
		"model=%20gpt%20&project=%20p%20", "period=30d&group=project&project=a&project=b", "model=a%00b", "key=&member=",
		"period=custom&from=2025-06-01&to=2025-06-10&group=member", "group=model&group=key", "model=" + strings.Repeat("m", 300)} {
		f.Add(s, int64(1750001400), uint8(1))
	}
	f.Fuzz(func(t *testing.T, raw string, nowN int64, zone uint8) {
		q, _ := url.ParseQuery(raw)
		now, loc := fuzzNow(nowN), fuzzLoc(t, zone)
		rq := &request{Now: now, Loc: loc}
		u, err := rq.parseUsageQuery(q)
		if err != nil {
			if !errs.Is(err, "invalid_period") && !errs.Is(err, "invalid_group_by") {
				t.Fatalf("%q: error %v", raw, err)
			}
			return
		}
		checkPeriod(t, raw, u.Period, now)
		if u.Group != "" && !slices.Contains(metering.Dimensions, u.Group) {
			t.Fatalf("%q: group %q", raw, u.Group)
		}
		for _, l := range [][]string{u.Filter.Models, u.Filter.Keys, u.Filter.Members, u.Filter.Projects} {
			if len(l) > 1 || (len(l) == 1 && l[0] == "") {
				t.Fatalf("%q: filter %+v", raw, u.Filter)
			}
		}
		if u.Model != strings.TrimSpace(u.Model) || u.Key != strings.TrimSpace(u.Key) || u.Member != strings.TrimSpace(u.Member) {
			t.Fatalf("%q: untrimmed filter %+v", raw, u)
		}
		// The page's own links (values) choose the same query again.
		again, err := rq.parseUsageQuery(u.values())
		if err != nil || again.Group != u.Group || again.Model != u.Model || again.Key != u.Key || again.Member != u.Member ||
			again.Project != u.Project || !again.Period.Start.Equal(u.Period.Start) || !again.Period.End.Equal(u.Period.End) {
			t.Fatalf("%q: %+v does not round-trip (%+v, %v)", raw, u, again, err)
		}
	})
}

// FuzzRequestCursor: the request log's ?before=<unix micros>.<event id>.
func FuzzRequestCursor(f *testing.F) {
	for _, s := range []string{"", "1750001400000000.ev-1", "0.x", "-1.x", "1750001400000000.", ".ev", "abc.ev", "9223372036854775807.a.b",
		"-9223372036854775808.z", "1750001400000000.ev%00", "+5.x", "1_000.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, id, err := parseCursor(s)
		if err != nil {
			if !errs.Is(err, "invalid_cursor") {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		if s == "" {
			if id != "" || !ts.IsZero() {
				t.Fatalf("an empty cursor gave %v %q", ts, id)
			}
			return
		}
		if id == "" || ts.Location() != time.UTC {
			t.Fatalf("%q: %v %q", s, ts, id)
		}
		// The next-page link writes the cursor back the same way.
		again, id2, err := parseCursor(strconv.FormatInt(ts.UnixMicro(), 10) + "." + id)
		if err != nil || !again.Equal(ts) || id2 != id {
			t.Fatalf("%q: does not round-trip (%v %q %v)", s, again, id2, err)
		}
	})
}

// FuzzBudgetForms: the Budgets page's forms (a new budget; the low-balance line) and
// the amount fields of the billing forms.
func FuzzBudgetForms(f *testing.F) {
	f.Add("Team daily", "workspace:", "2", "day", "50, 80, 100", "10.00")
	f.Add("", "project:prod", "-1", "week", "0", "-5")
	f.Add("x", "key:key_1:extra", "1e9", "month", "50%,80%", "")
	f.Add("x", "member:", "99999999999999999999", "all_time", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21", "0.0000001")
	f.Add("x", "bogus", "0.000001", "year", "99999999999999999999", "1,000")
	f.Add(strings.Repeat("n", 201), "workspace:x", "12.34.5", "day", ",,% %", " 7 ")
	f.Fuzz(func(t *testing.T, name, scope, amount, period, thresholds, line string) {
		form := budgetForm{Name: strings.TrimSpace(name), Scope: scope, Amount: strings.TrimSpace(amount), Period: period,
			Thresholds: strings.TrimSpace(thresholds)}
		b, err := form.budget("ws_1")
		switch {
		case err == nil:
			if b.Amount <= 0 || b.WorkspaceID != "ws_1" {
				t.Fatalf("%+v: budget %+v", form, b)
			}
			if verr := b.Validate(); verr != nil && errs.KindOf(verr) != errs.Invalid {
				t.Fatalf("%+v: validation %v", form, verr)
			}
		case !errs.Is(err, "invalid_amount") && !errs.Is(err, "invalid_thresholds"):
			t.Fatalf("%+v: error %v", form, err)
		}
		a, err := parseAmountField(line, "invalid_amount", "the amount")
		switch {
		case err != nil && !errs.Is(err, "invalid_amount"):
			t.Fatalf("%q: error %v", line, err)
		case err == nil && strings.TrimSpace(line) == "" && a != 0:
			t.Fatalf("an empty field is %v", a)
		}
	})
}

// FuzzSafeNext: the ?next= of the login page, where a sign-in goes afterwards. It must
// stay on this site, however a browser reads it.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "/w/ws_1/usage?period=7d", "//evil.test", "/\\evil.test", "https://evil.test/", "/%2F%2Fevil.test",
		"/\t/evil.test", "/ /evil.test", "javascript:alert(1)", "/../../etc", "\\\\evil.test", "/w/x#//evil.test", "/\x00//evil.test", "/%5C%5Cevil.test"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://spectra.test/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither the input nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		// Browsers drop tabs and newlines and read \ as / before resolving a link.
		browser := strings.Map(func(r rune) rune {
			switch {
			case r == '\t' || r == '\n' || r == '\r':
				return -1
			case r == '\\':
				return '/'
			}
			return r
		}, strings.TrimLeftFunc(got, unicode.IsSpace))
		if strings.HasPrefix(browser, "//") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as %q: off site", next, got, browser)
		}
		u, err := base.Parse(browser)
		if err == nil && (u.Host != "spectra.test" || u.Scheme != "https") {
			t.Fatalf("safeNext(%q) = %q resolves to %v", next, got, u)
		}
		// The redirect the login form answers goes there too.
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest("POST", "/login", nil), got, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			t.Fatalf("safeNext(%q) = %q redirects to %q", next, got, loc)
		}
	})
}

// FuzzLoggedPath: whatever an invitation token looks like, and whatever path carries
// it, the access log never writes it: routed or not, the path is cut at "/invite/".
func FuzzLoggedPath(f *testing.F) {
	for _, s := range []string{"inv_7f3k2.1750000000.Zm9vYmFy", "a", "a/b", "%2F", "..", "a?b=c", "a#b", "é", "x/../../invite/y"} {
		f.Add("", s, true)
		f.Add("/x/..", s, false)
	}
	mux := http.NewServeMux()
	var routed string
	mux.HandleFunc("GET /invite/{token}", func(w http.ResponseWriter, r *http.Request) { routed = LoggedPath(r) })
	f.Fuzz(func(t *testing.T, before, token string, escape bool) {
		seg := token
		if escape {
			seg = url.PathEscape(token)
		}
		req, err := http.NewRequest("GET", "http://spectra.test"+before+"/invite/"+seg, nil)
		if err != nil || token == "" {
			return // not a request a server would read
		}
		path := req.URL.EscapedPath()
		i := strings.Index(path, "/invite/")
		if i < 0 || len(path) == i+len("/invite/") {
			return // the query or fragment took the token: the log never writes those
		}
		want := path[:i+len("/invite/")] + Redacted
		if got := LoggedPath(req); got != want { // as the access log sees it, before routing
			t.Fatalf("%q logged as %q, want %q", path, got, want)
		}
		routed = ""
		mux.ServeHTTP(httptest.NewRecorder(), req)
		if routed != "" && routed != "/invite/"+Redacted {
			t.Fatalf("%q routed and logged as %q", path, routed)
		}
	})
}

// TestPeriodWhereMidnightIsSkipped: in America/Havana the clocks jump from 00:00 to
// 01:00 when summer time starts (8 March 2026), so that day has no midnight. A day's
// start is then 01:00 of that day, not 23:00 of the day before (which time.Date gives,
// and from which stepping one day gave the same instant again: a 7-day period over that
// night looped forever). Found by FuzzParsePeriod.
func TestPeriodWhereMidnightIsSkipped(t *testing.T) {
	loc, err := time.LoadLocation("America/Havana")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	sat := time.Date(2026, 3, 7, 0, 0, 0, 0, loc)
	sun := addDays(sat, 1)
	if !sun.After(sat) || sun.Day() != 8 || sun.Hour() != 1 {
		t.Fatalf("the day after %v starts at %v", sat, sun)
	}
	if mon := addDays(sun, 1); mon.Day() != 9 || mon.Hour() != 0 {
		t.Fatalf("the day after %v starts at %v", sun, mon)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, loc)
	for _, raw := range []string{"period=7d", "period=30d", "period=month", "period=custom&from=2026-03-08&to=2026-03-08"} {
		q, _ := url.ParseQuery(raw)
		p, err := parsePeriod(q, "7d", now, loc)
		if err != nil {
			t.Fatal(err)
		}
		checkPeriod(t, raw, p, now)
	}
	q, _ := url.ParseQuery("period=custom&from=2026-03-08&to=2026-03-08")
	p, _ := parsePeriod(q, "7d", now, loc)
	if p.From != "2026-03-08" || p.To != "2026-03-08" || p.End.Sub(p.Start) != 23*time.Hour || p.Step != time.Hour {
		t.Fatalf("8 March in Havana: %+v", p)
	}
	today, _ := parsePeriod(url.Values{"period": {"today"}}, "7d", time.Date(2026, 3, 8, 9, 0, 0, 0, loc), loc)
	if today.From != "2026-03-08" || today.Start.Hour() != 1 {
		t.Fatalf("today on 8 March in Havana: %+v", today)
	}
}
