package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spectra/internal/api"
	"spectra/internal/audit"
	"spectra/internal/background"
	"spectra/internal/billing"
	"spectra/internal/billing/billinghttp"
	"spectra/internal/budget"
	"spectra/internal/budget/budgethttp"
	"spectra/internal/console"
	"spectra/internal/demo"
	"spectra/internal/gateway"
	"spectra/internal/gateway/gatewayhttp"
	"spectra/internal/invoicepdf"
	"spectra/internal/ledger"
	"spectra/internal/mail"
	"spectra/internal/metering"
	"spectra/internal/notify"
	"spectra/internal/notify/notifyhttp"
	"spectra/internal/requestlog"
	"spectra/internal/requestlog/requestloghttp"
	"spectra/internal/store"
	"spectra/internal/team"
	"spectra/internal/web"
)

// Server timings.
const (
	readHeaderTimeout    = 10 * time.Second
	idleTimeout          = 2 * time.Minute
	shutdownTimeout      = 30 * time.Second // in-flight requests get this long to finish
	sweepInterval        = 10 * time.Second // expired holds are released this often
	statementInterval    = time.Hour        // last month's statements are issued (idempotently) this often
	autoRechargeInterval = 30 * time.Second // workspaces below their auto-recharge threshold are charged this soon
	flushInterval        = 5 * time.Second  // keys' last-used times are written this often
	budgetSweepInterval  = time.Minute      // every budget and low-balance line is evaluated this often
)

func serveCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	var o demoFlags
	o.register(fs, "demo", "before serving, fill an empty database with a demo workspace (see 'spectra demo')")
	return func(ctx context.Context, e *env) error { return serve(ctx, e, o) }
}

// deps is everything the transports and background loops are built from.
type deps struct {
	cfg            Config
	db             *store.DB
	team           *team.Service
	ledger         *ledger.Service
	metering       *metering.Service
	accounts       *team.Accounts
	gateway        *gateway.Gateway
	billing        *billing.Service
	notify         *notify.Service
	budgets        *budget.Service
	mail           mail.Sender // nil: no SMTP server configured, no email is sent
	invitations    *team.Invitations
	adminTokenHash string
	now            func() time.Time
	log            *slog.Logger
	registry       *prometheus.Registry
	refusals       *requestlog.Recorder // the gateway's refused and failed requests, written in batches (requestlog.go)
	requests       *requestlog.Service  // the request log: usage events and refusals
	console        *console.Service     // the operator console's figures; its snapshot is refreshed by a job (jobs.go)
}

// routes registers every transport on mux: one line each. A transport whose
// construction can fail (parsing templates, say) returns its error here, before serve
// listens.
func routes(mux *http.ServeMux, d deps) error {
	auditLog := audit.New(d.db, d.now) // the operator's audit log: the API and the console record into it
	a := api.New(api.Deps{Team: d.team, Accounts: d.accounts, Invitations: d.invitations, Ledger: d.ledger, Metering: d.metering, Prices: d.db, DB: d.db,
		AdminTokenHash: d.adminTokenHash, Currency: d.cfg.Currency, Now: d.now, Log: d.log, Registry: d.registry,
		OpenAPIParts: [][]byte{billinghttp.OpenAPI, gatewayhttp.OpenAPI, budgethttp.OpenAPI, notifyhttp.OpenAPI, requestloghttp.OpenAPI},
		Audit:        auditLog, AuditSnapshots: upstreamAuditSnapshots(d.gateway)})
	a.Register(mux)
	billinghttp.Register(mux, d.billing, a)
	budgethttp.Register(mux, d.budgets, a)
	notifyhttp.Register(mux, d.notify, a, d.log.With("component", "notify"))
	d.gateway.Register(mux)
	requestloghttp.Register(mux, d.requests, d.team, a, d.cfg.Currency, d.log)
	gatewayhttp.Register(mux, d.gateway, a)
	w, err := web.New(web.Deps{Team: d.team, Accounts: d.accounts, Ledger: d.ledger, Metering: d.metering, Prices: d.db,
		Billing: d.billing, Budget: d.budgets, Notify: d.notify, Invitations: d.invitations, Requests: d.requests, Currency: d.cfg.Currency, Now: d.now, Log: d.log.With("component", "web"),
		SecureCookies: d.cfg.Services.SecureCookies, OperatorTokenHash: d.adminTokenHash,
		Audit: auditLog, Console: d.console, Upstreams: d.gateway})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	w.Register(mux)
	return nil
}

