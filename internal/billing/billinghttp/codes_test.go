package billinghttp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
)

// TestCodeRoutes: the operator lists batches counted by state and a batch's codes with
// their states (never their text), pages both, and disables a code; refusals have
// their codes, and only the operator passes.
func TestCodeRoutes(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ctx := context.Background()
		ws := s.Workspace(t, "Acme", "")
		var batches []billing.CodeBatch
		for i := range 2 {
			s.Clock.Set(s.Clock.Now().Add(time.Minute))
			b, err := s.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: billingtest.Amount("5"), Count: 3, ExpiresAt: s.Clock.Now().Add(time.Hour), Note: "b" + string(rune('0'+i))})
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
		}
		if _, err := s.Service.Redeem(ctx, ws.ID, batches[0].Codes[0], ""); err != nil {
			t.Fatal(err)
		}
		want(t, s.do(t, "GET", "/api/v1/redemption-codes", "billing:"+ws.ID, ""), 403, "operator_required")

		r := s.do(t, "GET", "/api/v1/redemption-codes?limit=1", "operator", "")
		want(t, r, 200, "")
		var page struct {
			Batches    []billing.CodeBatchSummary `json:"batches"`
			NextCursor string                     `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Batches) != 1 || page.Batches[0].BatchID != batches[1].BatchID || page.NextCursor == "" {
			t.Fatalf("first page: %s", r.Body)
		}
		r = s.do(t, "GET", "/api/v1/redemption-codes?limit=1&before="+page.NextCursor, "operator", "")
		page.NextCursor = ""
		if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Batches) != 1 || page.Batches[0].Redeemed != 1 || page.Batches[0].Unused != 2 || page.NextCursor != "" {
			t.Fatalf("second page: %s", r.Body)
		}

		r = s.do(t, "GET", "/api/v1/redemption-codes/batches/"+batches[0].BatchID, "operator", "")
		want(t, r, 200, "")
		var codes struct {
			Codes []billing.Code `json:"codes"`
		}
		if err := json.Unmarshal(r.Body, &codes); err != nil || len(codes.Codes) != 3 {
			t.Fatalf("codes: %s", r.Body)
		}
		for _, text := range batches[0].Codes {
			if strings.Contains(string(r.Body), text) {
				t.Fatalf("a code's text is listed: %s", r.Body)
			}
		}
		var unused, redeemed string
		for _, c := range codes.Codes {
			switch c.State {
			case billing.CodeUnused:
				unused = c.ID
			case billing.CodeRedeemed:
				redeemed = c.ID
				if c.RedeemedBy != ws.ID || c.RedeemedByName != "Acme" {
					t.Fatalf("redeemed code %+v", c)
				}
			}
		}
		r = s.do(t, "POST", "/api/v1/redemption-codes/"+unused+"/disable", "operator", "")
		want(t, r, 200, "")
		if !strings.Contains(string(r.Body), `"state":"disabled"`) {
			t.Fatalf("disable: %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/redemption-codes/"+unused+"/disable", "operator", ""), 200, "")
		want(t, s.do(t, "POST", "/api/v1/redemption-codes/"+redeemed+"/disable", "operator", ""), 409, "code_already_redeemed")
		want(t, s.do(t, "POST", "/api/v1/redemption-codes/code_nope/disable", "operator", ""), 404, "code_not_found")
		want(t, s.do(t, "GET", "/api/v1/redemption-codes/batches/batch_nope", "operator", ""), 404, "code_batch_not_found")
		want(t, s.do(t, "GET", "/api/v1/redemption-codes?limit=0", "operator", ""), 400, "invalid_limit")
		want(t, s.do(t, "GET", "/api/v1/redemption-codes?limit=201", "operator", ""), 400, "invalid_limit")
	})
}
