package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 8
	DefaultTimeout     = 10 * time.Second // one webhook POST
	DefaultPoll        = 2 * time.Second  // the loop looks for work this often without a nudge
	defaultLease       = time.Minute      // a claimed attempt is this node's for this long
	batch              = 50               // alerts dispatched or deliveries claimed per round
	maxRounds          = 100              // SendDue's rounds before it yields to the next poll
	// Retention is how long finished (delivered or failed) deliveries are kept.
	Retention     = 30 * 24 * time.Hour
	pruneInterval = time.Hour
)

// Schedule is the wait before each retry: after the first failed attempt 10 s, then
// 1 min, 5 min, 30 min, 2 h, 6 h, 12 h; the eighth failure gives up.
var Schedule = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// Backoff is the default wait after failed attempt n (1-based): Schedule's entry, up to
// 10 % shorter or longer at random so retries of many deliveries spread out.
func Backoff(n int) time.Duration {
	d := Schedule[min(max(n, 1), len(Schedule))-1]
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d)) // jitter is timing, not money
}

// RecipientRoles are the roles whose members get alert emails.
var RecipientRoles = []string{"owner", "admin", "billing"}

// Config builds a Service.
type Config struct {
	Store  Store
	Mailer Mailer // nil: alerts are not emailed
	// Client sends webhooks; nil means one with Timeout that does not follow redirects
	// and, unless AllowPrivateNetworks, connects to public addresses only.
	Client  *http.Client
	Timeout time.Duration // one webhook attempt; DefaultTimeout when 0
	// AllowPrivateNetworks lets webhooks reach loopback, private and link-local
	// addresses (a self-hosted deployment posting to its own network; tests).
	AllowPrivateNetworks bool
	Now                  func() time.Time
	// Backoff is the wait after failed attempt n; the package's Backoff when nil.
	Backoff     func(n int) time.Duration
	MaxAttempts int // DefaultMaxAttempts when 0
	Log         *slog.Logger
}

// Service manages webhook endpoints and runs the outbox: dispatching alerts into
// deliveries and sending them.
type Service struct {
	store       Store
	mailer      Mailer
	client      *http.Client
	now         func() time.Time
	backoff     func(int) time.Duration
	maxAttempts int
	lease       time.Duration
	log         *slog.Logger
	nudge       chan struct{}
	pruneMu     sync.Mutex
	pruned      time.Time // when Work last pruned deliveries
}

// New returns a Service over cfg.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, mailer: cfg.Mailer, client: cfg.Client, now: cfg.Now, backoff: cfg.Backoff,
		maxAttempts: cfg.MaxAttempts, log: cfg.Log, nudge: make(chan struct{}, 1)}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if s.client == nil {
		s.client = newClient(timeout, cfg.AllowPrivateNetworks)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.backoff == nil {
		s.backoff = Backoff
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = DefaultMaxAttempts
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.lease = max(defaultLease, 3*timeout)
	return s
}

// Nudge asks the loop to look for work now (after an alert was written on this node,
// or a test message queued). It never blocks.
func (s *Service) Nudge() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// CreateEndpoint adds a webhook endpoint to a workspace and returns it with its signing
// secret, which is shown this once.
func (s *Service) CreateEndpoint(ctx context.Context, workspaceID string, in EndpointInput) (Endpoint, string, error) {
	now := s.now().UTC()
	e := Endpoint{ID: ids.New("whk"), WorkspaceID: workspaceID, Enabled: true, EventTypes: []string{}, Secret: NewSecret(),
		CreatedAt: now, UpdatedAt: now}
	if err := e.apply(in); err != nil {
		return Endpoint{}, "", err
	}
	if err := s.store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	return e, e.Secret, nil
}

// Endpoint returns one endpoint, or ErrEndpointNotFound.
func (s *Service) Endpoint(ctx context.Context, workspaceID, id string) (Endpoint, error) {
	return s.store.Endpoint(ctx, workspaceID, id)
}

// Endpoints returns a workspace's endpoints, oldest first.
func (s *Service) Endpoints(ctx context.Context, workspaceID string) ([]Endpoint, error) {
	return s.store.Endpoints(ctx, workspaceID)
}

// UpdateEndpoint changes the fields in sets; ErrEndpointNotFound.
func (s *Service) UpdateEndpoint(ctx context.Context, workspaceID, id string, in EndpointInput) (Endpoint, error) {
	e, err := s.store.Endpoint(ctx, workspaceID, id)
	if err != nil {
		return Endpoint{}, err
	}
	if err := e.apply(in); err != nil {
		return Endpoint{}, err
	}
	e.UpdatedAt = s.now().UTC()
	return e, s.store.UpdateEndpoint(ctx, e)
}

// RotateSecret gives an endpoint a new signing secret and returns it (shown this once).
// Attempts from then on are signed with the new secret.
func (s *Service) RotateSecret(ctx context.Context, workspaceID, id string) (Endpoint, string, error) {
	e, err := s.store.Endpoint(ctx, workspaceID, id)
	if err != nil {
		return Endpoint{}, "", err
	}
	e.Secret, e.UpdatedAt = NewSecret(), s.now().UTC()
	if err := s.store.UpdateEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	return e, e.Secret, nil
}

// DeleteEndpoint deletes an endpoint and its deliveries; ErrEndpointNotFound.
func (s *Service) DeleteEndpoint(ctx context.Context, workspaceID, id string) error {
	return s.store.DeleteEndpoint(ctx, workspaceID, id)
}

// SendTest queues a webhook.test message, with its own message id, to one endpoint
// (enabled or not, whatever its filter) and nudges the sender.
func (s *Service) SendTest(ctx context.Context, workspaceID, id string) (Delivery, error) {
	e, err := s.store.Endpoint(ctx, workspaceID, id)
	if err != nil {
		return Delivery{}, err
	}
	now := s.now().UTC()
	data, _ := json.Marshal(map[string]string{"workspace_id": workspaceID, "endpoint_id": e.ID,
		"message": "This is a test message from Spectra."})
	body, err := MessageBody(EventTest, now, data)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{ID: ids.New("dlv"), MessageID: ids.New("msg"), EventType: EventTest, WorkspaceID: workspaceID,
		Channel: ChannelWebhook, EndpointID: e.ID, Body: string(body), Status: StatusPending, NextAttemptAt: &now, CreatedAt: now}
	if err := s.store.QueueDelivery(ctx, d); err != nil {
		return Delivery{}, err
	}
	s.Nudge()
	return d, nil
}

// MaxPage is the most deliveries one page lists.
const MaxPage = 200

// Deliveries lists up to f.Limit deliveries newest first: a workspace's, or one
// endpoint's (ErrEndpointNotFound when it is not the workspace's). next is the cursor
// of the following page, "" on the last.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) (page []Delivery, next string, err error) {
	if f.Limit <= 0 || f.Limit > MaxPage {
		return nil, "", errs.E(errs.Invalid, "invalid_limit", "limit must be an integer from 1 to %d", MaxPage)
	}
	if f.EndpointID != "" {
		if _, err := s.store.Endpoint(ctx, f.WorkspaceID, f.EndpointID); err != nil {
			return nil, "", err
		}
	}
	limit := f.Limit
	f.Limit++
	page, err = s.store.Deliveries(ctx, f)
	if err != nil {
		return nil, "", err
	}
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	return page, next, nil
}
