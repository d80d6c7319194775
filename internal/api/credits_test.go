package api_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

type lotOut struct {
	ID        int64   `json:"id"`
	Kind      string  `json:"kind"`
	Source    string  `json:"source"`
	Amount    string  `json:"amount"`
	Remaining string  `json:"remaining"`
	Used      string  `json:"used"`
	Expired   string  `json:"expired"`
	ExpiresAt *string `json:"expires_at"`
	CreatedAt string  `json:"created_at"`
}

type creditsOut struct {
	Credits    []lotOut `json:"credits"`
	NextCursor *string  `json:"next_cursor"`
	Currency   string   `json:"currency"`
}

// credit posts a transfer into ws's wallet that creates a lot of kind, expiring at exp
// (zero: never).
func (e *env) credit(ws string, from ledger.AccountID, amount money.Amount, kind ledger.CreditKind, exp time.Time, key string) {
	e.t.Helper()
	k := ledger.KindGrant
	if from == ledger.Payments {
		k = ledger.KindPayment
	}
	if _, _, err := e.db.Transfer(context.Background(), ledger.TransferRequest{Key: key, Kind: k, From: from, To: ledger.Wallet(ws),
		Amount: amount, WorkspaceID: ws, CreditKind: kind, ExpiresAt: exp}); err != nil {
		e.t.Fatal(err)
	}
}

