package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/gateway"
	"spectra/internal/gateway/upstream"
	"spectra/internal/ids"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// The first run after the owner account: /setup?step=…&ws=… leads the operator who
// just set Spectra up through an upstream (with a connection test), the bundled list
// prices of the models it serves, starting credit and a first key, each skippable, to a
// page with a ready-to-paste curl and OpenAI SDK snippet. Each step is the console's
// call (the same domain calls as the API, recorded in the audit log); the steps are for
// an operator only (anyone else gets 404, as on /admin), so the one-time setup link
// keeps its meaning: it creates the first account, once.

// setupSteps are the steps after the account, in order.
var setupSteps = []struct{ Key, Label string }{
	{"upstream", "Upstream"}, {"prices", "Prices"}, {"credit", "Credit"}, {"key", "Key"},
}

// setupStepLink is one step of the progress list.
type setupStepLink struct {
	Key, Label, URL string
	Current, Done   bool
}

// setupPrice is one model of the prices step.
type setupPrice struct {
	Model          string
	Input, Output  money.Amount
	Cached         money.Amount
	State          string // pricing.DiffNew, DiffChanged or DiffSame
	HasListedPrice bool
}

// setupFlow is the data of the steps after the account (setupData.Flow).
type setupFlow struct {
	Step   string
	WS     team.Workspace
	Steps  []setupStepLink
	Next   string // the next step's URL (also "Skip")
	Error  string
	Code   string
	Notice string

	// upstream
	Upstreams []gateway.UpstreamView
	UpName    string
	UpAPI     string
	UpBaseURL string
	UpModels  string
	APIs      []string
	Test      *gateway.UpstreamTest
	// prices
	Prices   []setupPrice
	Unpriced []string // served models with no list price and no price in effect
	ToLoad   int
	// credit
	Amount  string
	IdemKey string
	Balance money.Amount
	// key and done
	KeyName  string
	NoCredit bool // the workspace cannot pay for a request yet (the credit step was skipped)
	Secret   string
	BaseURL  string
	Model    string
	Curl     string
	Python   string
}

func (f *setupFlow) url(step string) string {
	return "/setup?step=" + step + "&ws=" + url.QueryEscape(f.WS.ID)
}

// CreditURL is the credit step's address.
func (f *setupFlow) CreditURL() string { return f.url("credit") }

// setupFlowFor loads the flow's workspace and progress for step.
func (s *Server) setupFlowFor(r *http.Request, step string) (*setupFlow, error) {
	ws, err := s.team.Workspace(r.Context(), r.URL.Query().Get("ws"))
	if err != nil {
		return nil, errNotFound
	}
	f := &setupFlow{Step: step, WS: ws}
	seen := false
	for i, st := range setupSteps {
		f.Steps = append(f.Steps, setupStepLink{Key: st.Key, Label: st.Label, URL: f.url(st.Key), Current: st.Key == step, Done: !seen && st.Key != step})
		if st.Key == step {
			seen = true
			f.Next = f.url("done")
			if i+1 < len(setupSteps) {
				f.Next = f.url(setupSteps[i+1].Key)
			}
		}
	}
	if !seen && step != "done" {
		return nil, errNotFound
	}
	return f, nil
}

// setupStepPage is GET /setup?step=…: one step of the first run.
func (s *Server) setupStepPage(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	f, err := s.setupFlowFor(r, r.URL.Query().Get("step"))
	if err != nil {
		return err
	}
	switch f.Step {
	case "upstream":
		s.fillUpstreamStep(r, f)
		f.UpAPI = upstream.OpenAI
	case "prices":
		if err := s.fillPricesStep(r, f); err != nil {
			return err
		}
	case "credit":
		f.Amount, f.IdemKey = "10.00", "setup-"+ids.Random(12)
		b, err := s.ledger.Balance(r.Context(), f.WS.ID)
		if err != nil {
			return err
		}
		f.Balance = b.Balance
	case "key":
		f.KeyName = "first-key"
	case "done":
		http.Redirect(w, r, "/w/"+f.WS.ID+"/", http.StatusSeeOther)
		return nil
	}
	return s.renderStep(w, r, a, f, http.StatusOK)
}

