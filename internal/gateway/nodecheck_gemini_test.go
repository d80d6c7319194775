package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store"
)

// Google's npm SDK (@google/genai) works unchanged against Spectra, with Spectra in
// GOOGLE_GEMINI_BASE_URL (as Gemini CLI reads it) and the key in GEMINI_API_KEY: one
// answer, a stream, a function call, token counting, and a wrong key as the SDK's
// ApiError. Each call is charged its hand-computed cost and the balance follows the
// ledger. Runs with SPECTRA_NODE_CHECK=1 (see needNode).
func TestNodeGeminiSDK(t *testing.T) {
	node := needNode(t, "@google/genai")
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		out := runNode(t, node, "gemini.mjs",
			"GOOGLE_GEMINI_BASE_URL="+e.srv.URL, "GEMINI_API_KEY="+e.secret, "SPECTRA_MODEL="+geminiModel)
		type usage struct {
			PromptTokenCount     int64 `json:"promptTokenCount"`
			CandidatesTokenCount int64 `json:"candidatesTokenCount"`
		}
		var got struct {
			Whole struct {
				Usage     usage  `json:"usage"`
				Text      string `json:"text"`
				RequestID string `json:"requestId"`
			} `json:"whole"`
			Stream struct {
				Chunks int    `json:"chunks"`
				Text   string `json:"text"`
				Usage  usage  `json:"usage"`
				Finish string `json:"finish"`
			} `json:"stream"`
			Tool struct {
				Calls []struct {
					Name string         `json:"name"`
					Args map[string]any `json:"args"`
				} `json:"calls"`
				Usage usage `json:"usage"`
			} `json:"tool"`
			Count struct {
				TotalTokens int64 `json:"totalTokens"`
			} `json:"count"`
			BadKey struct {
				Class   string `json:"class"`
				Status  int    `json:"status"`
				Message string `json:"message"`
			} `json:"badKey"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("node printed %s: %v", out, err)
		}
		prompt := int64(3 + geminiFakeOverhead) // three words, as every prompt of the script
		w, s, tl := got.Whole, got.Stream, got.Tool
		if w.Usage.PromptTokenCount != prompt || w.Usage.CandidatesTokenCount != 20 || !strings.HasPrefix(w.Text, " w1 w2") {
			t.Fatalf("whole %+v (%s)", w, out)
		}
		if s.Chunks != 20 || s.Usage.CandidatesTokenCount != 20 || s.Finish != "STOP" || !strings.HasSuffix(s.Text, " w20") {
			t.Fatalf("stream %+v (%s)", s, out)
		}
		if len(tl.Calls) != 1 || tl.Calls[0].Name != "get_weather" || tl.Calls[0].Args["city"] != "Paris" || tl.Usage.CandidatesTokenCount != geminiFakeCallTokens {
			t.Fatalf("tool %+v (%s)", tl, out)
		}
		if got.Count.TotalTokens != prompt {
			t.Fatalf("count %+v (%s)", got.Count, out)
		}
		if k := got.BadKey; k.Class != "ApiError" || k.Status != 401 || !strings.Contains(k.Message, "UNAUTHENTICATED") || !strings.Contains(k.Message, "invalid_api_key") {
			t.Fatalf("wrong key %+v (%s)", k, out)
		}
		e.flush()
		if ev := e.event(w.RequestID); ev.CostExact != geminiExact(prompt, 0, 20) { // the SDK's sdkHttpResponse has Spectra's x-request-id
			t.Fatalf("whole event %+v", ev)
		}
		// (7 × 0.30 + 20 × 2.50) / 1e6 = 52.1 twice; (7 × 0.30 + 9 × 2.50) / 1e6 = 24.6: 128.8 in
		// all, of which the wallet is charged the whole micro-units, 128 (0.8 carried).
		if geminiExact(prompt, 0, 20) != exactOf(52_100_000) || geminiExact(prompt, 0, geminiFakeCallTokens) != exactOf(24_600_000) {
			t.Fatal("hand-computed costs changed")
		}
		want := grant - 128
		if bal := e.balance(); bal.Balance != want || len(e.events()) != 3 {
			t.Fatalf("balance %s with %d events, want %s with 3", bal.Balance, len(e.events()), want)
		}
		e.verify()
	})
}
