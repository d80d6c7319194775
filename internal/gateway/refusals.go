package gateway

import (
	"net/http"

	"spectra/internal/money"

	"spectra/internal/requestlog"
)

// Refusals: every request of a forwarding route that is answered with an error — by the
// gateway (402 balance or budget, 403, 429, 400 …) or by its upstream (status ≥ 400, or
// unreachable) — is handed to the request log (Config.Refusals) at no cost, off the
// request path. A request without a known key (401: no key, or no valid one) belongs to
// no workspace and is not recorded. Every error path of a forwarding route calls refused
// (or upstreamFailed) next to writing its answer, whatever the wire's error shape.

// refused records that c was answered with err.
func (g *Gateway) refused(c *call, err error) {
	if g.refusals == nil || c == nil || c.key.WorkspaceID == "" {
		return
	}
	e := fromDomain(err)
	kind := requestlog.StatusRefused
	switch e.Code {
	case errUpstreamDown.Code, errUpstreamBody.Code, "upstream_error":
		kind = requestlog.StatusUpstreamError
	}
	g.recordRefusal(c, e.Status, kind, e.Code, e.Message, e.BudgetID)
}

// upstreamFailed records that c's upstream answered status, which the client got as it is.
func (g *Gateway) upstreamFailed(c *call, status int) {
	if g.refusals == nil || c == nil || c.key.WorkspaceID == "" {
		return
	}
	g.recordRefusal(c, status, requestlog.StatusUpstreamError, "upstream_error",
		"The upstream provider answered "+http.StatusText(status)+".", "")
}

func (g *Gateway) recordRefusal(c *call, status int, kind, code, msg, budgetID string) {
	r := requestlog.Refusal{
		ID: c.id, WorkspaceID: c.key.WorkspaceID, Timestamp: c.start, KeyID: c.key.ID, Member: c.key.MemberID, Project: c.key.Project,
		Endpoint: "/v1" + c.ep.path, HTTPStatus: status, Kind: kind, Code: code, Message: msg, BudgetID: budgetID,
		LatencyMS: g.now().Sub(c.start).Milliseconds(),
	}
	if c.req != nil {
		r.Model, r.Stream = c.req.Model, c.req.Stream
	}
	if c.up != nil && kind == requestlog.StatusUpstreamError {
		r.Upstream = c.up.Name
	}
	g.refusals.Record(r)
}

// held is the amount held for c (the usage event's Held).
func (c *call) held() money.Amount {
	if c.hold == nil {
		return 0
	}
	return c.hold.amount
}