// serve opens and migrates the database, serves HTTP until ctx ends, then shuts down
// gracefully: stop accepting, let in-flight requests finish (up to shutdownTimeout),
// stop the background loops, close the database.
func serve(ctx context.Context, e *env, demoOpts demoFlags) error {
	log := e.log
	// The store and the services read the real time, except under --demo: the demo turns
	// its clock back while it writes the history (demo.Clock), and follows time.Now after.
	now, demoClock := time.Now, (*demo.Clock)(nil)
	if demoOpts.enabled {
		demoClock = demo.NewClock(time.Now)
		now = demoClock.Now
	}
	db, err := openStoreAt(ctx, e, true, now)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		log.Info("applied migration", "migration", name)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := checkCurrency(ctx, db, e.cfg.Currency); err != nil {
		return err
	}
	db.SetPaidCreditExpiry(e.cfg.Services.Billing.PaidCreditExpiry) // credit lots (SPECTRA_PAID_CREDIT_EXPIRY)
	hash, err := adminTokenHash(ctx, db, e.cfg.AdminToken, e.stderr, log)
	if err != nil {
		return err
	}
	d, err := newDeps(e.cfg, db, hash, log, now)
	if err != nil {
		return err
	}
	var signIn string
	if demoOpts.enabled {
		if signIn, err = seedDemo(ctx, e, d, demoClock, demoOpts); err != nil {
			return err
		}
	}
	setupToken, err := d.accounts.SetupToken(ctx) // "" once an account exists
	if err != nil {
		return fmt.Errorf("first-run setup: %w", err)
	}
	mux := http.NewServeMux()
	if err := routes(mux, d); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           logRequests(log, d.now, mux),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// No WriteTimeout: the gateway streams responses for as long as the model writes.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	loops := background.Start(ctx, log, jobs(d)...) // see jobs.go
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	url := "http://" + displayAddr(ln.Addr())
	log.Info("listening", "url", url, "database", redactDSN(e.cfg.Database), "dialect", db.Dialect(), "currency", e.cfg.Currency)
	fmt.Fprintf(e.stdout, "Spectra is running at %s/ (Ctrl-C to stop)\n", url)
	if signIn != "" {
		fmt.Fprint(e.stdout, signIn)
	}
	printSetupLink(e, setupToken, url)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "drain", shutdownTimeout)
	case serveErr = <-served:
		log.Error("server stopped", "err", serveErr)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "err", err)
		srv.Close()
	}
	if err := d.gateway.Flush(shutCtx); err != nil {
		log.Error("gateway: settle in-flight usage", "err", err)
	}
	if err := d.gateway.Close(); err != nil {
		log.Error("gateway: close the settle journal", "err", err)
	}
	loops.Stop()              // cancels every background job and waits for it
	d.gateway.StopRefreshes() // the caches' background reads (keys, upstreams, budgets' spend)
	d.budgets.Close()         // its cache's background reads, and the alert evaluations started by the last ingestions
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