func (s *Server) renderStep(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow, status int) error {
	d := setupData{pageBase: s.base("Set up Spectra", a.V, nil), Flow: f}
	return s.render(w, r, status, "setup", d)
}

// stepFailed shows the step again with the domain's reason (bad input), or fails.
func (s *Server) stepFailed(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow, err error) error {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.NotFound:
	default:
		return err
	}
	f.Error, f.Code = userMessage(err), errs.CodeOf(err)
	return s.renderStep(w, r, a, f, statusOf(err))
}

func (s *Server) fillUpstreamStep(r *http.Request, f *setupFlow) {
	f.APIs = []string{upstream.OpenAI, upstream.Anthropic, upstream.Gemini}
	if s.upstreams != nil {
		f.Upstreams, _ = s.upstreams.Upstreams(r.Context())
	}
}

// setupStepPost is POST /setup?step=…: the step's action.
func (s *Server) setupStepPost(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	f, err := s.setupFlowFor(r, r.URL.Query().Get("step"))
	if err != nil {
		return err
	}
	switch f.Step {
	case "upstream":
		return s.setupUpstream(w, r, a, f)
	case "prices":
		return s.setupPrices(w, r, a, f)
	case "credit":
		return s.setupCredit(w, r, a, f)
	case "key":
		return s.setupKey(w, r, a, f)
	}
	return errNotFound
}

// setupUpstream registers the upstream (gateway.PutUpstreamKeepSecret, as the console)
// and tests it (gateway.TestUpstream). With no models typed, the upstream's own /models
// listing names them (a test before saving).
func (s *Server) setupUpstream(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow) error {
	ctx := r.Context()
	s.fillUpstreamStep(r, f)
	if s.upstreams == nil {
		return s.stepFailed(w, r, a, f, errs.E(errs.Invalid, "gateway_unavailable", "the gateway is not running in this deployment: skip this step"))
	}
	f.UpName, f.UpAPI = strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("api")
	f.UpBaseURL, f.UpModels = strings.TrimSpace(r.PostFormValue("base_url")), r.PostFormValue("models")
	u := gateway.Upstream{Name: f.UpName, API: f.UpAPI, BaseURL: f.UpBaseURL, APIKey: strings.TrimSpace(r.PostFormValue("api_key")), Models: splitModels(f.UpModels)}
	if len(u.Models) == 0 {
		// The models it serves, from its own listing (the same test, before saving).
		t := gateway.TestUpstreamWith(ctx, &http.Client{}, u)
		if !t.OK || len(t.Models) == 0 {
			f.Test = &t
			return s.stepFailed(w, r, a, f, errs.E(errs.Invalid, "invalid_models",
				"the upstream did not list its models (see the test below): fix the connection, or type the models it serves"))
		}
		u.Models = t.Models
		if len(u.Models) > upstream.MaxModels {
			u.Models = u.Models[:upstream.MaxModels]
		}
	}
	if s.upstreamView(ctx, u.Name) != nil {
		return s.stepFailed(w, r, a, f, errs.E(errs.Conflict, "upstream_exists", "an upstream named %q exists already: choose another name, or continue", u.Name))
	}
	v, _, err := s.upstreams.PutUpstreamKeepSecret(ctx, u, false)
	if err != nil {
		return s.stepFailed(w, r, a, f, err)
	}
	secret := "none"
	if v.HasAPIKey {
		secret = "set"
	}
	s.audit(ctx, a, audit.Entry{Action: "upstream.put", Target: "upstream " + v.Name, After: upstreamFields(v, secret)})
	t, err := s.upstreams.TestUpstream(ctx, v.Name)
	if err != nil {
		return err
	}
	f.Test = &t
	f.UpName, f.UpBaseURL, f.UpModels = "", "", ""
	f.UpAPI = upstream.OpenAI
	s.fillUpstreamStep(r, f)
	f.Notice = "Upstream “" + v.Name + "” registered with " + strconv.Itoa(len(v.Models)) + " models."
	return s.renderStep(w, r, a, f, http.StatusOK)
}

