package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"spectra/internal/team"
)

func TestHelp(t *testing.T) {
	out, _, err := runCmd(t, nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve", "migrate", "verify", "admin-token", "version", "help"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, out)
		}
	}
	out, _, err = runCmd(t, nil, "help", "serve")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-addr", "SPECTRA_ADDR", "-database", "SPECTRA_DATABASE_URL", "-currency", "SPECTRA_CURRENCY", "-log-format", "-log-level"} {
		if !strings.Contains(out, want) {
			t.Errorf("help serve lacks %s:\n%s", want, out)
		}
	}
	_, errOut, err := runCmd(t, nil, "verify", "-h")
	if err != nil || !strings.Contains(errOut, "-json") {
		t.Errorf("verify -h: %v\n%s", err, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"help", "frobnicate"},
		{"serve", "extra"},
		{"serve", "--no-such-flag"},
		{"migrate", "--database", "mysql://x/y"},
	} {
		_, _, err := runCmd(t, nil, args...)
		if exitCode(err) != 2 {
			t.Errorf("spectra %q: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

func TestExitCode(t *testing.T) {
	if exitCode(nil) != 0 || exitCode(errors.New("x")) != 1 || exitCode(&exitError{code: 2, err: errors.New("x")}) != 2 {
		t.Error("exit codes")
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "spectra ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// The first start stores a token's hash and prints the token once; later starts reuse
// the hash without printing; SPECTRA_ADMIN_TOKEN wins over the stored one.
func TestAdminToken(t *testing.T) {
	ctx := context.Background()
	dsn, _ := sqliteDSN(t)
	db := openTestStore(t, dsn)
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	var first strings.Builder
	hash, err := adminTokenHash(ctx, db, "", &first, log)
	if err != nil {
		t.Fatal(err)
	}
	tok := regexp.MustCompile(`spectra_admin_[0-9a-z]+`).FindString(first.String())
	if team.HashSecret(tok) != hash {
		t.Error("the printed token does not match the stored hash")
	}

	var second strings.Builder
	again, err := adminTokenHash(ctx, db, "", &second, log)
	if err != nil || again != hash {
		t.Fatalf("second start: %q %v", again, err)
	}
	if strings.Contains(second.String(), "spectra_admin_") || !strings.Contains(second.String(), "spectra admin-token --reset") {
		t.Errorf("second start said:\n%s", second.String())
	}

	fromEnv, err := adminTokenHash(ctx, db, "operator-token-from-env", io.Discard, log)
	if err != nil || fromEnv != team.HashSecret("operator-token-from-env") {
		t.Errorf("from the environment: %q %v", fromEnv, err)
	}

	out, _, err := runCmd(t, nil, "admin-token", "--database", dsn)
	if err != nil || !strings.Contains(out, "An admin token is stored") {
		t.Errorf("admin-token: %q %v", out, err)
	}
	out, _, err = runCmd(t, nil, "admin-token", "--reset", "--database", dsn)
	if err != nil {
		t.Fatal(err)
	}
	stored, _, _ := db.Setting(ctx, adminTokenSetting)
	if newTok := strings.TrimSpace(out); !strings.HasPrefix(newTok, "spectra_admin_") || team.HashSecret(newTok) != stored || stored == hash {
		t.Errorf("reset printed %q; stored hash %s", out, stored)
	}
}

func TestAdminTokenNoneStored(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	if _, _, err := runCmd(t, nil, "migrate", "--database", dsn); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, nil, "admin-token", "--database", dsn)
	if err != nil || !strings.Contains(out, "No admin token is stored yet") {
		t.Errorf("admin-token: %q %v", out, err)
	}
}
