package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

func TestVerifySQLite(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	testVerify(t, dsn)
}

func TestVerifyPostgres(t *testing.T) {
	testVerify(t, postgresDSN(t))
}

// testVerify: verify passes on a healthy database, exits 1 naming the problem after a
// wallet's stored balance is tampered with, and reports the same as JSON.
func testVerify(t *testing.T, dsn string) {
	out, _, err := runCmd(t, nil, "migrate", "--database", dsn)
	if err != nil || !strings.Contains(out, "applied 0001_core") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, nil, "migrate", "--database", dsn)
	if err != nil || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("migrate again: %v\n%s", err, out)
	}
	wsID := populate(t, dsn)

	out, _, err = runCmd(t, nil, "verify", "--database", dsn)
	if err != nil {
		t.Fatalf("verify on a healthy database: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`All \d+ checks passed.`).MatchString(out) || !strings.Contains(out, "ok    rollups equal the sum of their events (1 checked)") {
		t.Errorf("verify output:\n%s", out)
	}

	if _, err := rawDB(t, dsn).Exec(`UPDATE accounts SET balance = balance + 1 WHERE id = 'wallet:` + wsID + `'`); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, nil, "verify", "--database", dsn)
	if exitCode(err) != 1 {
		t.Fatalf("verify after tampering: exit %d (%v)\n%s", exitCode(err), err, out)
	}
	for _, want := range []string{
		"FAIL  wallet balances equal the sum of their entries (1 checked, 1 problem(s))",
		"wallet:" + wsID + ": stored balance 9999400001, entries sum to 9999400000",
		"FAIL  each wallet's last running balance is its balance",
		"FAIL  each wallet's lots less its uncovered debt equal its balance",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`^verify: 3 of \d+ checks found differences$`).MatchString(err.Error()) {
		t.Errorf("error: %v", err)
	}

	out, _, err = runCmd(t, nil, "verify", "--json", "--database", dsn)
	if exitCode(err) != 1 {
		t.Fatalf("verify --json: exit %d", exitCode(err))
	}
	var rep store.VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	if rep.OK() || len(rep.Checks) < 7 {
		t.Errorf("verify --json: %+v", rep)
	}
}

// populate grants credit to a new workspace and ingests one priced event through the
// domain services, and returns the workspace id.
func populate(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	db := openTestStore(t, dsn)
	defer db.Close()
	now := func() time.Time { return time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) }
	ws, err := team.NewService(db, now).CreateWorkspace(ctx, team.Workspace{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ledger.NewService(db, now).Grant(ctx, ws.ID, 10_000*money.Scale, "g1", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPrice(ctx, pricing.Price{Model: "m", Input: 2 * money.Scale, Output: 8 * money.Scale,
		EffectiveFrom: now().Add(-time.Hour), CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	res, err := metering.NewService(db, db, now).Ingest(ctx, []metering.Event{{ID: "e1", WorkspaceID: ws.ID, Model: "m",
		Timestamp: now(), Usage: pricing.Usage{Input: 100_000, Output: 50_000}}})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	return ws.ID
}

func TestVerifyMissingDatabase(t *testing.T) {
	_, path := sqliteDSN(t)
	_, _, err := runCmd(t, nil, "verify", "--database", path)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "no database at "+path) {
		t.Fatalf("verify without a database: exit %d, %v", exitCode(err), err)
	}
}

func TestVerifyUnmigratedDatabase(t *testing.T) {
	_, path := sqliteDSN(t)
	rawDB(t, "sqlite:"+path).Exec(`CREATE TABLE x (y INTEGER)`)
	_, _, err := runCmd(t, nil, "verify", "--database", path)
	if exitCode(err) != 2 {
		t.Fatalf("verify on an empty database: exit %d, %v", exitCode(err), err)
	}
}

// A database made by 'spectra demo' passes every check of 'spectra verify', billing's
// included: its top-ups are payments with their receipts, its budgets' alerts stored.
func TestDemoVerifies(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	out, errOut, err := runCmd(t, nil, "demo", "--database", dsn, "--days", "20", "--events-per-day", "100")
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out, errOut)
	}
	out, _, err = runCmd(t, nil, "verify", "--database", dsn)
	if err != nil || !regexp.MustCompile(`All \d+ checks passed.`).MatchString(out) ||
		!regexp.MustCompile(`ok    every payment has one receipt for its amount \([1-9]\d* checked\)`).MatchString(out) {
		t.Fatalf("verify on a demo database: %v\n%s", err, out)
	}
}
