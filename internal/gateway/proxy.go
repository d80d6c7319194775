package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// call is one request on its way through the gateway.
type call struct {
	ep     endpoint
	start  time.Time
	id     string
	key    team.APIKey
	req    *request
	up     *entry
	price  pricing.Price
	prompt int64 // prompt-token estimate
	outCap int64 // output tokens the hold covers (every completion the request asks for)
	hold   *hold
	ticket *ticket
	budget *budgetTicket
}

// forward returns the handler of one forwarding endpoint.
func (g *Gateway) forward(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.pending.Add(1) // Flush waits for requests still being relayed, too
		defer g.pending.Done()
		c := &call{ep: ep, start: g.now(), id: ids.New("req")}
		w.Header().Set("X-Request-Id", c.id)
		body, err := g.admit(w, r, c)
		if err != nil {
			if r.Context().Err() == nil { // nobody to answer when the client has left
				g.refused(c, err)
				g.writeErrorAs(w, ep.wireOf(), err)
			}
			return
		}
		g.proxy(w, r, c, body)
	})
}

// admit runs every check of a request and takes its hold. On success the caller owns
// c.hold and c.ticket and must settle or release them.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, c *call) ([]byte, error) {
	wr := c.ep.wireOf()
	key, err := g.authenticateAs(wr, r)
	c.key = key // also on a 403: a known key's refusal is logged in its workspace
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if c.req, err = wr.parse(c.ep, r, body); err != nil {
		return nil, err
	}
	model := c.req.Model
	if !key.AllowsModel(model) {
		return nil, errModelNotAllowed(model)
	}
	cat, err := g.metering.Catalog(r.Context())
	if err != nil {
		return nil, err
	}
	// The price metering will charge at: the workspace's price list's, or the catalog's.
	if c.price, _, err = cat.ForWorkspace(key.WorkspaceID, model, c.start); err != nil {
		return nil, newError(http.StatusNotFound, "invalid_request_error", "model_not_priced", "The model `"+model+"` has no price in effect, so it cannot be used.")
	}
	c.req.Units = heldUnits(c.price, c.req.Units)
	if err := checkUnits(c.price, c.req); err != nil {
		return nil, err
	}
	up, ok := g.reg.routeAPI(wr.api(), model)
	if !ok {
		return nil, errModelNotFound(model)
	}
	c.up = up
	c.prompt = estimatePrompt(body)
	ceiling := g.maxOut // the model's maximum output: its price's, or the configured default
	if c.price.MaxOutputTokens > 0 {
		ceiling = c.price.MaxOutputTokens
	}
	c.outCap = c.req.maxOutput(c.ep, ceiling)
	estimate, err := holdCost(c.price, c.req, c.prompt, c.outCap)
	if err != nil {
		return nil, err
	}
	if c.ticket, err = g.limits.admit(key, c.prompt+c.req.explicitMax(), w.Header()); err != nil {
		return nil, err
	}
	if c.hold, err = g.book.reserve(r.Context(), key.WorkspaceID, estimate); err != nil {
		g.limits.settle(c.ticket, 0)
		return nil, err
	}
	if c.budget, err = g.budget.admit(r.Context(), key, estimate); err != nil {
		g.release(c)
		return nil, err
	}
	if body, err = wr.prepare(c, body); err != nil {
		g.release(c)
		return nil, err
	}
	return body, nil
}

// readBody reads a request body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, newError(http.StatusBadRequest, "invalid_request_error", "invalid_body", "The request body could not be read.")
	}
	return body, nil
}

// authenticate returns the inference key of the request's bearer token (OpenAI's way).
func (g *Gateway) authenticate(r *http.Request) (team.APIKey, error) {
	return g.authenticateAs(openAI{}, r)
}

// proxy forwards an admitted request and meters its answer.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, c *call, body []byte) {
	// A stream ends when its client leaves before the answer has finished, and is read
	// for its usage a short while more when the client leaves after (departure); a
	// non-streamed request runs to its end so that its usage is known and charged.
	var ctx context.Context
	var cancel context.CancelFunc
	if c.req.Stream {
		ctx, cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	} else {
		ctx, cancel = context.WithTimeout(context.WithoutCancel(r.Context()), g.holdTTL)
	}
	defer cancel()
	dep := &departure{id: c.id, cancel: cancel}
	defer dep.stop()
	if c.req.Stream {
		defer context.AfterFunc(r.Context(), dep.leave)()
	}
	wr := c.ep.wireOf()
	up, err := http.NewRequestWithContext(ctx, http.MethodPost, wr.target(c, r), bytes.NewReader(body))
	if err != nil {
		g.release(c)
		g.refused(c, err)
		g.writeErrorAs(w, wr, err)
		return
	}
	up.Header.Set("Content-Type", "application/json")
	if c.req.Stream {
		up.Header.Set("Accept", "text/event-stream")
	} else {
		up.Header.Set("Accept", "application/json")
	}
	wr.header(c, r, up.Header)
	resp, err := g.client.Do(up)
	if err != nil {
		g.release(c)
		if r.Context().Err() != nil {
			return // the client left before anything was generated
		}
		g.log.Warn("upstream request failed", "upstream", c.up.Name, "err", err)
		g.refused(c, errUpstreamDown)
		g.writeErrorAs(w, wr, errUpstreamDown)
		return
	}
	defer resp.Body.Close()
	if v := resp.Header.Get("X-Request-Id"); v != "" {
		w.Header().Set("X-Upstream-Request-Id", v)
	} else if v := resp.Header.Get("Request-Id"); v != "" { // Anthropic's
		w.Header().Set("X-Upstream-Request-Id", v)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		g.release(c) // no charge for a request the upstream refused
		g.upstreamFailed(c, resp.StatusCode)
		g.passError(w, wr, resp)
		return
	}
	if wr.isStream(c, resp) {
		g.stream(w, c, resp, dep)
		return
	}
	dep.finish() // a whole answer: a client that leaves does not stop it for drainTime
	g.whole(w, c, resp)
}