// TestCreditsAndBalanceSplit: the credits route lists a wallet's lots, open ones in spend
// order (promotional first, then earliest expiry, never-expiring last) and then the spent
// and expired ones; usage draws on them in that order; the balance splits into paid,
// promotional and the part expiring within 30 days. The list pages with a cursor, and
// another workspace's lots never show.
func TestCreditsAndBalanceSplit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		other := e.workspace(map[string]any{"name": "Other"}).ID
		e.price("gpt-a", "1.00", "0.50", "2.00")
		key := e.key(ws, map[string]any{"name": "ci"})
		e.credit(ws, ledger.Grants, 10*money.Scale, ledger.CreditPaid, time.Time{}, "paid-forever")          // lot 1
		e.credit(ws, ledger.Payments, 5*money.Scale, ledger.CreditPaid, t0.Add(60*24*time.Hour), "paid-60d") // lot 2
		e.credit(ws, ledger.Grants, 2*money.Scale, ledger.CreditPromotional, t0.Add(20*24*time.Hour), "promo-20d")
		e.credit(ws, ledger.Grants, 3*money.Scale, ledger.CreditPromotional, t0.Add(10*24*time.Hour), "promo-10d")
		e.credit(other, ledger.Grants, 7*money.Scale, ledger.CreditPromotional, time.Time{}, "other")
		// 3.5 of usage: the 10-day promotional lot (3), then 0.5 of the 20-day one.
		e.send(key.Key, ev("e1", "gpt-a", t0.Add(-time.Hour), 3_500_000, 0, 0))

		var c creditsOut
		e.call("GET", "/api/v1/workspaces/"+ws+"/credits", operatorToken, nil, 200, &c)
		type row struct{ kind, source, amount, remaining, used string }
		want := []row{
			{"promotional", "grant", "2.000000", "1.500000", "0.500000"},
			{"paid", "payment", "5.000000", "5.000000", "0.000000"},
			{"paid", "grant", "10.000000", "10.000000", "0.000000"},
			{"promotional", "grant", "3.000000", "0.000000", "3.000000"},
		}
		if len(c.Credits) != len(want) || c.Currency != "USD" || c.NextCursor != nil {
			t.Fatalf("credits = %+v", c)
		}
		for i, w := range want {
			l := c.Credits[i]
			if (row{l.Kind, l.Source, l.Amount, l.Remaining, l.Used}) != w || l.Expired != "0.000000" {
				t.Errorf("lot %d = %+v, want %+v", i, l, w)
			}
		}
		if c.Credits[2].ExpiresAt != nil || c.Credits[0].ExpiresAt == nil || *c.Credits[0].ExpiresAt != "2025-04-01T12:00:00Z" {
			t.Errorf("expiries: %v %v", c.Credits[2].ExpiresAt, c.Credits[0].ExpiresAt)
		}

		var b struct {
			Balance              string `json:"balance"`
			Paid                 string `json:"paid"`
			Promotional          string `json:"promotional"`
			ExpiringWithin30Days string `json:"expiring_within_30_days"`
			Currency             string `json:"currency"`
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/balance", operatorToken, nil, 200, &b)
		if b.Balance != "16.500000" || b.Paid != "15.000000" || b.Promotional != "1.500000" || b.ExpiringWithin30Days != "1.500000" || b.Currency != "USD" {
			t.Errorf("balance = %+v", b)
		}

		// Pages of one: the same lots in the same order, then no cursor.
		var paged []lotOut
		cursor := ""
		for range 10 {
			var p creditsOut
			e.call("GET", "/api/v1/workspaces/"+ws+"/credits?limit=1&cursor="+cursor, operatorToken, nil, 200, &p)
			paged = append(paged, p.Credits...)
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		if len(paged) != len(c.Credits) {
			t.Fatalf("paged %d lots, listed %d", len(paged), len(c.Credits))
		}
		for i := range paged {
			if paged[i].ID != c.Credits[i].ID {
				t.Errorf("page %d: lot %d, want %d", i, paged[i].ID, c.Credits[i].ID)
			}
		}

		// The workspace's admin key reads them; another workspace's key does not; a
		// workspace that does not exist is 404.
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		otherKey := e.key(other, map[string]any{"name": "admin", "kind": "admin"})
		e.call("GET", "/api/v1/workspaces/"+ws+"/credits", admin.Key, nil, 200, &c)
		var o creditsOut
		e.call("GET", "/api/v1/workspaces/"+other+"/credits", otherKey.Key, nil, 200, &o)
		if len(o.Credits) != 1 || o.Credits[0].Amount != "7.000000" {
			t.Errorf("the other workspace's credits = %+v", o.Credits)
		}
		for _, l := range c.Credits {
			if l.ID == o.Credits[0].ID {
				t.Errorf("lot %d of the other workspace is listed", l.ID)
			}
		}
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/credits", otherKey.Key, nil, 403, "forbidden_workspace")
		e.wantError("GET", "/api/v1/workspaces/ws_nope/credits", operatorToken, nil, 404, "workspace_not_found")
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/credits?limit=0", operatorToken, nil, 400, "invalid_limit")
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/credits?limit=501", operatorToken, nil, 400, "invalid_limit")
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/credits?cursor=nope", operatorToken, nil, 400, "invalid_cursor")
		// A cursor naming another workspace's lot is not a cursor of this list.
		var one creditsOut
		e.call("GET", "/api/v1/workspaces/"+other+"/credits?limit=1", operatorToken, nil, 200, &one)
		e.call("GET", "/api/v1/workspaces/"+ws+"/credits?limit=1", operatorToken, nil, 200, &one)
		e.wantError("GET", "/api/v1/workspaces/"+other+"/credits?cursor="+*one.NextCursor, operatorToken, nil, 400, "invalid_cursor")
	})
}

// TestCreditsExpired: an expired lot is listed after the open ones with what expired,
// and no longer counts in the balance's split.
func TestCreditsExpired(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.credit(ws, ledger.Grants, 2*money.Scale, ledger.CreditPromotional, t0.Add(time.Hour), "promo")
		e.credit(ws, ledger.Payments, money.Scale, ledger.CreditPaid, time.Time{}, "paid")
		e.clock.Set(t0.Add(2 * time.Hour))
		if _, err := e.db.ExpireLots(context.Background(), e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		var c creditsOut
		e.call("GET", "/api/v1/workspaces/"+ws+"/credits", operatorToken, nil, 200, &c)
		if len(c.Credits) != 2 || c.Credits[0].Kind != "paid" || c.Credits[1].Expired != "2.000000" || c.Credits[1].Remaining != "0.000000" {
			t.Fatalf("credits = %+v", c.Credits)
		}
		b := struct {
			Balance     string `json:"balance"`
			Paid        string `json:"paid"`
			Promotional string `json:"promotional"`
		}{}
		e.call("GET", "/api/v1/workspaces/"+ws+"/balance", operatorToken, nil, 200, &b)
		if b.Balance != "1.000000" || b.Paid != "1.000000" || b.Promotional != "0.000000" {
			t.Errorf("balance = %+v", b)
		}
	})
}
