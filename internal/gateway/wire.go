package gateway

// The wire seam: one metered path, several client-facing APIs.
//
// Every forwarding route runs the same steps, in proxy.go and stream.go: authenticate →
// read the body → check the model → price → route → rate limit → hold → budget →
// forward → meter (a whole answer, or a stream event by event) → settle once (journal
// first) → answer. What differs between OpenAI's API, Anthropic's Messages API and
// Google's Gemini API is only how a request and its answer look on the wire, and that is
// all a wire says:
//
//   - api: the upstream API (upstream.OpenAI, upstream.Anthropic, upstream.Gemini); a
//     request is routed only to upstreams that speak it (registry.routeAPI).
//   - secret: the inference key the client sent (Authorization: Bearer for OpenAI;
//     x-api-key or Bearer for Anthropic; x-goog-api-key or ?key= for Gemini), or the
//     wire's own "no key" error.
//   - parse: what metering needs from the request (model, stream flag, output limit, in
//     a *request), with the gateway's strict exact-name rules (request.go's eachMember,
//     names, intValue, …); the request's URL is there too for APIs that name the model or
//     the stream in the path.
//   - prepare: the body to forward (OpenAI asks for the usage chunk; others return body).
//   - target and header: the upstream URL and the headers to send it (the upstream's
//     secret, the API's version headers passed through).
//   - isStream: whether an upstream answer is a stream (SSE content type by default).
//   - events: how a stream splits into events (server-sent events by default; Gemini's
//     JSON-array stream needs its own reader).
//   - meterBody: the usage of a whole answer, in Spectra's meaning (pricing.Usage: input
//     includes cache reads, cache writes apart), or an estimate when none is reported.
//   - newMeter: a meter that follows a stream event by event (see meter).
//   - writeError: an *apiError (status, Spectra's code, message) in the API's own shape.
//
// A new API is a file with a type implementing wire (sseWire gives the server-sent
// events defaults; the type must be comparable, as endpoints are compared with ==), its
// endpoints (endpoint{wire: …}), a register function mounting them
// with g.forward (metered) or g.uncharged (forwarded, not charged, e.g. count_tokens), and
// one line in Gateway.Register calling it.

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// wire is one client-facing API format; see the comment at the top of this file.
type wire interface {
	// api is the API of the upstreams that serve this wire's requests.
	api() string
	// secret returns the inference key the request carries, or the wire's error for a
	// request without one.
	secret(r *http.Request) (string, error)
	// parse reads what metering needs from the request body (and URL).
	parse(ep endpoint, r *http.Request, body []byte) (*request, error)
	// prepare returns the body to forward upstream.
	prepare(c *call, body []byte) ([]byte, error)
	// target is the URL of the upstream request.
	target(c *call, r *http.Request) string
	// header sets the upstream request's headers (Content-Type and Accept are set).
	header(c *call, r *http.Request, h http.Header)
	// isStream reports whether the upstream's (2xx) answer is a stream.
	isStream(c *call, resp *http.Response) bool
	// events splits a streamed answer into events.
	events(body io.Reader) eventReader
	// meterBody returns the usage of a whole answer, or the estimate when it reports none
	// (estimated true).
	meterBody(c *call, b []byte) (u pricing.Usage, estimated bool, err error)
	// newMeter starts metering a stream.
	newMeter(c *call) meter
	// writeError answers e in the API's error shape.
	writeError(w http.ResponseWriter, e *apiError)
}

// meter follows one streamed answer for Gateway.stream.
type meter interface {
	// feed meters one event (data: its payload; empty for events without one) and
	// reports whether to relay it to the client.
	feed(data []byte) (relay bool)
	// finished reports whether the answer has finished (its last content was sent), so
	// that a client leaving now no longer cancels the upstream (departure).
	finished() bool
	// final reports whether the usage to charge is known: the request is settled at once,
	// before the event that made it final is relayed.
	final() bool
	// complete reports whether the answer is complete, so that a stream that ends
	// without it (the client left, the upstream broke) is recorded with status 499 or
	// 502 instead of 200.
	complete() bool
	// past reports whether the stream has gone past the output its hold covers.
	past(capacity int64) bool
	// result is the usage to charge, and whether it is estimated.
	result(promptEstimate int64) (pricing.Usage, bool)
	// closing is what Spectra writes to end a stream it cut at its hold.
	closing(c *call) []byte
}

// eventReader returns a stream's events one by one (see sseReader.next).
type eventReader interface {
	next() (raw, data []byte, err error)
	// bytesRead is the number of bytes read from the stream so far.
	bytesRead() int64
}

// wireOf is the endpoint's wire: OpenAI's unless it names another.
func (ep endpoint) wireOf() wire {
	if ep.wire == nil {
		return openAI{}
	}
	return ep.wire
}

// sseWire gives a wire the server-sent-events defaults: a 2xx answer whose Content-Type
// is text/event-stream is a stream, read by sseReader.
type sseWire struct{}

func (sseWire) isStream(_ *call, resp *http.Response) bool {
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
}