// newDeps builds the domain services over db.
func newDeps(cfg Config, db *store.DB, adminTokenHash string, log *slog.Logger, now func() time.Time) (deps, error) {
	d := deps{
		cfg:            cfg,
		db:             db,
		team:           team.NewService(db, now),
		accounts:       team.NewAccounts(db, now),
		ledger:         ledger.NewService(db, now),
		metering:       metering.NewService(db, db, now),
		adminTokenHash: adminTokenHash,
		now:            now,
		log:            log,
		registry:       prometheus.NewRegistry(), // shared by every transport's /metrics
		refusals:       requestlog.NewRecorder(db, now),
		console:        console.New(db, now),
	}
	registerRequestLogMetrics(d.registry, d.refusals)
	bc := cfg.Services.Billing
	bc.Now, bc.Log, bc.RenderPDF = now, log.With("component", "billing"), invoicepdf.Render
	b, err := billing.New(bc, db, d.ledger, d.team, d.metering)
	if err != nil {
		return deps{}, fmt.Errorf("billing: %w", err)
	}
	d.billing = b
	if cfg.Services.Mail != nil {
		d.mail = cfg.Services.Mail
		log.Info("email enabled", "smtp", cfg.Services.Mail.Addr(), "from", cfg.Services.Mail.From())
	} else {
		log.Info("no SMTP server configured (SPECTRA_SMTP_URL): no email is sent; invitation links are shown to the inviter")
	}
	d.notify = notify.New(notify.Config{Store: db, Mailer: d.mail, Now: now, Log: log.With("component", "notify"),
		AllowPrivateNetworks: cfg.Services.WebhookAllowPrivate})
	if d.budgets, err = budget.New(budget.Config{Store: db, Metering: d.metering, Ledger: d.ledger, Team: d.team,
		Currency: cfg.Currency, Now: now, Log: log.With("component", "budgets"), OnAlert: d.notify.Nudge}); err != nil {
		return deps{}, fmt.Errorf("budgets: %w", err)
	}
	var upstreams []gateway.Upstream
	if f := cfg.Services.UpstreamsFile; f != "" {
		if upstreams, err = gateway.LoadUpstreamsFile(f); err != nil {
			return deps{}, fmt.Errorf("%s: %w", envUpstreamsFile, err)
		}
	}
	d.gateway, err = gateway.New(gateway.Config{Team: d.team, Ledger: d.ledger, Metering: d.metering, Store: db, Now: now,
		Log: log.With("component", "gateway"), SecretKey: cfg.Services.SecretKey, DefaultMaxTokens: cfg.Services.DefaultMaxTokens,
		HoldTTL: cfg.Services.HoldTTL, Upstreams: upstreams, Budgets: d.budgets, NodeID: cfg.Services.NodeID,
		JournalDir: cfg.Services.DataDir, JournalSync: cfg.Services.JournalSync, Refusals: d.refusals})
	if err != nil {
		return deps{}, fmt.Errorf("gateway: %w", err)
	}
	d.requests = requestlog.NewService(d.metering, db, d.budgets)
	log.Info("gateway node", "id", d.gateway.NodeID(), "from", cfg.Services.NodeIDFrom)
	// A key revoked through this node (by itself, or with its removed member) stops at once.
	d.team.OnKeysRevoked(d.gateway.ForgetKeys)
	d.accounts.OnKeysRevoked(d.gateway.ForgetKeys)
	// A member's keys follow a role changed through this node at once (elsewhere within 1 s).
	d.accounts.OnRoleChanged(d.gateway.ForgetMemberKeys)
	d.invitations = team.NewInvitations(db, d.accounts, d.team, team.InvitationsConfig{BaseURL: cfg.Services.Billing.PublicURL,
		TTL: cfg.Services.InvitationTTL, Mail: d.mail, Log: log.With("component", "invitations"), Now: now})
	return d, nil
}

// displayAddr is the listener's address as a person would type it in a browser.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// currencySetting remembers the currency a database's amounts are in.
const currencySetting = "currency"

// checkCurrency records the deployment's currency on first start and refuses to start
// with another one later: stored amounts are never converted.
func checkCurrency(ctx context.Context, db *store.DB, currency string) error {
	stored, _, err := db.SetSettingIfAbsent(ctx, currencySetting, currency)
	if err != nil {
		return fmt.Errorf("read the database's currency: %w", err)
	}
	if stored != currency {
		return fmt.Errorf("this database keeps its amounts in %s, but the configured currency is %s; amounts are never converted, so set SPECTRA_CURRENCY=%s (or use another database)", stored, currency, stored)
	}
	return nil
}
