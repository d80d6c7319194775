package gateway

import (
	"io"
	"net/http"

	"spectra/internal/gateway/upstream"
	"spectra/internal/pricing"
)

// geminiWire is Google's Gemini API behind the wire seam (wire.go). sse tells the two
// forms of streamGenerateContent apart: server-sent events (?alt=sse) or one JSON array.
type geminiWire struct{ sse bool }

// Gemini's endpoints: one per method (the array and SSE streams apart), each with the
// path recorded on its usage events.
var (
	epGeminiGenerate  = endpoint{path: "beta/models:generateContent", generates: true, wire: geminiWire{}}
	epGeminiStream    = endpoint{path: "beta/models:streamGenerateContent", generates: true, wire: geminiWire{}}
	epGeminiStreamSSE = endpoint{path: "beta/models:streamGenerateContent", generates: true, wire: geminiWire{sse: true}}
	epGeminiCount     = endpoint{path: "beta/models:countTokens", wire: geminiWire{}}
)

// registerGemini mounts Gemini's routes: POST /v1beta/models/{model}:{method} (and the
// same under /v1, where Google's Go SDK sends by default). ServeMux cannot match a
// segment with a suffix, so the route takes the rest of the path and splits it on its
// last ':'; an unknown method is a 404 in Google's error shape.
func (g *Gateway) registerGemini(mux *http.ServeMux) {
	generate, count := g.forward(epGeminiGenerate), g.uncharged(epGeminiCount)
	stream, streamSSE := g.forward(epGeminiStream), g.forward(epGeminiStreamSSE)
	route := func(w http.ResponseWriter, r *http.Request) {
		_, m, err := splitGeminiPath(r.PathValue("rest"))
		if err != nil {
			g.writeErrorAs(w, geminiWire{}, err)
			return
		}
		switch {
		case m == gmGenerate:
			generate.ServeHTTP(w, r)
		case m == gmCount:
			count.ServeHTTP(w, r)
		case geminiSSE(r.URL.Query()):
			streamSSE.ServeHTTP(w, r)
		default:
			stream.ServeHTTP(w, r)
		}
	}
	mux.HandleFunc("POST /v1beta/models/{rest...}", route)
	mux.HandleFunc("POST /v1/models/{rest...}", route)
	mux.HandleFunc("/v1beta/models/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		g.writeErrorAs(w, geminiWire{}, errMethodNotAllowed(r))
	})
}

func (geminiWire) api() string { return upstream.Gemini }

func (geminiWire) secret(r *http.Request) (string, error) {
	if k := geminiKey(r); k != "" {
		return k, nil
	}
	return "", errGeminiMissingKey
}

// parse reads the model and method from the path and generationConfig from the body.
// The hold (request.maxOutput) covers maxOutputTokens plus a positive thinking budget
// (Google documents thoughts as apart from maxOutputTokens, though its models are seen to
// count them inside it: holding both is the safe side), or the model's maximum when
// maxOutputTokens is not set, times candidateCount.
func (geminiWire) parse(ep endpoint, r *http.Request, body []byte) (*request, error) {
	model, m, err := splitGeminiPath(r.PathValue("rest"))
	if err != nil {
		return nil, err
	}
	gr, err := parseGeminiRequest(body)
	if err != nil {
		return nil, err
	}
	req := &request{Model: model, Stream: m == gmStream, N: gr.Candidates}
	if gr.Limit > 0 {
		req.Limit = satAdd(gr.Limit, gr.ThinkingBudget)
	}
	return req, nil
}

func (geminiWire) prepare(_ *call, body []byte) ([]byte, error) { return body, nil }

func (geminiWire) target(c *call, r *http.Request) string {
	_, m, _ := splitGeminiPath(r.PathValue("rest"))
	return geminiUpstreamURL(c.up.BaseURL, c.req.Model, m, r.URL.RawQuery)
}

func (geminiWire) header(c *call, _ *http.Request, h http.Header) {
	if c.up.APIKey != "" {
		h.Set("X-Goog-Api-Key", c.up.APIKey)
	}
}

// isStream: a streamGenerateContent answer is a stream, whatever its Content-Type
// (Google sends the JSON-array form as application/json).
func (geminiWire) isStream(c *call, _ *http.Response) bool { return c.req.Stream }

func (w geminiWire) events(body io.Reader) eventReader {
	if w.sse {
		return newSSEReader(body)
	}
	return newArrayReader(body)
}

func (geminiWire) meterBody(c *call, b []byte) (pricing.Usage, bool, error) {
	return meterGeminiBody(b, c.prompt)
}

func (w geminiWire) newMeter(*call) meter { return &geminiStreamMeter{sse: w.sse} }

// writeError answers e in Google's error shape (toGemini).
func (geminiWire) writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]geminiError{"error": toGemini(e)})
}

// geminiStreamMeter is geminiMeter behind the meter interface.
type geminiStreamMeter struct {
	geminiMeter
	sse     bool
	relayed bool // an element of the JSON array was relayed (the closing chunk then starts with ',')
}

func (m *geminiStreamMeter) feed(data []byte) bool {
	if len(data) > 0 {
		m.chunk(data)
		m.relayed = true
	}
	return true
}

func (m *geminiStreamMeter) finished() bool { return m.geminiMeter.finished }
func (m *geminiStreamMeter) final() bool    { return m.geminiMeter.final }
func (m *geminiStreamMeter) complete() bool { return m.geminiMeter.finished }

func (m *geminiStreamMeter) result(promptEstimate int64) (pricing.Usage, bool) {
	return m.geminiMeter.result(promptEstimate, false)
}

// closing ends a stream cut at its hold with a chunk whose open candidates finish with
// MAX_TOKENS, stating the usage charged; the JSON array is closed after it.
func (m *geminiStreamMeter) closing(c *call) []byte {
	u, _ := m.result(c.prompt)
	chunk := geminiClosing(&m.geminiMeter, u)
	if m.sse {
		return append(append([]byte("data: "), chunk...), "\r\n\r\n"...)
	}
	sep := "\n,\r\n"
	if !m.relayed {
		sep = "["
	}
	return append(append([]byte(sep), chunk...), "\n]"...)
}
