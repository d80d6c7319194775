package web

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestRequestsLink(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	now := time.Date(2025, 3, 31, 10, 0, 0, 0, berlin)
	week, err := parsePeriod(url.Values{"period": {"7d"}}, "7d", now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := parsePeriod(url.Values{"from": {"2025-03-01"}, "to": {"2025-03-10"}}, "7d", now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	day := dayStart(2025, 3, 30, berlin) // 23 hours: the clocks go forward at 02:00
	hour := time.Date(2025, 3, 30, 3, 0, 0, 0, berlin)
	for _, c := range []struct {
		name string
		f    drillFilter
		want string
	}{
		{"nothing", drillFilter{}, "/w/ws_1/requests"},
		{"a preset period stays a preset", drillFilter{Period: week, Model: "gpt-4o"}, "/w/ws_1/requests?model=gpt-4o&period=7d"},
		{"a custom period keeps its dates", drillFilter{Period: custom, Key: "key_9"}, "/w/ws_1/requests?from=2025-03-01&key=key_9&period=custom&to=2025-03-10"},
		{"a day bucket replaces the period, in the workspace's zone (a 23-hour day)",
			drillFilter{Period: week, Loc: berlin, Member: "u_1"}.bucket(day, addDays(day, 1)),
			"/w/ws_1/requests?end=2025-03-31T00%3A00&member=u_1&start=2025-03-30T00%3A00"},
		{"an hour bucket", drillFilter{Period: week, Loc: berlin}.bucket(hour, hour.Add(time.Hour)),
			"/w/ws_1/requests?end=2025-03-30T04%3A00&start=2025-03-30T03%3A00"},
		{"a bucket without a zone is written in UTC", drillFilter{}.bucket(day, addDays(day, 1)),
			"/w/ws_1/requests?end=2025-03-30T22%3A00&start=2025-03-29T23%3A00"},
		{"every filter, escaped", drillFilter{Period: week, Model: "a&b", Key: "k", Member: "x@y.test", Project: "p q", Status: "refused", Sort: "cost"},
			"/w/ws_1/requests?key=k&member=x%40y.test&model=a%26b&period=7d&project=p+q&sort=cost&status=refused"},
	} {
		if got := requestsLink("ws_1", c.f); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// When the clocks go back, 01:00 comes twice: the second is written with its offset.
	ny := mustLoc(t, "America/New_York")
	first := time.Date(2025, 11, 2, 5, 0, 0, 0, time.UTC) // 01:00 EDT
	second := first.Add(time.Hour)                        // 01:00 EST
	for _, c := range []struct {
		start, end time.Time
		want       string
	}{
		{first, second, "/w/ws_1/requests?end=2025-11-02T01%3A00%3A00-05%3A00&start=2025-11-02T01%3A00"},
		{second, second.Add(time.Hour), "/w/ws_1/requests?end=2025-11-02T02%3A00&start=2025-11-02T01%3A00%3A00-05%3A00"},
	} {
		if got := requestsLink("ws_1", drillFilter{Loc: ny}.bucket(c.start, c.end)); got != c.want {
			t.Errorf("the repeated hour:\n got %s\nwant %s", got, c.want)
		}
	}
	if got := requestsLink("a/b", drillFilter{}); got != "/w/a%2Fb/requests" {
		t.Errorf("workspace id not escaped: %s", got)
	}
}

func TestDrillWith(t *testing.T) {
	base := drillFilter{Project: "p"}
	for _, dim := range metering.Dimensions {
		g, ok := base.with(dim, "v")
		if !ok {
			t.Fatalf("%s: no slice", dim)
		}
		got := map[string]string{metering.DimModel: g.Model, metering.DimKey: g.Key, metering.DimMember: g.Member, metering.DimProject: g.Project}
		if got[dim] != "v" {
			t.Errorf("%s: %+v", dim, g)
		}
		if dim != metering.DimProject && g.Project != "p" {
			t.Errorf("%s: lost the project filter: %+v", dim, g)
		}
	}
	// Usage without a value (no key, no member, no project) is asked for as "-"; every
	// model has a name, so an empty one has no slice.
	if _, ok := base.with(metering.DimModel, ""); ok {
		t.Error("an empty model has a link")
	}
	if _, ok := base.with("colour", "red"); ok {
		t.Error("an unknown dimension has a link")
	}
	rows := []breakdownRow{{Value: "k1"}, {Value: ""}}
	linkRows("ws", rows, metering.DimKey, base)
	if rows[0].Link != "/w/ws/requests?key=k1&project=p" || rows[1].Link != "/w/ws/requests?key=-&project=p" {
		t.Errorf("links: %q, %q", rows[0].Link, rows[1].Link)
	}
	rows = []breakdownRow{{Value: ""}}
	linkRows("ws", rows, metering.DimMember, drillFilter{})
	if rows[0].Link != "/w/ws/requests?member=-" {
		t.Errorf("(no member): %q", rows[0].Link)
	}
}

func TestChartLabels(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	start := time.Date(2025, 11, 30, 15, 0, 0, 0, ny)
	if l, tick := chartLabels(start, start.Add(time.Hour), time.Hour); l != "Sun 30 Nov 15:00–16:00" || tick != "15:00" {
		t.Errorf("hour: %q %q", l, tick)
	}
	day := midnight(start, ny)
	if l, tick := chartLabels(day, addDays(day, 1), 24*time.Hour); l != "Sun 30 Nov" || tick != "30 Nov" {
		t.Errorf("day: %q %q", l, tick)
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]*/requests[^"]*)"`)

// TestDrillLinksOnPages opens the pages with breakdowns and charts: every chart bucket
// has a link to its day's requests in the workspace's zone, every breakdown row with a
// value links to its slice in the page's period, and each link opens the request log.
func TestDrillLinksOnPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleOwner].Email)
	ws := "/w/" + f.ws + "/"
	ny := mustLoc(t, "America/New_York")

	st, body := c.get(ws + "?period=7d")
	if st != http.StatusOK {
		t.Fatalf("overview: %d", st)
	}
	m := regexp.MustCompile(`data-chart="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no chart")
	}
	var chart chartData
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &chart); err != nil {
		t.Fatal(err)
	}
	if len(chart.X) != 7 || len(chart.Links) != 7 || len(chart.Labels) != 7 || len(chart.Ticks) != 7 {
		t.Fatalf("chart: %d buckets, %d links, %d labels, %d ticks", len(chart.X), len(chart.Links), len(chart.Labels), len(chart.Ticks))
	}
	for i, x := range chart.X {
		start := time.Unix(x, 0).In(ny)
		want := ws + "requests?end=" + url.QueryEscape(addDays(start, 1).Format(drillTimeLayout)) + "&start=" + url.QueryEscape(start.Format(drillTimeLayout))
		if chart.Links[i] != want {
			t.Errorf("bucket %d links to %s, want %s", i, chart.Links[i], want)
		}
		if chart.Labels[i] != start.Format(layoutDay) {
			t.Errorf("bucket %d is labelled %q", i, chart.Labels[i])
		}
	}
	if chart.All != ws+"requests?period=7d" {
		t.Errorf("the chart's own link: %s", chart.All)
	}
	links := map[string]bool{}
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		links[html.UnescapeString(m[1])] = true
	}
	k := f.keys["member-key"]
	for _, want := range []string{
		ws + "requests?model=gpt-test&period=7d",
		ws + "requests?model=mini-test&period=7d",
		ws + "requests?key=" + url.QueryEscape(k.ID) + "&period=7d",
		ws + "requests?member=" + url.QueryEscape(k.MemberID) + "&period=7d",
		ws + "requests?period=7d&project=" + url.QueryEscape(k.Project),
		chart.Links[6], // the day's row of the exact table
	} {
		if !links[want] {
			t.Errorf("the overview has no link %s; it has %v", want, links)
		}
	}

	// Usage keeps its filters in every link.
	_, body = c.get(ws + "usage?period=30d&model=gpt-test&group=key")
	for _, want := range []string{
		ws + "requests?model=gpt-test&period=30d",                                   // "See these requests"
		ws + "requests?key=" + url.QueryEscape(k.ID) + "&model=gpt-test&period=30d", // the group's row
	} {
		if !strings.Contains(body, html.EscapeString(want)) {
			t.Errorf("usage has no link %s", want)
		}
	}
	if !strings.Contains(body, `href="`+html.EscapeString(ws+"requests?end=")) || !strings.Contains(body, html.EscapeString("&key="+url.QueryEscape(k.ID)+"&model=gpt-test&start=")) {
		t.Error("usage's table rows do not link to their bucket and group")
	}

	// Keys and members link each row's requests in the page's period.
	_, body = c.get(ws + "keys?period=30d")
	if !strings.Contains(body, html.EscapeString(ws+"requests?key="+url.QueryEscape(k.ID)+"&period=30d")) {
		t.Error("keys: no link to the key's requests")
	}
	_, body = c.get(ws + "members")
	if !strings.Contains(body, html.EscapeString(ws+"requests?member="+url.QueryEscape(k.MemberID)+"&period=month")) {
		t.Error("members: no link to the member's requests")
	}

	// The request log opens at each of them and shows only the slice.
	_, body = c.get(ws + "requests?model=mini-test&period=7d")
	if strings.Contains(body, `data-label="Model">gpt-test<`) || !strings.Contains(body, `data-label="Model">mini-test<`) {
		t.Error("the model's link does not filter the log")
	}
	// The hour that comes twice opens too (the request log reads its RFC 3339 end).
	first := time.Date(2025, 11, 2, 5, 0, 0, 0, time.UTC)
	links[requestsLink(f.ws, drillFilter{Loc: ny}.bucket(first, first.Add(time.Hour)))] = true
	for l := range links {
		if st, _ := c.get(l); st != http.StatusOK {
			t.Errorf("%s: %d", l, st)
		}
	}
}
