package api_test

import (
	"fmt"
	"testing"
	"time"

	"spectra/internal/money"
)

// TestTransactionsPagination pages through a wallet's entries newest first and checks the
// running balance.
func TestTransactionsPagination(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.price("gpt-a", "1.00", "0.50", "2.00")
		key := e.key(ws, map[string]any{"name": "ci"})
		for i, amount := range []string{"1.00", "2.00", "3.00"} {
			e.grant(ws, amount, fmt.Sprint("g", i))
			e.send(key.Key, ev(fmt.Sprint("e", i), "gpt-a", t0.Add(-time.Hour), 250_000, 0, 0)) // 0.250000 each
		}
		type tx struct {
			ID           int64     `json:"id"`
			Kind         string    `json:"kind"`
			Amount       string    `json:"amount"`
			BalanceAfter string    `json:"balance_after"`
			Note         string    `json:"note"`
			Time         time.Time `json:"time"`
		}
		var all []tx
		cursor := ""
		pages := 0
		for {
			var page struct {
				Transactions []tx    `json:"transactions"`
				NextCursor   *string `json:"next_cursor"`
			}
			e.call("GET", "/api/v1/workspaces/"+ws+"/transactions?limit=4&cursor="+cursor, operatorToken, nil, 200, &page)
			pages++
			all = append(all, page.Transactions...)
			if page.NextCursor == nil {
				break
			}
			if len(page.Transactions) != 4 {
				t.Fatalf("a page with a next cursor holds %d entries", len(page.Transactions))
			}
			cursor = *page.NextCursor
		}
		if pages != 2 || len(all) != 6 {
			t.Fatalf("%d pages, %d entries", pages, len(all))
		}
		kinds := ""
		for i, x := range all {
			kinds += x.Kind + " "
			after, _ := money.Parse(x.BalanceAfter)
			amount, _ := money.Parse(x.Amount)
			var before money.Amount
			if i+1 < len(all) {
				before, _ = money.Parse(all[i+1].BalanceAfter)
			}
			if after != before+amount {
				t.Errorf("entry %d: %s after %s, but the one before left %s", i, x.Amount, x.BalanceAfter, all[min(i+1, len(all)-1)].BalanceAfter)
			}
			if i > 0 && x.Time.After(all[i-1].Time) {
				t.Errorf("entry %d is newer than entry %d", i, i-1)
			}
		}
		if kinds != "usage grant usage grant usage grant " {
			t.Errorf("kinds newest first: %s", kinds)
		}
		if all[0].BalanceAfter != "5.250000" || all[0].Amount != "-0.250000" || all[5].Amount != "1.000000" {
			t.Errorf("entries: %+v", all)
		}
		if b := e.balance(ws); b.Balance != all[0].BalanceAfter {
			t.Errorf("balance %s, newest entry leaves %s", b.Balance, all[0].BalanceAfter)
		}
		// An exact last page has no next cursor.
		var page struct {
			Transactions []tx    `json:"transactions"`
			NextCursor   *string `json:"next_cursor"`
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/transactions?limit=6", operatorToken, nil, 200, &page)
		if len(page.Transactions) != 6 || page.NextCursor != nil {
			t.Errorf("limit=6: %d entries, next %v", len(page.Transactions), page.NextCursor)
		}
	})
}
