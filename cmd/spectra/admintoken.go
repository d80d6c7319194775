package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"spectra/internal/ids"
	"spectra/internal/store"
	"spectra/internal/team"
)

// adminTokenSetting holds the SHA-256 of the generated admin token; the token itself is
// never stored.
const adminTokenSetting = "admin_token_sha256"

// adminTokenPrefix makes an operator token recognisable (workspace keys start with "sk-").
const adminTokenPrefix = "spectra_admin_"

// newAdminToken returns a fresh operator token with 240 random bits.
func newAdminToken() string { return adminTokenPrefix + ids.Random(30) }

// adminTokenHash returns the hash of the operator's token. SPECTRA_ADMIN_TOKEN wins when
// set. Otherwise the first start generates a token, stores its hash and prints the token
// once to stderr; later starts use the stored hash and say how to reset it.
func adminTokenHash(ctx context.Context, db *store.DB, fromEnv string, stderr io.Writer, log *slog.Logger) (string, error) {
	if fromEnv != "" {
		log.Info("admin token from " + envAdminToken)
		return team.HashSecret(fromEnv), nil
	}
	token := newAdminToken()
	stored, created, err := db.SetSettingIfAbsent(ctx, adminTokenSetting, team.HashSecret(token))
	if err != nil {
		return "", fmt.Errorf("store the admin token: %w", err)
	}
	if created {
		printNewToken(stderr, token, "This is the operator's admin token. It is shown once: only its hash is stored.")
	} else {
		fmt.Fprintln(stderr, "An admin token exists (printed on the first start). Lost it? Run 'spectra admin-token --reset', or set "+envAdminToken+".")
	}
	return stored, nil
}

func printNewToken(w io.Writer, token, note string) {
	line := strings.Repeat("=", 78)
	fmt.Fprintf(w, "\n%s\n  %s\n\n    %s\n\n  Use it as: Authorization: Bearer <token>\n%s\n\n", line, note, token, line)
}

func adminTokenCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	reset := fs.Bool("reset", false, "replace the stored admin token with a new one and print it")
	return func(ctx context.Context, e *env) error { return adminToken(ctx, e, *reset) }
}

// adminToken reports whether a token is stored, or with reset replaces it and prints the
// new token alone on stdout (so TOKEN=$(spectra admin-token --reset) works).
func adminToken(ctx context.Context, e *env, reset bool) error {
	db, err := openStore(ctx, e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if e.cfg.AdminToken != "" {
		fmt.Fprintln(e.stderr, "Note: "+envAdminToken+" is set, and serve uses it instead of the stored token.")
	}
	if !reset {
		_, ok, err := db.Setting(ctx, adminTokenSetting)
		if err != nil {
			return err
		}
		if ok {
			fmt.Fprintln(e.stdout, "An admin token is stored (only its hash). Run 'spectra admin-token --reset' to replace it.")
		} else {
			fmt.Fprintln(e.stdout, "No admin token is stored yet: 'spectra serve' creates one on its first start.")
		}
		return nil
	}
	token := newAdminToken()
	if err := db.SetSetting(ctx, adminTokenSetting, team.HashSecret(token)); err != nil {
		return fmt.Errorf("store the admin token: %w", err)
	}
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintln(e.stderr, "A new admin token is stored; the old one no longer works once 'spectra serve' restarts.")
	return nil
}
