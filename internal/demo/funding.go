package demo

import (
	"fmt"
	"time"

	"spectra/internal/money"
)

// credit is money the workspace receives: a payment (top-up) or a grant from the operator.
type credit struct {
	at     time.Time
	grant  bool
	amount money.Amount
	key    string // idempotency key
	note   string
	ref    string // a top-up's payment reference, when billing records it as a bank transfer
}

const dollar = money.Amount(money.Scale)

// Funding rules: a top-up buys about topUpDays of the recent burn whenever the balance
// falls below lowDays of it; at the end the last top-up is sized so that the balance lasts
// about runwayDays at the last week's burn.
const (
	topUpDays  = 21
	lowDays    = 7
	runwayDays = 21
)

// planFunding decides the workspace's top-ups and grants from the cost of each day, so
// that the balance stays positive throughout and ends with a finite runway.
func planFunding(cal calendar, cost []money.Amount) []credit {
	days := len(cost)
	burn := func(d int) money.Amount { // average daily cost of the 7 days before d (the first week's, at the start)
		lo, hi := d-7, d
		if lo < 0 {
			lo, hi = 0, min(7, days)
		}
		var s money.Amount
		for _, c := range cost[lo:hi] {
			s += c
		}
		return s / money.Amount(max(1, hi-lo))
	}
	payments := 0
	pay := func(at time.Time, amount money.Amount) credit {
		payments++
		note := "Card payment, Visa ending 4242"
		if payments%3 == 0 {
			note = "Bank transfer, reference ACME-" + at.Format("200601")
		}
		return credit{at: at, amount: amount, key: fmt.Sprintf("demo-topup-%d", payments), note: note,
			ref: fmt.Sprintf("ACME-%s-%d", at.Format("20060102"), payments)}
	}
	start := cal.created.Add(20 * time.Minute)
	credits := []credit{
		{at: start, grant: true, amount: nice(7 * burn(0)), key: "demo-welcome", note: "Welcome credit"},
		pay(start.Add(5*time.Minute), nice(topUpDays*burn(0))),
	}
	grants := map[int]credit{}
	if days >= 3 {
		d := cal.dayOf(0.45)
		grants[d] = credit{at: cal.local(d, 15, 12), grant: true, key: "demo-startup-program", note: "Startup program credit"}
		inc := int(0.7 * float64(days))
		if g := min(inc+2, days-1); g > d {
			grants[g] = credit{at: cal.local(g, 16, 5), grant: true, key: "demo-service-credit",
				note: "Service credit: elevated error rates on " + cal.start[inc].Format("Jan 2")}
		}
	}
	bal := credits[0].amount + credits[1].amount
	for d := range days {
		if bal < lowDays*burn(d) {
			c := pay(cal.local(d, 9, 30+payments%20), nice(topUpDays*burn(d)))
			if c.at.Before(cal.now) {
				credits = append(credits, c)
				bal += c.amount
			}
		}
		if g, ok := grants[d]; ok && g.at.Before(cal.now) {
			if g.key == "demo-startup-program" {
				g.amount = nice(14 * burn(d))
			} else {
				g.amount = nice(burn(d))
			}
			credits = append(credits, g)
			bal += g.amount
		}
		bal -= cost[d]
	}
	sizeLastTopUp(credits, cal, cost, burn(days))
	return credits
}

// sizeLastTopUp changes the last payment so that the final balance is about runwayDays of
// the last week's burn, keeping the balance at least a day's burn above zero after it.
func sizeLastTopUp(credits []credit, cal calendar, cost []money.Amount, lastBurn money.Amount) {
	last := 0
	for i, c := range credits {
		if !c.grant {
			last = i
		}
	}
	old := credits[last].amount
	before, end := balances(credits, cal, cost)
	prev := func(d int) money.Amount {
		if d == 0 {
			return before
		}
		return end[d-1]
	}
	paidOn := -1
	for d := range cost {
		if !credits[last].at.Before(cal.start[d]) {
			paidOn = d
		}
	}
	// The lowest the balance can be after the payment: each later day's whole cost is
	// counted before that day's credits (a safe bound).
	low := before
	if paidOn >= 0 {
		low = end[paidOn]
	}
	for d := paidOn + 1; d < len(cost); d++ {
		low = min(low, prev(d)-cost[d])
	}
	amount := max(twoDigits(old+runwayDays*lastBurn-end[len(end)-1]), dollar)
	if low+amount-old < lastBurn {
		amount = nice(old + lastBurn - low)
	}
	credits[last].amount = amount
}

// balances returns the balance before the first day and at the end of each day.
func balances(credits []credit, cal calendar, cost []money.Amount) (money.Amount, []money.Amount) {
	var bal, before money.Amount
	end := make([]money.Amount, len(cost))
	i := 0
	for ; i < len(credits) && credits[i].at.Before(cal.start[0]); i++ {
		bal += credits[i].amount
	}
	before = bal
	for d := range cost {
		for ; i < len(credits) && credits[i].at.Before(cal.start[d+1]); i++ {
			bal += credits[i].amount
		}
		bal -= cost[d]
		end[d] = bal
	}
	return before, end
}

// nice rounds a up to a sum people pay: 1, 2, 2.5 or 5 times a power of ten dollars
// (at least $1: a small demo has small sums).
func nice(a money.Amount) money.Amount {
	for p := dollar; ; p *= 10 {
		for _, m := range []money.Amount{10, 20, 25, 50} {
			if c := p * m / 10; c >= a {
				return c
			}
		}
	}
}

// twoDigits rounds a positive a to two significant digits of whole dollars (half up).
func twoDigits(a money.Amount) money.Amount {
	if a <= 0 {
		return 0
	}
	p := dollar
	for a >= 100*p {
		p *= 10
	}
	return (a + p/2) / p * p
}
