package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"spectra/internal/demo"
)

// demoFlags are the flags of `spectra demo` and of `spectra serve --demo`.
type demoFlags struct {
	enabled  bool
	password string
	days     int
	events   int
	perDay   int
}

// register declares the demo flags on fs; switchName, when set, is the flag that turns
// seeding on (serve's --demo); without it seeding always runs.
func (o *demoFlags) register(fs *flag.FlagSet, switchName, usage string) {
	if switchName != "" {
		fs.BoolVar(&o.enabled, switchName, false, usage)
	} else {
		o.enabled = true
	}
	fs.StringVar(&o.password, "demo-password", demo.DefaultPassword, "password of the demo members ("+demo.OwnerEmail+" is the owner)")
	fs.IntVar(&o.days, "days", demo.DefaultDays, "days of demo usage history, ending now")
	fs.IntVar(&o.perDay, "events-per-day", demo.DefaultEventsPerDay, "average demo requests per day")
	fs.IntVar(&o.events, "events", 0, "total demo requests (overrides --events-per-day; e.g. 10000000 for the benchmark)")
}

func demoCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	var o demoFlags
	o.register(fs, "", "")
	return func(ctx context.Context, e *env) error {
		clock := demo.NewClock(time.Now)
		db, err := openStoreAt(ctx, e, true, clock.Now)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := checkCurrency(ctx, db, e.cfg.Currency); err != nil {
			return err
		}
		d, err := newDeps(e.cfg, db, "", e.log, clock.Now)
		if err != nil {
			return err
		}
		msg, err := seedDemo(ctx, e, d, clock, o)
		if err != nil {
			return err
		}
		fmt.Fprint(e.stdout, msg)
		fmt.Fprintln(e.stdout, "Run 'spectra serve' with the same --database to open the dashboard.")
		return nil
	}
}

// seedDemo fills an empty database with the demo workspace and returns how to sign in.
// A database that already has accounts is left alone (with a note when it is the demo's).
func seedDemo(ctx context.Context, e *env, d deps, clock *demo.Clock, o demoFlags) (string, error) {
	has, err := d.accounts.HasUsers(ctx)
	if err != nil {
		return "", err
	}
	if has {
		if u, err := d.accounts.UserByEmail(ctx, demo.OwnerEmail); err == nil {
			msg := fmt.Sprintf("Demo data is already here: sign in as %s (password as when it was made).\n", demo.OwnerEmail) + operatorNote
			if u.Operator {
				// Made by an older Spectra, whose demo owner was an operator.
				e.log.Warn("the demo owner is an operator, with the demo's password: make a new demo database, or never expose this one",
					"email", demo.OwnerEmail)
				msg += "Warning: on this older demo database " + demo.OwnerEmail + " is an operator (sees every workspace); make a new demo database.\n"
			}
			return msg, nil
		}
		e.log.Warn("not seeding demo data: this database already has accounts")
		return "", nil
	}
	start := time.Now()
	last := time.Time{}
	res, err := demo.Seed(ctx, demo.Deps{Team: d.team, Accounts: d.accounts, Ledger: d.ledger, Metering: d.metering, Prices: d.db, Billing: d.billing, Budgets: d.budgets, Clock: clock},
		demo.Options{Password: o.password, Days: o.days, EventsPerDay: o.perDay, Events: o.events,
			Progress: func(done, total int) {
				if time.Since(last) > 5*time.Second {
					last = time.Now()
					fmt.Fprintf(e.stderr, "demo: %d of %d requests written\n", done, total)
				}
			}})
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	e.log.Info("demo data written", "events", res.Events, "members", res.Members, "took", time.Since(start).Round(time.Millisecond))
	return fmt.Sprintf("Demo workspace %q: %d requests over %d days, %d members.\nSign in as %s (the workspace's owner) with password %s\n",
		demo.WorkspaceName, res.Events, o.days, res.Members, res.OwnerEmail, res.Password) + operatorNote, nil
}

// operatorNote follows the demo's sign-in: the demo's password is published, so no demo
// account is an operator, and operators come in with the admin token.
const operatorNote = "The demo accounts are not operators. Operators use the admin token (printed on the first start, or " +
	envAdminToken + ") as 'Authorization: Bearer <token>', in the API and the dashboard.\n"

// printSetupLink prints the one-time link that creates the first owner, when no
// account exists yet (token is "" otherwise).
func printSetupLink(e *env, token, url string) {
	if token != "" {
		fmt.Fprintf(e.stdout, "No account exists yet. Create the owner at:\n\n    %s/setup?token=%s\n\n(or run 'spectra serve --demo' on an empty database for demo data)\n", url, token)
	}
}
