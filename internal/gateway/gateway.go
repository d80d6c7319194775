// Package gateway is Spectra's metering proxy for OpenAI's API, Anthropic's Messages API
// and Google's Gemini API (each spoken natively; wire.go). It authenticates a workspace's
// inference key, holds an estimate of the request's cost against the workspace's
// balance, forwards the request to the upstream that serves its model, reads the usage
// the upstream reports (streams included), and settles the actual cost as a usage event,
// so that requests, tokens and balance always agree.
//
// Routes (Register): POST /v1/chat/completions, /v1/completions, /v1/embeddings,
// /v1/responses, and GET /v1/models (OpenAI's); POST /v1/messages and
// /v1/messages/count_tokens (Anthropic's, anthropic.go). The operator's upstream and
// key-limit routes are served by gateway/gatewayhttp over PutUpstream, Upstreams, DeleteUpstream and
// SetKeyLimits.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"spectra/internal/budget"
	"spectra/internal/gateway/upstream"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/refresh"
	"spectra/internal/requestlog"
	"spectra/internal/team"
)

// Store is what the gateway persists itself: upstreams, key settings, and resizing the
// ledger hold that backs this node's in-memory holds. Implemented by internal/store.
type Store interface {
	upstream.Store
	// SetKeyLimits changes a key's allowed models, rpm and tpm (nil fields stay).
	SetKeyLimits(ctx context.Context, workspaceID, keyID string, l team.KeyLimits) (team.APIKey, error)
	// LeaseStore keeps the nodes' leases (ledger/lease.go).
	ledger.LeaseStore
}

// Config is what New needs. Team, Ledger, Metering and Store are required.
type Config struct {
	Team     *team.Service
	Ledger   *ledger.Service
	Metering *metering.Service
	Store    Store
	Now      func() time.Time // time.Now when nil
	Log      *slog.Logger     // slog.Default() when nil

	// SecretKey encrypts upstream secrets at rest (AES-256-GCM, 32 bytes). Nil stores
	// them in plain text, with a warning in the log.
	SecretKey []byte
	// DefaultMaxTokens bounds the output of a request that sets no max tokens, for its
	// hold, when the model's price has no max_output_tokens (default 4096).
	DefaultMaxTokens int
	// HoldTTL is how long a request stays covered by a hold (default 10m); the ledger's
	// sweeper releases holds that outlive it.
	HoldTTL time.Duration
	// Upstreams come from the optional configuration file (LoadUpstreamsFile); they are
	// merged with the upstreams registered through the API.
	Upstreams []Upstream
	// Transport sends requests to upstreams; a tuned http.Transport when nil.
	Transport http.RoundTripper
	// Budgets, when set, has the gateway enforce hard budgets (budgets.go).
	Budgets *budget.Service
	// NodeID names this gateway node among those sharing the database. It must be
	// unique among live nodes and stable across a restart of the same node: the node's
	// leases are tagged with it, and at start the node releases those its previous run
	// left behind (ValidNodeID says what is accepted). Empty gives a random id, which
	// is safe but not stable: a crashed run's leases then wait for the HoldTTL sweep.
	NodeID string
	// JournalDir holds this node's settle journal (journal.go): each finished request's
	// usage is on disk there before its answer ends, and New replays what a crashed run
	// (of this node, or of a dead node sharing the directory) left uncommitted. Empty
	// keeps no journal: a crash then loses the ~20 ms of answered requests not yet settled.
	JournalDir string
	// JournalSync makes each answer wait until its record is synced to disk (group
	// commit), so that it survives a crash of the machine too. Without it the record is
	// written to the operating system before the answer ends, which survives the process
	// being killed, and synced within milliseconds after.
	JournalSync bool
	// Refusals, when set, records every request answered with an error in the request
	// log (refusals.go).
	Refusals *requestlog.Recorder
}

// Gateway serves the OpenAI-compatible routes. Call Flush before shutting down.
type Gateway struct {
	team     *team.Service
	metering *metering.Service
	store    Store
	now      func() time.Time
	log      *slog.Logger
	box      *secretBox
	maxOut   int64
	holdTTL  time.Duration
	nodeID   string

	keys   *keyCache
	reg    *registry
	book   *holdBook
	limits *limiter
	client *http.Client
	budget *budgetGuard
	// refusals records requests answered with an error (nil: none are).
	refusals *requestlog.Recorder
	// refresh runs the background reads of the key cache, the upstream table and the
	// hard budgets' spend; StopRefreshes cancels and waits for them.
	refresh *refresh.Group

	settler settler
	pending sync.WaitGroup // requests being relayed and settles not yet committed
}

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 32 << 20