// passError relays an upstream's error answer as it is (it is in the API's shape: the
// upstream speaks it), or one of the wire's own when it is not JSON.
func (g *Gateway) passError(w http.ResponseWriter, wr wire, resp *http.Response) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || !json.Valid(b) {
		g.writeErrorAs(w, wr, newError(resp.StatusCode, "server_error", "upstream_error", "The upstream provider answered "+resp.Status+"."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if v := resp.Header.Get("Retry-After"); v != "" {
		w.Header().Set("Retry-After", v)
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(b)
}

// whole relays a non-streamed answer with its cost in the X-Spectra-Cost header.
func (g *Gateway) whole(w http.ResponseWriter, c *call, resp *http.Response) {
	wr := c.ep.wireOf()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		g.release(c)
		g.refused(c, errUpstreamBody)
		g.writeErrorAs(w, wr, errUpstreamBody)
		return
	}
	usage, estimated, err := wr.meterBody(c, b)
	if err != nil {
		g.release(c)
		g.refused(c, errUpstreamBody)
		g.writeErrorAs(w, wr, errUpstreamBody)
		return
	}
	ev := g.event(c, usage, estimated, http.StatusOK, false)
	cost, err := pricing.Cost(c.price, ev.Usage)
	if err == nil {
		w.Header().Set("X-Spectra-Cost", cost.String())
	}
	// Settled before the answer is written: a request whose answer reached its client
	// is never left unsettled.
	g.settleAsync(c, ev)
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// event builds the usage event of a finished request. Its service tier is the one the
// answer stated (u.ServiceTier; "default" for the default tier), "" for the default.
// An answer that states none is billed at the default tier, whatever the request asked
// for: the client's service_tier is a wish the upstream may ignore, and billing it would
// let a client that asks for a cheaper tier pay less than the upstream charges. Units
// the price does not know are taken out of the usage into the metadata (unpriced).
func (g *Gateway) event(c *call, u pricing.Usage, estimated bool, status int, stream bool) metering.Event {
	if u.ServiceTier == pricing.DefaultServiceTier {
		u.ServiceTier = ""
	}
	meta := c.up.meta
	if dropped := unpriced(c.price, &u); dropped != nil {
		meta = withUnpriced(meta, dropped)
		g.log.Error("gateway answer reports units the model's price does not know; recorded in the event's metadata (unpriced_units), not charged",
			"request", c.id, "model", c.req.Model, "units", dropped)
	}
	return metering.Event{
		ID: c.id, WorkspaceID: c.key.WorkspaceID, KeyID: c.key.ID, Project: c.key.Project, Member: c.key.MemberID,
		Model: c.req.Model, Timestamp: c.start, Usage: u, Metadata: meta,
		Source: "gateway", Endpoint: "/v1" + c.ep.path, Status: status, LatencyMS: g.now().Sub(c.start).Milliseconds(),
		Stream: stream, Estimated: estimated, Held: c.held(),
	}
}

// release gives back a request's hold and rate-limit tokens without a charge.
func (g *Gateway) release(c *call) {
	g.book.release(c.hold)
	g.limits.settle(c.ticket, 0)
	g.budget.release(c.budget)
}

// unpriced takes out of u the units p does not price at u's service tier and returns
// them (nil when there are none). An answer may report a unit its request did not
// enable (checkUnits refuses those it does), or one priced when the request was
// admitted and not at ingestion: metering rejects an event with a unit its price does
// not know (unknown_unit), and the answered request would go unrecorded. So the event
// is recorded and charged for its tokens and its priced units, and the unpriced ones
// are kept in its metadata (withUnpriced) and logged as an error, for the operator to
// price and bill; none is ever priced 0.
func unpriced(p pricing.Price, u *pricing.Usage) map[string]int64 {
	counts := u.UnitCounts()
	if len(counts) == 0 {
		return nil
	}
	if _, err := p.Quote(*u); !errs.Is(err, "unknown_unit") {
		return nil
	}
	var dropped map[string]int64
	units := make(map[string]int64, len(u.Units))
	for k, v := range u.Units {
		units[k] = v
	}
	for name, n := range counts {
		if _, err := p.Quote(pricing.Usage{Units: map[string]int64{name: n}, ServiceTier: u.ServiceTier}); !errs.Is(err, "unknown_unit") {
			continue
		}
		if dropped == nil {
			dropped = map[string]int64{}
		}
		dropped[name] = n
		delete(units, name)
		if name == pricing.UnitWebSearchCall {
			u.WebSearchCalls = 0
		}
	}
	if len(units) == 0 {
		units = nil
	}
	u.Units = units
	return dropped
}

// withUnpriced returns the metadata object meta with "unpriced_units": units added.
func withUnpriced(meta json.RawMessage, units map[string]int64) json.RawMessage {
	m := map[string]any{}
	if len(meta) > 0 {
		_ = json.Unmarshal(meta, &m)
	}
	m["unpriced_units"] = units
	b, err := json.Marshal(m)
	if err != nil {
		return meta
	}
	return b
}
