package demo

import (
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// The demo's models at their providers' list prices in USD per million tokens (2025),
// copied from the shared starting catalog: input, cached input, cache write, output.
var catalog = []struct {
	model                                string
	input, cachedInput, cacheWrite, outp string
}{
	{"gpt-4o", "2.50", "1.25", "0", "10.00"},
	{"gpt-4o-mini", "0.15", "0.075", "0", "0.60"},
	{"gpt-4.1-mini", "0.40", "0.10", "0", "1.60"},
	{"o4-mini", "1.10", "0.275", "0", "4.40"},
	{"text-embedding-3-small", "0.02", "0.02", "0", "0"},
	{"claude-sonnet-4", "3.00", "0.30", "3.75", "15.00"},
	{"claude-opus-4", "15.00", "1.50", "18.75", "75.00"},
	{"claude-3-5-haiku", "0.80", "0.08", "1.00", "4.00"},
	{"gemini-2.5-flash", "0.30", "0.075", "0", "2.50"},
}

// Prices returns the demo's price versions, in effect from `from`.
func Prices(from time.Time) []pricing.Price {
	out := make([]pricing.Price, len(catalog))
	for i, c := range catalog {
		out[i] = pricing.Price{Model: c.model, Input: mustAmount(c.input), CachedInput: mustAmount(c.cachedInput),
			CacheWrite: mustAmount(c.cacheWrite), Output: mustAmount(c.outp), EffectiveFrom: from, CreatedAt: from}
	}
	return out
}

func mustAmount(s string) money.Amount {
	a, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Model indexes into catalog.
const (
	gpt4o = iota
	gpt4oMini
	gpt41Mini
	o4Mini
	embedSmall
	sonnet
	opus
	haiku
	flash
)

type modelKind int

const (
	chat modelKind = iota
	reasoning
	embedding
)

// shape is how a model's requests look: medians and spreads of lognormal token counts,
// how often they hit or write a prompt cache, and how fast the model answers.
type shape struct {
	kind                  modelKind
	inMedian, inSigma     float64
	outMedian, outSigma   float64
	cacheHit, cacheWrite  float64 // probability per request
	firstTokenMS, msPerTk float64
	endpoint              string
}

var shapes = []shape{
	gpt4o:      {chat, 1800, 0.9, 380, 0.8, 0.30, 0, 450, 14, "/v1/chat/completions"},
	gpt4oMini:  {chat, 1200, 0.9, 260, 0.8, 0.25, 0, 300, 7, "/v1/chat/completions"},
	gpt41Mini:  {chat, 2400, 1.0, 420, 0.8, 0.35, 0, 350, 8, "/v1/chat/completions"},
	o4Mini:     {reasoning, 2600, 0.9, 1400, 0.7, 0.20, 0, 900, 9, "/v1/responses"},
	embedSmall: {embedding, 900, 1.1, 0, 0, 0, 0, 60, 0, "/v1/embeddings"},
	sonnet:     {chat, 3200, 1.0, 520, 0.8, 0.35, 0.06, 700, 18, "/v1/chat/completions"},
	opus:       {chat, 6000, 0.8, 900, 0.7, 0.30, 0.10, 1200, 35, "/v1/chat/completions"},
	haiku:      {chat, 1500, 0.9, 300, 0.8, 0.30, 0.05, 350, 9, "/v1/chat/completions"},
	flash:      {chat, 2200, 1.0, 450, 0.8, 0.25, 0, 400, 6, "/v1/chat/completions"},
}

// person is one member of the demo team.
type person struct {
	email, name string
	role        team.Role
	joinDay     float64 // fraction of the period; negative: before it began
	joinHour    int     // local hour of joining
}

// The team of Acme AI. The owner comes first and signs in as demo@example.com.
var people = []person{
	{"demo@example.com", "Dana Whitfield", team.RoleOwner, -1, 10},
	{"alice@example.com", "Alice Chen", team.RoleAdmin, -1, 11},
	{"bob@example.com", "Bob Okafor", team.RoleBilling, -1, 14},
	{"carol@example.com", "Carol Díaz", team.RoleMember, -1, 16},
	{"dave@example.com", "Dave Kim", team.RoleViewer, -1, 17},
	{"erin@example.com", "Erin Novak", team.RoleMember, 1.0 / 3, 10},
	{"frank@example.com", "Frank Müller", team.RoleMember, 2.0 / 3, 9},
}

// Member indexes into people.
const (
	owner = iota
	alice
	bob
	carol
	dave
	erin
	frank
	noMember = -1
)

// profile is how a key's traffic spreads over the local hours of a day.
type profile [24]float64

var (
	// customers: around the clock, peaking in the (US) afternoon.
	customers = profile{0.35, 0.30, 0.27, 0.25, 0.25, 0.28, 0.35, 0.45, 0.60, 0.75, 0.85, 0.92,
		0.95, 1.00, 1.00, 0.98, 0.92, 0.85, 0.78, 0.70, 0.62, 0.55, 0.48, 0.40}
	// office: working hours with a lunch dip, a little in the evening.
	office = profile{0.01, 0.01, 0.005, 0.005, 0.005, 0.01, 0.02, 0.08, 0.35, 0.85, 1.00, 0.95,
		0.60, 0.85, 1.00, 0.95, 0.85, 0.60, 0.30, 0.18, 0.15, 0.10, 0.05, 0.02}
	// nightly: a batch job at 1–4 a.m.
	nightly = profile{0.05, 0.8, 1.0, 1.0, 0.6, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01,
		0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02}
)

// keyPlan is one of the workspace's keys and the traffic it sends.
type keyPlan struct {
	name, project string
	member        int
	kind          team.KeyKind
	createDay     float64 // fraction of the period; negative: at the workspace's start
	createHour    int
	revokeDay     float64 // fraction of the period; 0: never revoked
	revokeHour    int
	weight        float64 // share of traffic on a working day
	weekend       float64 // weekend traffic relative to a working day
	hours         *profile
	models        []modelShare
	stream        float64 // probability that a chat request streams
	inputScale    float64 // multiplies the model's typical prompt
	source        string
	features      []string // metadata "feature" values, when the key tags its requests
	research      bool     // part of the mid-period evaluation spike
}

type modelShare struct {
	model int
	share float64
}

var keys = []keyPlan{
	{name: "prod-api", project: "prod", member: noMember, createDay: -1, createHour: 11, weight: 0.46, weekend: 0.62, hours: &customers,
		models: []modelShare{{gpt4oMini, 0.42}, {gpt4o, 0.18}, {sonnet, 0.22}, {haiku, 0.10}, {flash, 0.08}}, stream: 0.7, inputScale: 1,
		source: "gateway", features: []string{"support-chat", "search-answers", "summaries", "email-drafts"}},
	{name: "prod-embeddings", project: "prod", member: noMember, createDay: -1, createHour: 11, weight: 0.10, weekend: 1.0, hours: &nightly,
		models: []modelShare{{embedSmall, 1}}, inputScale: 4, source: "api"},
	{name: "staging-ci", project: "staging", member: noMember, createDay: -1, createHour: 15, revokeDay: 0.5, revokeHour: 11, weight: 0.12, weekend: 0.08, hours: &office,
		models: []modelShare{{gpt4oMini, 0.6}, {haiku, 0.25}, {sonnet, 0.15}}, stream: 0.1, inputScale: 0.7, source: "gateway"},
	{name: "staging-ci-2025", project: "staging", member: noMember, createDay: 0.5, createHour: 10, weight: 0.12, weekend: 0.08, hours: &office,
		models: []modelShare{{gpt4oMini, 0.55}, {haiku, 0.25}, {sonnet, 0.20}}, stream: 0.1, inputScale: 0.7, source: "gateway"},
	{name: "alice-dev", project: "staging", member: alice, createDay: -1, createHour: 12, weight: 0.06, weekend: 0.15, hours: &office,
		models: []modelShare{{gpt41Mini, 0.45}, {sonnet, 0.35}, {gpt4o, 0.20}}, stream: 0.8, inputScale: 1.3, source: "gateway"},
	{name: "carol-research", project: "research", member: carol, createDay: -1, createHour: 17, weight: 0.08, weekend: 0.2, hours: &office,
		models: []modelShare{{o4Mini, 0.55}, {sonnet, 0.25}, {opus, 0.05}, {flash, 0.15}}, stream: 0.3, inputScale: 1.6, source: "gateway", research: true},
	{name: "carol-notebook", project: "research", member: carol, createDay: -1, createHour: 17, weight: 0.04, weekend: 0.25, hours: &office,
		models: []modelShare{{flash, 0.7}, {embedSmall, 0.3}}, stream: 0.2, inputScale: 1.2, source: "gateway", research: true},
	{name: "dana-sandbox", project: "research", member: owner, createDay: -1, createHour: 10, weight: 0.015, weekend: 0.3, hours: &office,
		models: []modelShare{{opus, 0.25}, {sonnet, 0.45}, {gpt4o, 0.30}}, stream: 0.9, inputScale: 1, source: "gateway"},
	{name: "finance-export", project: "", member: bob, kind: team.KindAdmin, createDay: -1, createHour: 15},
	{name: "erin-experiments", project: "research", member: erin, createDay: 1.0 / 3, createHour: 11, weight: 0.05, weekend: 0.2, hours: &office,
		models: []modelShare{{o4Mini, 0.5}, {gpt4o, 0.3}, {flash, 0.2}}, stream: 0.5, inputScale: 1.4, source: "gateway", research: true},
	{name: "frank-staging", project: "staging", member: frank, createDay: 2.0 / 3, createHour: 10, weight: 0.035, weekend: 0.1, hours: &office,
		models: []modelShare{{gpt4oMini, 0.7}, {haiku, 0.3}}, stream: 0.4, inputScale: 0.9, source: "gateway"},
}