// New builds a gateway and loads the stored upstreams.
func New(c Config) (*Gateway, error) {
	if c.Team == nil || c.Ledger == nil || c.Metering == nil || c.Store == nil {
		return nil, errors.New("gateway: Team, Ledger, Metering and Store are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = 4096
	}
	if c.HoldTTL <= 0 {
		c.HoldTTL = 10 * time.Minute
	}
	if c.NodeID == "" {
		c.NodeID = RandomNodeID()
	}
	if err := ValidNodeID(c.NodeID); err != nil {
		return nil, errors.New("gateway: " + err.Error())
	}
	box, err := newSecretBox(c.SecretKey)
	if err != nil {
		return nil, err
	}
	if c.SecretKey == nil {
		c.Log.Warn("no secret key configured (SPECTRA_SECRET_KEY): upstream secrets are stored in plain text")
	}
	seen := map[string]bool{}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if err := u.Validate(); err != nil {
			return nil, err
		}
		if seen[u.Name] {
			return nil, errors.New("gateway: upstream " + u.Name + " is configured twice")
		}
		seen[u.Name] = true
	}
	if c.Transport == nil {
		c.Transport = newTransport()
	}
	rg := refresh.New(refreshTimeout)
	g := &Gateway{
		team: c.Team, metering: c.Metering, store: c.Store, now: c.Now, log: c.Log, box: box,
		maxOut: int64(c.DefaultMaxTokens), holdTTL: c.HoldTTL, nodeID: c.NodeID,
		keys:    &keyCache{team: c.Team, now: c.Now, refresh: rg, entries: map[string]cachedKey{}},
		reg:     &registry{file: c.Upstreams, store: c.Store, box: box, now: c.Now, log: c.Log, refresh: rg},
		book:    newHoldBook(leaseOps{c.Ledger, c.Store}, c.NodeID, c.Now, c.HoldTTL, c.Log),
		limits:  newLimiter(c.Now),
		client:  upstreamClient(c.Transport),
		budget:  newBudgetGuard(c.Budgets, c.Now, rg),
		refresh: rg, refusals: c.Refusals,
	}
	g.settler.g = g
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.reg.load(ctx); err != nil {
		return nil, err
	}
	if err := g.openJournal(c.JournalDir, c.JournalSync); err != nil {
		return nil, err
	}
	// Before serving, and only once the journal is this node's (it refuses a node id
	// that a live process holds) and replayed: give back the leases this node's previous
	// run left behind.
	if n, err := g.book.start(ctx); err != nil {
		return nil, errors.New("gateway: release this node's leases: " + err.Error())
	} else if n > 0 {
		c.Log.Info("released the leases this node's previous run left behind", "node", c.NodeID, "leases", n)
	}
	return g, nil
}

// refreshTimeout bounds one background read of a cache (a key, the upstreams, a
// budget's spend).
const refreshTimeout = 10 * time.Second

// StopRefreshes cancels the gateway's background cache reads (the key cache, the
// upstream table, the hard budgets' spend) and waits until they have returned. serve
// calls it at shutdown, once requests have drained (Flush); reads asked for later run
// on a cancelled context.
func (g *Gateway) StopRefreshes() { g.refresh.Close() }

// NodeID is the id this node's leases are tagged with (Config.NodeID).
func (g *Gateway) NodeID() string { return g.nodeID }

// leaseOps joins the ledger service (Release) and the store's leases for the hold book.
type leaseOps struct {
	*ledger.Service
	Store
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Register adds the gateway's routes to mux.
func (g *Gateway) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", g.forward(epChat))
	mux.Handle("POST /v1/completions", g.forward(epCompletions))
	mux.Handle("POST /v1/embeddings", g.forward(epEmbeddings))
	mux.Handle("POST /v1/responses", g.forward(epResponses))
	mux.HandleFunc("GET /v1/models", g.models)
	// Any other method gets a 405 in OpenAI's error shape, not ServeMux's text/plain one.
	for _, path := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"} {
		mux.Handle(path, g.methodNotAllowed("POST"))
	}
	mux.Handle("/v1/models", g.methodNotAllowed("GET, HEAD"))
	// The other APIs (wire.go), one line each.
	g.registerAnthropic(mux)
	g.registerGemini(mux)
}

// Flush waits until every finished request's settle is committed, then gives the
// unused part of this node's leases back to the wallets. Call it at shutdown, after the
// HTTP server has stopped accepting requests.
func (g *Gateway) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.book.flush()
}

// upstreamClient is the client of every upstream request. It never follows a redirect:
// Go's client drops only Authorization on a redirect to another host, so x-api-key and
// x-goog-api-key (and a forwarded body) would go wherever the upstream points. A 3xx
// is the upstream's answer (an upstream error on a forwarding route, a failed test).
func upstreamClient(t http.RoundTripper) *http.Client {
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
