// Command spectra is the usage, balance and billing layer of an AI API product in one
// binary: `spectra serve` runs it, `spectra migrate` and `spectra verify` look after its
// database. Run `spectra help` for every command and its configuration.
//
// This is the only package that reads flags or the environment; everything else is
// given values.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spectra:", err)
	}
	os.Exit(exitCode(err))
}

// env is what one command runs with.
type env struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

// command is one line of the command table. setup declares the command's own flags on
// fs and returns what to run once they are parsed.
type command struct {
	name    string
	summary string
	db      bool // takes --database
	server  bool // takes --addr and --currency
	setup   func(fs *flag.FlagSet) func(ctx context.Context, e *env) error
}

// commands is every command, in the order help lists them.
func commands() []command {
	return []command{
		{"serve", "run the HTTP server (migrates the database first)", true, true, serveCommand},
		{"migrate", "apply database migrations and print what was applied", true, false, migrateCommand},
		{"verify", "recompute balances and rollups from entries and events; exit 1 on any difference", true, false, verifyCommand},
		{"demo", "fill an empty database with a demo workspace: a team, keys and 90 days of usage", true, true, demoCommand},
		{"admin-token", "show whether an admin token is stored; --reset prints a new one", true, false, adminTokenCommand},
		{"version", "print the version and commit", false, false, versionCommand},
	}
}

// run runs the command named by args[0]. getenv reads the environment.
func run(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError("no command given")
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		return help(args[1:], stdout)
	}
	cmd, ok := findCommand(name)
	if !ok {
		return usageError(fmt.Sprintf("unknown command %q; run 'spectra help'", name))
	}
	var cfg Config
	fs, finish := newFlagSet("spectra "+cmd.name, cmd.db, cmd.server, &cfg, stderr)
	action := cmd.setup(fs)
	fs.Usage = func() { commandUsage(fs.Output(), cmd, fs) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("%s takes no arguments, got %q", cmd.name, fs.Args()))
	}
	if err := finish(getenv); err != nil {
		return usageError(err.Error())
	}
	return action(ctx, &env{cfg: cfg, log: newLogger(cfg, stderr), stdout: stdout, stderr: stderr})
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// help prints the overview, or one command's flags.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		printUsage(stdout)
		return nil
	}
	cmd, ok := findCommand(args[0])
	if !ok {
		return usageError(fmt.Sprintf("unknown command %q; run 'spectra help'", args[0]))
	}
	var cfg Config
	fs, _ := newFlagSet("spectra "+cmd.name, cmd.db, cmd.server, &cfg, stdout)
	cmd.setup(fs)
	commandUsage(stdout, cmd, fs)
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "Spectra: usage, balance and billing for an AI API product.\n\nUsage: spectra <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "help", "show this, or a command's flags: spectra help <command>")
	fmt.Fprint(w, "\nEvery flag can also be set by an environment variable (shown in each command's help);\n"+
		"flags win. SPECTRA_ADMIN_TOKEN sets the operator's admin token. See README.md.\n")
}

func commandUsage(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: spectra %s [flags]\n\n%s.\n\nFlags:\n", cmd.name, cmd.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// exitError carries the process exit code of a failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake on the command line: exit code 2.
func usageError(msg string) error { return &exitError{code: 2, err: errors.New(msg)} }

// exitCode is 0 for success, the code an exitError carries, and 1 otherwise.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