// fillPricesStep lists the bundled list prices of the models the upstreams serve,
// against the catalog in effect.
func (s *Server) fillPricesStep(r *http.Request, f *setupFlow) error {
	ctx := r.Context()
	served := map[string]bool{}
	var order []string
	if s.upstreams != nil {
		views, err := s.upstreams.Upstreams(ctx)
		if err != nil {
			return err
		}
		for _, v := range views {
			for _, m := range v.Models {
				if !served[m] {
					served[m] = true
					order = append(order, m)
				}
			}
		}
	}
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return err
	}
	list, err := pricing.ListPrices(s.currency)
	if err != nil {
		f.Notice = "The bundled list prices are in USD and this deployment charges in " + s.currency + ": add prices in the console's Prices page."
		list = nil
	}
	byModel := map[string]pricing.Price{}
	for _, p := range list {
		if served[p.Model] {
			byModel[p.Model] = p
		}
	}
	var imported []pricing.Price
	for _, m := range order {
		if p, ok := byModel[m]; ok {
			imported = append(imported, p)
		} else if _, err := cat.At(m, s.now()); err != nil {
			f.Unpriced = append(f.Unpriced, m)
		}
	}
	for _, d := range pricing.Diff(cat, imported, s.now()) {
		p := d.New
		f.Prices = append(f.Prices, setupPrice{Model: p.Model, Input: p.Input, Output: p.Output, Cached: p.CachedInput, State: d.Kind})
		if d.Kind != pricing.DiffUnchanged {
			f.ToLoad++
		}
	}
	return nil
}

// setupPrices adds a price version (effective now, metering.Service.PutPrice as the
// console) for each listed model whose list price is new or differs from its price.
func (s *Server) setupPrices(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow) error {
	if err := s.fillPricesStep(r, f); err != nil {
		return err
	}
	list, _ := pricing.ListPrices(s.currency)
	loaded := 0
	for _, sp := range f.Prices {
		if sp.State == pricing.DiffUnchanged {
			continue
		}
		for _, p := range list {
			if p.Model == sp.Model {
				p.EffectiveFrom = a.Now
				if _, _, err := s.putPrice(r, a, p); err != nil {
					return s.stepFailed(w, r, a, f, err)
				}
				loaded++
			}
		}
	}
	http.Redirect(w, r, f.Next+"&loaded="+strconv.Itoa(loaded), http.StatusSeeOther)
	return nil
}

