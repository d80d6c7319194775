package gateway

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"spectra/internal/gateway/fakeanthropic"
	"spectra/internal/gateway/loadtest"
	"spectra/internal/gateway/upstream"
)

// benchMessagesBody is a small Messages request, like most real traffic.
const benchMessagesBody = `{"model":"claude-test","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Summarise the benefits of a prepaid balance in one sentence."}]}`

// BenchmarkGatewayMessagesAddedLatency is BenchmarkGatewayAddedLatency for Anthropic's
// Messages API: on the default SQLite store, the stand-in Anthropic upstream called
// directly and POST /v1/messages through the gateway, at the same fixed rate
// (GATEWAY_BENCH_RATE, default 1000 requests/s), interleaved in one-second blocks for
// GATEWAY_BENCH_SECONDS (default 10) each; then both with 32 closed-loop workers.
// GATEWAY_BENCH_STREAM=1 streams every answer (SSE, metered event by event). Every
// gateway request is held and settled (journal written, as serve runs); the run ends by
// checking that each became exactly one usage event and that verify is OK.
//
//	go test ./internal/gateway -run '^$' -bench MessagesAddedLatency -benchtime 1x
func BenchmarkGatewayMessagesAddedLatency(b *testing.B) {
	rate := envInt("GATEWAY_BENCH_RATE", 1000)
	seconds := envInt("GATEWAY_BENCH_SECONDS", 10)
	stream := os.Getenv("GATEWAY_BENCH_STREAM") == "1"
	body := benchMessagesBody
	if stream {
		body = `{"stream":true,` + body[1:]
	}
	up := fakeanthropic.New(fakeanthropic.Options{APIKey: anthUpstreamKey})
	b.Cleanup(up.Close)
	s, secret, gwURL := newBenchGateway(b, claudePrice,
		[]Upstream{{Name: "anthropic", API: upstream.Anthropic, BaseURL: up.URL, APIKey: anthUpstreamKey, Models: []string{claudeModel}}},
		b.TempDir(), false)

	client := benchClient()
	call := func(url, key string) loadtest.Do {
		return benchCall(client, url, body, func(h http.Header) {
			h.Set("X-Api-Key", key)
			h.Set("Anthropic-Version", anthropicVersion)
		})
	}
	m := measureAddedLatency(b, s, rate, seconds,
		call(up.URL+"/messages", anthUpstreamKey), call(gwURL+"/v1/messages", secret))
	m.report(b, fmt.Sprintf("POST /v1/messages, stream %v, fixed rate %d/s, %d s each, interleaved:", stream, rate, seconds))
}
