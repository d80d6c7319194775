package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
)

// envDataDir names the directory of this node's own files: the gateway's settle journal.
// envJournalSync, true, makes every answer wait for the journal's fsync (it survives a
// crash of the machine, not only of the process, at the price of a disk sync per answer).
const (
	envDataDir     = "SPECTRA_DATA_DIR"
	envJournalSync = "SPECTRA_JOURNAL_SYNC"
)

// dataDir picks the directory of the gateway's settle journal: SPECTRA_DATA_DIR when
// set; for SQLite, the database's path with ".settle" appended (next to it, one per
// database); for PostgreSQL, spectra/settle-HASH in the user's state directory
// ($XDG_STATE_HOME, else ~/.local/state), HASH naming the database (its URL without the
// password), so that two databases never share a journal. The directory must be on a
// local disk that survives a restart of the node.
func dataDir(set, database string, getenv func(string) string) (string, error) {
	if set != "" {
		return filepath.Clean(set), nil
	}
	if path, ok := sqlitePath(database); ok {
		if path == "" {
			path = defaultDatabase
		}
		return filepath.Clean(path) + ".settle", nil
	}
	u, err := url.Parse(database)
	if err != nil {
		return "", err
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	sum := sha256.Sum256([]byte(u.String()))
	state := getenv("XDG_STATE_HOME")
	if state == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("no " + envDataDir + " and no HOME to put the gateway's settle journal under: set " + envDataDir)
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "spectra", "settle-"+hex.EncodeToString(sum[:6])), nil
}

// osGetenv is os.Getenv, replaced in tests.
var osGetenv = os.Getenv
