package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDataDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := env(map[string]string{"HOME": "/home/op"})
	pg := "postgres://spectra:secret@db:5432/spectra?sslmode=disable"
	for _, tt := range []struct{ set, db, want string }{
		{"/var/lib/spectra/", "spectra.db", "/var/lib/spectra"},
		{"", "spectra.db", "spectra.db.settle"},
		{"", "sqlite:/data/s.db", "/data/s.db.settle"},
		{"", "sqlite:", "spectra.db.settle"},
	} {
		got, err := dataDir(tt.set, tt.db, home)
		if err != nil || got != tt.want {
			t.Errorf("dataDir(%q, %q) = %q, %v; want %q", tt.set, tt.db, got, err, tt.want)
		}
	}
	a, err := dataDir("", pg, home)
	if err != nil || !strings.HasPrefix(a, filepath.FromSlash("/home/op/.local/state/spectra/settle-")) {
		t.Fatalf("PostgreSQL: %q, %v", a, err)
	}
	// The password is not part of the database's identity; the schema is.
	if b, _ := dataDir("", strings.Replace(pg, "secret", "rotated", 1), home); b != a {
		t.Errorf("a new password moved the journal: %q, was %q", b, a)
	}
	if c, _ := dataDir("", pg+"&search_path=other", home); c == a {
		t.Errorf("two schemas share the journal %q", c)
	}
	if x, _ := dataDir("", pg, env(map[string]string{"XDG_STATE_HOME": "/state", "HOME": "/home/op"})); !strings.HasPrefix(x, "/state/spectra/settle-") {
		t.Errorf("XDG_STATE_HOME not used: %q", x)
	}
	if _, err := dataDir("", pg, env(nil)); err == nil || !strings.Contains(err.Error(), envDataDir) {
		t.Errorf("no HOME: %v, want an error naming %s", err, envDataDir)
	}
}

func TestJournalConfig(t *testing.T) {
	cfg, err := parseServe(t, nil, map[string]string{"SPECTRA_DATABASE_URL": "sqlite:/data/s.db", envJournalSync: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Services.DataDir != "/data/s.db.settle" || !cfg.Services.JournalSync {
		t.Errorf("data dir %q, journal sync %v", cfg.Services.DataDir, cfg.Services.JournalSync)
	}
	if def, err := parseServe(t, nil, nil); err != nil || def.Services.JournalSync || def.Services.DataDir != "spectra.db.settle" {
		t.Errorf("defaults: %q, %v, %v", def.Services.DataDir, def.Services.JournalSync, err)
	}
	if _, err := parseServe(t, nil, map[string]string{envJournalSync: "sometimes"}); err == nil || !strings.Contains(err.Error(), envJournalSync) {
		t.Errorf("a bad %s: %v", envJournalSync, err)
	}
}
