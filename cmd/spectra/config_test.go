package main

import (
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// mapEnv is a lookupEnv over a map.
func mapEnv(m map[string]string) lookupEnv {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// parseServe parses serve's flags and environment the way run does.
func parseServe(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	var cfg Config
	fs, finish := newFlagSet("spectra serve", true, true, &cfg, io.Discard)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, finish(mapEnv(env))
}

func TestConfigSources(t *testing.T) {
	defaults := Config{Addr: "127.0.0.1:8080", Database: "spectra.db", Currency: "USD", LogFormat: "text", LogLevel: slog.LevelInfo}
	with := func(f func(*Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, nil, defaults},
		{"environment", nil, map[string]string{
			"SPECTRA_ADDR": ":9000", "SPECTRA_DATABASE_URL": "postgres://u:p@db:5432/spectra?sslmode=disable",
			"SPECTRA_CURRENCY": "EUR", "SPECTRA_ADMIN_TOKEN": "0123456789abcdef-operator",
			"SPECTRA_LOG_FORMAT": "json", "SPECTRA_LOG_LEVEL": "debug",
		}, Config{Addr: ":9000", Database: "postgres://u:p@db:5432/spectra?sslmode=disable", Currency: "EUR",
			AdminToken: "0123456789abcdef-operator", LogFormat: "json", LogLevel: slog.LevelDebug}},
		{"flags", []string{"--addr", "0.0.0.0:80", "--database", "sqlite:/var/lib/spectra.db", "--currency", "GBP",
			"--log-format", "json", "--log-level", "warn"}, nil,
			with(func(c *Config) {
				c.Addr, c.Database, c.Currency, c.LogFormat, c.LogLevel = "0.0.0.0:80", "sqlite:/var/lib/spectra.db", "GBP", "json", slog.LevelWarn
			})},
		{"flags win over environment", []string{"-addr=127.0.0.1:1", "-database=/tmp/a.db"},
			map[string]string{"SPECTRA_ADDR": ":2", "SPECTRA_DATABASE_URL": "/tmp/b.db", "SPECTRA_LOG_LEVEL": "error"},
			with(func(c *Config) { c.Addr, c.Database, c.LogLevel = "127.0.0.1:1", "/tmp/a.db", slog.LevelError })},
		{"an empty variable is unset", nil, map[string]string{"SPECTRA_ADDR": "", "SPECTRA_CURRENCY": ""}, defaults},
		{"plain file path", []string{"--database", "data/spectra.db"}, nil,
			with(func(c *Config) { c.Database = "data/spectra.db" })},
		{"postgresql scheme", nil, map[string]string{"SPECTRA_DATABASE_URL": "postgresql://localhost/spectra"},
			with(func(c *Config) { c.Database = "postgresql://localhost/spectra" })},
		{"random port", []string{"--addr", "127.0.0.1:0"}, nil, with(func(c *Config) { c.Addr = "127.0.0.1:0" })},
		{"level in capitals", []string{"--log-level", "WARN"}, nil, with(func(c *Config) { c.LogLevel = slog.LevelWarn })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServe(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			got.Services = ServiceConfig{} // checked in services_config_test.go
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // a part of the error message
	}{
		{"address without port", []string{"--addr", "localhost"}, nil, `--addr="localhost": the address must be host:port`},
		{"port out of range", nil, map[string]string{"SPECTRA_ADDR": ":70000"}, `SPECTRA_ADDR=":70000": the port must be a number from 0 to 65535`},
		{"lowercase currency", nil, map[string]string{"SPECTRA_CURRENCY": "usd"}, `SPECTRA_CURRENCY="usd": a currency is 3 uppercase letters`},
		{"long currency", []string{"--currency", "EURO"}, nil, `--currency="EURO": a currency is 3 uppercase letters`},
		{"mysql", nil, map[string]string{"SPECTRA_DATABASE_URL": "mysql://root@localhost/spectra"}, `SPECTRA_DATABASE_URL="mysql://root@localhost/spectra": unsupported database`},
		{"sqlite without path", []string{"--database", "sqlite:"}, nil, `--database="sqlite:": sqlite: needs a file path`},
		{"empty database flag", []string{"--database", ""}, nil, `the database must not be empty`},
		{"postgres without host", nil, map[string]string{"SPECTRA_DATABASE_URL": "postgres://"}, `not a valid PostgreSQL URL`},
		{"short admin token", nil, map[string]string{"SPECTRA_ADMIN_TOKEN": "secret"}, `SPECTRA_ADMIN_TOKEN: the admin token must be at least 16 characters`},
		{"admin token with space", nil, map[string]string{"SPECTRA_ADMIN_TOKEN": "0123456789 abcdefgh"}, `no spaces`},
		{"log format", nil, map[string]string{"SPECTRA_LOG_FORMAT": "xml"}, `SPECTRA_LOG_FORMAT="xml": log format must be text or json`},
		{"log level", []string{"--log-level", "loud"}, nil, `--log-level="loud": log level must be debug, info, warn or error`},
		{"log level offset", []string{"--log-level", "info+2"}, nil, `log level must be debug, info, warn or error`},
		{"unknown flag", []string{"--port", "80"}, nil, `flag provided but not defined: -port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(t, tt.args, tt.env)
			if err == nil {
				t.Fatalf("no error; want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// Commands that do not serve take no --addr or --currency, and ignore their variables.
func TestConfigPerCommand(t *testing.T) {
	var cfg Config
	fs, _ := newFlagSet("spectra verify", true, false, &cfg, io.Discard)
	if err := fs.Parse([]string{"--addr", ":1"}); err == nil {
		t.Error("verify accepted --addr")
	}
	fs, finish := newFlagSet("spectra verify", true, false, &cfg, io.Discard)
	if err := fs.Parse([]string{"--database", "x.db"}); err != nil {
		t.Fatal(err)
	}
	if err := finish(mapEnv(map[string]string{"SPECTRA_CURRENCY": "not a currency", "SPECTRA_ADDR": "nonsense"})); err != nil {
		t.Fatalf("verify validated serve's variables: %v", err)
	}
	if cfg.Database != "x.db" {
		t.Errorf("database = %q", cfg.Database)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://spectra:hunter2@db:5432/spectra": "postgres://spectra:xxxxx@db:5432/spectra",
		"postgres://db/spectra":                      "postgres://db/spectra",
		"sqlite:spectra.db":                          "sqlite:spectra.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
