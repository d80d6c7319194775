package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackgroundCheckpoint: what a transaction commits reaches the database file without
// any commit crossing wal_autocheckpoint and without closing the database — the
// background checkpointer copies it — and the store reads the same afterwards.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spectra.db")
	db, err := Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil { // a few hundred pages, far below walAutocheckpointPages
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('checkpoint-test', 'x')`); err != nil {
		t.Fatal(err)
	}
	db.ckpt.written() // a plain Exec, not db.tx: tell the checkpointer as tx does
	var pages, pageSize int64
	if err := db.read.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.read.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if pages >= walAutocheckpointPages {
		t.Fatalf("the schema has %d pages: the writer's own checkpoint would run, so this test proves nothing", pages)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == pages*pageSize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file has %d bytes; want all %d pages (%d bytes) copied from the log", fi.Size(), pages, pages*pageSize)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var v string
	if err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'checkpoint-test'`).Scan(&v); err != nil || v != "x" {
		t.Fatalf("after the checkpoint: %q, %v", v, err)
	}
}
