package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"spectra/internal/money"
)

// orgFixture is a workspace with three days of usage over two models, two keys and two projects.
type orgFixture struct {
	ws           string
	admin        keyOut
	keys         [2]keyOut
	start, end   time.Time // whole UTC days
	startS, endS int64
}

func newOrgFixture(e *env) orgFixture {
	e.t.Helper()
	f := orgFixture{ws: e.workspace(map[string]any{"name": "Acme", "timezone": "Asia/Tokyo"}).ID}
	e.price("gpt-a", "2.50", "1.25", "10.00")
	e.price("gpt-b", "0.15", "0.075", "0.60")
	f.admin = e.key(f.ws, map[string]any{"name": "admin", "kind": "admin"})
	f.keys[0] = e.key(f.ws, map[string]any{"name": "web", "project": "proj_web"})
	f.keys[1] = e.key(f.ws, map[string]any{"name": "batch", "project": "proj_batch", "member_id": "user_bob"})
	f.end = time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	f.start = f.end.AddDate(0, 0, -3)
	f.startS, f.endS = f.start.Unix(), f.end.Unix()
	n := 0
	for day := range 3 {
		for i := range 7 {
			at := f.start.AddDate(0, 0, day).Add(time.Duration(i*3+1) * time.Hour).Add(17 * time.Minute)
			model := []string{"gpt-a", "gpt-b"}[i%2]
			n++
			event := ev(fmt.Sprint("ev-", n), model, at, int64(1000*n+7*i), int64(100*i), int64(333*n+i))
			event["cache_write_tokens"] = 11 * i
			if res := e.send(f.keys[i%2].Key, event); res.Accepted != 1 {
				e.t.Fatalf("ingest: %+v", res)
			}
		}
	}
	return f
}

// TestOrganizationEndpoints reads the OpenAI-shaped endpoints with OpenAI's own Go SDK and
// as raw JSON, and checks their totals equal /api/v1 usage to the micro-unit.
func TestOrganizationEndpoints(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := newOrgFixture(e)
		ref := e.usage(f.ws, fmt.Sprintf("start=%d&end=%d&tz=UTC&group_by=model", f.startS, f.endS))
		if len(ref.Buckets) != 3 {
			t.Fatalf("reference usage: %+v", ref)
		}

		// OpenAI's SDK parses the completions page, two buckets per page.
		client := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAdminAPIKey(f.admin.Key), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		type totals struct{ requests, input, cached, output int64 }
		got := map[string]totals{} // day/model → totals
		page := ""
		for pages := 1; ; pages++ {
			params := openai.AdminOrganizationUsageCompletionsParams{StartTime: f.startS, EndTime: openai.Int(f.endS),
				BucketWidth: "1d", GroupBy: []string{"model"}, Limit: openai.Int(2)}
			if page != "" {
				params.Page = openai.String(page)
			}
			res, err := client.Admin.Organization.Usage.Completions(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			if (pages == 1) != res.HasMore || len(res.Data) != 3-pages {
				t.Fatalf("page %d: has_more %v, %d buckets", pages, res.HasMore, len(res.Data))
			}
			for _, b := range res.Data {
				for _, r := range b.Results {
					c := r.AsOrganizationUsageCompletionsResult()
					k := fmt.Sprint(time.Unix(b.StartTime, 0).UTC().Day(), "/", c.Model)
					got[k] = totals{c.NumModelRequests, c.InputTokens, c.InputCachedTokens, c.OutputTokens}
				}
			}
			if !res.HasMore {
				break
			}
			page = res.NextPage
		}
		for _, b := range ref.Buckets {
			for _, r := range b.Results {
				k := fmt.Sprint(b.Start.Day(), "/", *r.Model)
				if w := (totals{r.Requests, r.InputTokens, r.CachedInputTokens, r.OutputTokens}); got[k] != w {
					t.Errorf("%s: completions %+v, usage %+v", k, got[k], w)
				}
				delete(got, k)
			}
		}
		if len(got) != 0 {
			t.Errorf("completions results not in usage: %v", got)
		}

		// Costs: amount.value is an exact JSON number; its sum equals the usage cost.
		var costs struct {
			Object string `json:"object"`
			Data   []struct {
				Object    string `json:"object"`
				StartTime int64  `json:"start_time"`
				EndTime   int64  `json:"end_time"`
				Results   []struct {
					Object string `json:"object"`
					Amount struct {
						Value    any    `json:"value"`
						Currency string `json:"currency"`
					} `json:"amount"`
					LineItem  *string `json:"line_item"`
					ProjectID *string `json:"project_id"`
				} `json:"results"`
			} `json:"data"`
			HasMore  bool    `json:"has_more"`
			NextPage *string `json:"next_page"`
		}
		e.call("GET", fmt.Sprintf("/v1/organization/costs?start_time=%d&end_time=%d&group_by=line_item", f.startS, f.endS), f.admin.Key, nil, 200, &costs)
		if costs.Object != "page" || len(costs.Data) != 3 || costs.HasMore || costs.NextPage != nil {
			t.Fatalf("costs page: %+v", costs)
		}
		var costSum, usageSum money.Amount
		for i, b := range costs.Data {
			if b.Object != "bucket" || b.StartTime != f.startS+int64(i)*86400 || b.EndTime != b.StartTime+86400 || len(b.Results) != 2 {
				t.Fatalf("bucket %d: %+v", i, b)
			}
			for _, r := range b.Results {
				num, ok := r.Amount.Value.(json.Number)
				if !ok || r.Object != "organization.costs.result" || r.Amount.Currency != "usd" || r.LineItem == nil || r.ProjectID != nil {
					t.Fatalf("cost result: %+v", r)
				}
				a, err := money.Parse(num.String())
				if err != nil {
					t.Fatalf("amount.value %s: %v", num, err)
				}
				costSum += a
			}
		}
		for _, b := range ref.Buckets {
			for _, r := range b.Results {
				a, _ := money.Parse(r.Cost)
				usageSum += a
			}
		}
		if costSum != usageSum || costSum == 0 {
			t.Fatalf("costs sum to %s, usage to %s", costSum, usageSum)
		}
		var bal balanceOut
		e.call("GET", "/api/v1/workspaces/"+f.ws+"/balance", f.admin.Key, nil, 200, &bal)
		if bal.Balance != (-usageSum).String() {
			t.Fatalf("balance %s, usage %s", bal.Balance, usageSum)
		}
	})
}

