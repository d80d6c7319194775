package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
)

// apiUsage answers a GET /api/v1/workspaces/{id}/usage path as the JSON API does: the
// same parameters (start, end, bucket, tz, group_by, models, key_ids, projects,
// members) into metering.Service.Usage, encoded as JSON. (internal/api is mounted here
// once it builds in this tree; its handler is this call and an encoder.)
func apiUsage(t *testing.T, e *env, path string) []byte {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 5 || parts[0] != "api" || parts[4] != "usage" {
		t.Fatalf("not a usage API path: %s", path)
	}
	q := u.Query()
	start, err1 := time.Parse(time.RFC3339, q.Get("start"))
	end, err2 := time.Parse(time.RFC3339, q.Get("end"))
	loc, err3 := time.LoadLocation(q.Get("tz"))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("API path %s: %v %v %v", path, err1, err2, err3)
	}
	bucket := 24 * time.Hour
	if q.Get("bucket") == "1h" {
		bucket = time.Hour
	}
	list := func(name string) []string {
		if v := q.Get(name); v != "" {
			return strings.Split(v, ",")
		}
		return nil
	}
	bs, err := e.metering.Usage(context.Background(), metering.UsageQuery{WorkspaceID: parts[3], Start: start, End: end, Bucket: bucket,
		Location: loc, GroupBy: list("group_by"), Filter: metering.Filter{Models: list("models"), Keys: list("key_ids"),
			Projects: list("projects"), Members: list("members")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"buckets": bs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// usageLine is one (bucket, group) of a usage answer, every counter as text.
type usageLine struct{ start, group string }

// compareCSVWithAPI checks that the CSV rows (header first) are exactly the non-empty
// results of the API's answer for apiPath: the same buckets, groups and counters, and
// costs equal to the micro-unit. groupCol names the CSV column of the group ("" when
// the export is not grouped).
func compareCSVWithAPI(t *testing.T, e *env, rows [][]string, apiPath, groupCol string) {
	t.Helper()
	var api struct {
		Buckets []struct {
			Start   time.Time `json:"start"`
			Results []struct {
				metering.Totals
			} `json:"results"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(apiUsage(t, e, apiPath), &api); err != nil {
		t.Fatal(err)
	}
	// The group's value is read by its JSON name (model, key_id, project, member).
	var raw struct {
		Buckets []struct {
			Results []map[string]any `json:"results"`
		} `json:"buckets"`
	}
	json.Unmarshal(apiUsage(t, e, apiPath), &raw)
	want := map[usageLine]string{}
	for i, b := range api.Buckets {
		for j, r := range b.Results {
			g := ""
			if groupCol != "" {
				v, _ := raw.Buckets[i].Results[j][groupCol].(string)
				g = v
			}
			want[usageLine{b.Start.UTC().Format(time.RFC3339), g}] = counters(r.Totals)
		}
	}
	header := rows[0]
	col := func(name string) int {
		i := slices.Index(header, name)
		if i < 0 {
			t.Fatalf("CSV has no column %s: %v", name, header)
		}
		return i
	}
	got := map[usageLine]string{}
	for _, row := range rows[1:] {
		start, err := time.Parse(time.RFC3339, row[col("bucket_start")])
		if err != nil {
			t.Fatal(err)
		}
		g := ""
		if groupCol != "" {
			g = strings.TrimPrefix(row[col(groupCol)], "'")
		}
		cost, err := money.Parse(row[col("cost")])
		if err != nil {
			t.Fatalf("CSV cost %q: %v", row[col("cost")], err)
		}
		line := usageLine{start.UTC().Format(time.RFC3339), g}
		if _, dup := got[line]; dup {
			t.Errorf("CSV repeats %v", line)
		}
		got[line] = strings.Join([]string{row[col("requests")], row[col("input_tokens")], row[col("cached_input_tokens")],
			row[col("cache_write_tokens")], row[col("output_tokens")], row[col("reasoning_tokens")], cost.String()}, " ")
	}
	if len(got) != len(want) {
		t.Errorf("CSV has %d lines, the API %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%v: CSV %q, API %q", k, got[k], w)
		}
	}
}

func counters(t metering.Totals) string {
	return fmt.Sprintf("%d %d %d %d %d %d %s", t.Requests, t.InputTokens, t.CachedInputTokens, t.CacheWriteTokens, t.OutputTokens,
		t.ReasoningTokens, t.Cost.String())
}

// sumCSVCost adds the cost column exactly.
func sumCSVCost(t *testing.T, rows [][]string) string {
	t.Helper()
	i := slices.Index(rows[0], "cost")
	var sum money.Amount
	for _, r := range rows[1:] {
		a, err := money.Parse(r[i])
		if err != nil {
			t.Fatal(err)
		}
		sum += a
	}
	return sum.String()
}