func (sseWire) events(body io.Reader) eventReader { return newSSEReader(body) }

// openAI is OpenAI's API: the chat, completions, embeddings and responses endpoints.
type openAI struct{ sseWire }

func (openAI) api() string { return upstream.OpenAI }

func (openAI) secret(r *http.Request) (string, error) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || secret == "" {
		return "", errMissingKey
	}
	return secret, nil
}

func (openAI) parse(ep endpoint, _ *http.Request, body []byte) (*request, error) {
	req, err := parseRequest(ep, body)
	if err != nil {
		return nil, err
	}
	if req.Stream && ep == epEmbeddings {
		return nil, errStreamNotAllow
	}
	return req, nil
}

func (openAI) prepare(c *call, body []byte) ([]byte, error) {
	if c.ep.usageInChunk && c.req.Stream && !c.req.clientUsage {
		return withUsage(body)
	}
	return body, nil
}

func (openAI) target(c *call, _ *http.Request) string { return c.up.BaseURL + c.ep.path }

func (openAI) header(c *call, _ *http.Request, h http.Header) {
	if c.up.APIKey != "" {
		h.Set("Authorization", "Bearer "+c.up.APIKey)
	}
}

func (openAI) meterBody(c *call, b []byte) (pricing.Usage, bool, error) {
	return meterBody(b, c.prompt)
}

func (openAI) newMeter(c *call) meter { return &openAIMeter{ep: c.ep, clientUsage: c.req.clientUsage} }

func (openAI) writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

// openAIMeter is streamMeter behind the meter interface.
type openAIMeter struct {
	streamMeter
	ep          endpoint
	clientUsage bool
}

func (m *openAIMeter) feed(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	if m.ep.usageInChunk {
		return !(m.chunk(data) && !m.clientUsage) // the usage-only chunk the client did not ask for is dropped
	}
	m.event(data)
	return true
}

func (m *openAIMeter) finished() bool         { return m.streamMeter.finished }
func (m *openAIMeter) final() bool            { return m.reported || m.done }
func (m *openAIMeter) complete() bool         { return m.done || m.streamMeter.finished }
func (m *openAIMeter) closing(c *call) []byte { return closing(c, &m.streamMeter) }

// authenticateAs returns the inference key of a request of wire wr. A key that is known
// but refused (403 wrong_key_kind, key_role_forbidden) is returned with its error, so
// that the refusal is logged in its workspace; it never serves the request.
func (g *Gateway) authenticateAs(wr wire, r *http.Request) (team.APIKey, error) {
	secret, err := wr.secret(r)
	if err != nil {
		return team.APIKey{}, err
	}
	k, err := g.keys.authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		if errs.Is(err, team.ErrInvalidKey.Code) {
			return team.APIKey{}, errInvalidKey
		}
		return k, err // a known key (403 key_role_forbidden) is returned with its refusal
	}
	if k.Kind != team.KindInference {
		return k, errWrongKeyKind // for the request log of its workspace; never used to serve
	}
	return k, nil
}

// uncharged returns the handler of a route that is forwarded but not charged (token
// counting): the key is checked, the body parsed with ep's wire for its model, the model
// must be allowed to the key and routed to an upstream of the wire's API, and the
// upstream's answer is relayed as it is. No hold, rate limit or usage event.
func (g *Gateway) uncharged(ep endpoint) http.Handler {
	wr := ep.wireOf()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.pending.Add(1)
		defer g.pending.Done()
		c := &call{ep: ep, start: g.now()}
		fail := func(err error) {
			if r.Context().Err() == nil {
				g.writeErrorAs(w, wr, err)
			}
		}
		key, err := g.authenticateAs(wr, r)
		if err != nil {
			fail(err)
			return
		}
		c.key = key
		body, err := readBody(w, r)
		if err != nil {
			fail(err)
			return
		}
		if c.req, err = wr.parse(ep, r, body); err != nil {
			fail(err)
			return
		}
		if !key.AllowsModel(c.req.Model) {
			fail(errModelNotAllowed(c.req.Model))
			return
		}
		up, ok := g.reg.routeAPI(wr.api(), c.req.Model)
		if !ok {
			fail(errModelNotFound(c.req.Model))
			return
		}
		c.up = up
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, wr.target(c, r), bytes.NewReader(body))
		if err != nil {
			fail(err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		wr.header(c, r, req.Header)
		resp, err := g.client.Do(req)
		if err != nil {
			if r.Context().Err() == nil {
				g.log.Warn("upstream request failed", "upstream", c.up.Name, "err", err)
			}
			fail(errUpstreamDown)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
		if err != nil {
			fail(errUpstreamBody)
			return
		}
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if v := resp.Header.Get("Retry-After"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	})
}

// methodNotAllowedAs is the handler of a path of wire wr called with the wrong method: a
// 405 in the wire's error shape, with the Allow header.
func (g *Gateway) methodNotAllowedAs(wr wire, allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		g.writeErrorAs(w, wr, errMethodNotAllowed(r))
	}
}