// setupCredit grants starting credit (ledger.Service.Grant, as the console and POST
// /api/v1/workspaces/{id}/grants): the form's idempotency key makes a second submit
// of the same form a replay, not a second grant.
func (s *Server) setupCredit(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow) error {
	ctx := r.Context()
	f.Amount, f.IdemKey = strings.TrimSpace(r.PostFormValue("amount")), strings.TrimSpace(r.PostFormValue("idempotency_key"))
	amount, err := money.ParsePositive(f.Amount)
	if err != nil {
		return s.stepFailed(w, r, a, f, errInvalidGrantAmount)
	}
	if f.IdemKey == "" || len(f.IdemKey) > 200 {
		return s.stepFailed(w, r, a, f, errs.E(errs.Invalid, "invalid_idempotency_key", "the idempotency key is missing: reload the page"))
	}
	before, err := s.ledger.Balance(ctx, f.WS.ID)
	if err != nil {
		return err
	}
	t, created, err := s.ledger.Grant(ctx, f.WS.ID, amount, f.IdemKey, "Starting credit (first run)")
	if err != nil {
		return s.stepFailed(w, r, a, f, err)
	}
	if created {
		s.audit(ctx, a, audit.Entry{Action: "grant", WorkspaceID: f.WS.ID, Target: "transfer " + strconv.FormatInt(t.ID, 10), IdempotencyKey: f.WS.ID + ":" + f.IdemKey,
			Before: map[string]string{"balance": before.Balance.String()},
			After:  map[string]string{"balance": (before.Balance + t.Amount).String(), "amount": t.Amount.String(), "note": t.Note}})
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
	return nil
}

// setupKey creates the operator's first inference key in the workspace and shows it,
// once, with the snippets that use it.
func (s *Server) setupKey(w http.ResponseWriter, r *http.Request, a *adminRequest, f *setupFlow) error {
	f.KeyName = strings.TrimSpace(r.PostFormValue("name"))
	// The key is the operator's when they are a member (the first owner is), else the
	// workspace's shared key.
	member := a.V.User.ID
	if _, err := s.accounts.Member(r.Context(), f.WS.ID, member); errs.KindOf(err) == errs.NotFound || errs.KindOf(err) == errs.Forbidden {
		member = ""
	} else if err != nil {
		return err
	}
	k, secret, err := s.team.CreateKey(r.Context(), team.APIKey{WorkspaceID: f.WS.ID, Name: f.KeyName, Kind: team.KindInference, MemberID: member})
	if err != nil {
		return s.stepFailed(w, r, a, f, err)
	}
	s.log.Info("first-run key created", "workspace", f.WS.ID, "key", k.ID, "by", a.V.User.ID)
	f.Step, f.Secret = "done", secret
	for i := range f.Steps {
		f.Steps[i].Current, f.Steps[i].Done = false, true
	}
	if b, err := s.ledger.Balance(r.Context(), f.WS.ID); err == nil && b.Available <= 0 {
		f.NoCredit = true
	}
	f.BaseURL = baseURLOf(r) + "/v1"
	f.Model = s.snippetModel(r)
	f.Curl = "curl " + f.BaseURL + "/chat/completions \\\n" +
		"  -H \"Authorization: Bearer " + secret + "\" \\\n" +
		"  -H \"Content-Type: application/json\" \\\n" +
		"  -d '{\"model\": \"" + f.Model + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}]}'"
	f.Python = "from openai import OpenAI\n\n" +
		"client = OpenAI(base_url=\"" + f.BaseURL + "\", api_key=\"" + secret + "\")\n" +
		"reply = client.chat.completions.create(\n" +
		"    model=\"" + f.Model + "\",\n" +
		"    messages=[{\"role\": \"user\", \"content\": \"Hello!\"}],\n" +
		")\n" +
		"print(reply.choices[0].message.content)"
	return s.renderStep(w, r, a, f, http.StatusCreated)
}

// snippetModel is the model the snippets call: the first model an upstream of OpenAI's
// API serves that has a price in effect, else the first served one, else gpt-4o-mini.
func (s *Server) snippetModel(r *http.Request) string {
	if s.upstreams == nil {
		return "gpt-4o-mini"
	}
	views, err := s.upstreams.Upstreams(r.Context())
	if err != nil {
		return "gpt-4o-mini"
	}
	cat, err := s.metering.Catalog(r.Context())
	first := ""
	for _, v := range views {
		if v.API != "" && v.API != upstream.OpenAI {
			continue
		}
		for _, m := range v.Models {
			if first == "" {
				first = m
			}
			if err == nil {
				if _, perr := cat.At(m, s.now()); perr == nil {
					return m
				}
			}
		}
	}
	if first != "" {
		return first
	}
	return "gpt-4o-mini"
}

// baseURLOf is the deployment's address as the browser reached it (the gateway is
// served on the same address, under /v1).
func baseURLOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
