package web

import (
	"context"
	"strings"

	"spectra/internal/requestlog"
)

// refusalLine is what the Overview says of a period's refused and failed requests, next
// to its requests: "37 refused, balance · 2 upstream errors", each linking to them.
type refusalLine struct {
	Refused     int64
	Reason      string // the main reason of the refusals, in a word or two
	RefusedURL  string
	Upstream    int64
	UpstreamURL string
	Capped      bool // more than were counted ("10,000+")
}

// refusalReasons name the gateway's refusal codes in a word or two.
var refusalReasons = map[string]string{
	"insufficient_balance": "balance", "budget_exceeded": "budget", "rate_limit_exceeded": "rate limit",
	"model_not_allowed": "model not allowed", "model_not_priced": "model not priced", "model_not_found": "unknown model",
	"request_too_large": "request too large",
}

// refusals summarises the refusals of period p in rq's workspace; nil when there were none.
func (s *Server) refusals(ctx context.Context, rq *request, p Period) (*refusalLine, error) {
	sum, err := s.reqlog.RefusalSummary(ctx, rq.Workspace.ID, p.Start, p.End)
	if err != nil || sum.Total == 0 {
		return nil, err
	}
	l := &refusalLine{Capped: sum.Capped}
	var main string
	for _, c := range sum.Codes { // most first
		if strings.HasPrefix(c.Code, "upstream_") {
			l.Upstream += c.Count
			continue
		}
		if main == "" {
			main = c.Code
		}
		l.Refused += c.Count
	}
	if l.Reason = refusalReasons[main]; l.Reason == "" {
		l.Reason = strings.ReplaceAll(main, "_", " ")
	}
	ws := rq.Workspace.ID
	l.RefusedURL = requestsLink(ws, drillFilter{Period: p, Status: requestlog.StatusRefused})
	l.UpstreamURL = requestsLink(ws, drillFilter{Period: p, Status: requestlog.StatusUpstreamError})
	return l, nil
}