// TestOrganizationShape checks the raw JSON of a completions page field by field.
func TestOrganizationShape(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := newOrgFixture(e)
		day := f.startS
		path := fmt.Sprintf("/v1/organization/usage/completions?start_time=%d&end_time=%d&group_by=api_key_id&group_by=project_id&api_key_ids[]=%s", day, day+86400, f.keys[1].ID)
		r := e.call("GET", path, f.admin.Key, nil, 200, nil)
		var page map[string]any
		d := json.NewDecoder(bytes.NewReader(r.body))
		d.UseNumber()
		if err := d.Decode(&page); err != nil {
			t.Fatal(err)
		}
		data := page["data"].([]any)
		if page["object"] != "page" || page["has_more"] != false || page["next_page"] != nil || len(data) != 1 {
			t.Fatalf("page: %s", r.body)
		}
		bucket := data[0].(map[string]any)
		results := bucket["results"].([]any)
		if bucket["object"] != "bucket" || bucket["start_time"] != json.Number(fmt.Sprint(day)) || len(results) != 1 {
			t.Fatalf("bucket: %s", r.body)
		}
		res := results[0].(map[string]any)
		// Events 2, 4 and 6 of the first day: i = 1, 3, 5, n = i+1.
		want := map[string]any{
			"object": "organization.usage.completions.result", "input_tokens": json.Number("12063"),
			"output_tokens": json.Number("4005"), "input_cached_tokens": json.Number("900"), "input_cache_write_tokens": json.Number("99"),
			"input_audio_tokens": json.Number("0"), "output_audio_tokens": json.Number("0"), "num_model_requests": json.Number("3"),
			"project_id": "proj_batch", "user_id": nil, "api_key_id": f.keys[1].ID, "model": nil, "batch": nil,
		}
		if len(res) != len(want) {
			t.Errorf("result has %d fields, want %d: %v", len(res), len(want), res)
		}
		for k, w := range want {
			if v, ok := res[k]; !ok || v != w {
				t.Errorf("%s = %v, want %v", k, v, w)
			}
		}

		// The operator reads the same with workspace_id.
		e.call("GET", path+"&workspace_id="+f.ws, operatorToken, nil, 200, nil)
		e.wantError("GET", path+"&workspace_id=ws_nope", operatorToken, nil, 404, "workspace_not_found")
	})
}
