// Package store implements Spectra's domain stores on SQLite (pure Go, the embedded
// default) and PostgreSQL (through pgx), with one schema and one set of queries.
//
// Queries are written once with "?" placeholders and rebound for PostgreSQL. Times are
// stored as Unix microseconds and money as int64 micro-units, so both databases hold
// exactly the same values.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names the database behind a DB.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open Spectra database: the one implementation of every domain package's
// store interface — ledger.Store and ledger.LeaseStore, pricing.Store, metering.Store,
// team.Store, team.AccountStore and team.InvitationStore, budget.Store, billing.Store,
// notify.Store, and the gateway's upstream.Store and gateway.Store (upstreams, key limits
// and leases).
type DB struct {
	dialect Dialect
	write   *sql.DB // SQLite: one connection, so writers queue in Go instead of failing with SQLITE_BUSY
	read    *sql.DB
	now     func() time.Time

	rebound sync.Map // query text → rebound text (PostgreSQL)
	ingest  *committer
	ckpt    *checkpointer // SQLite only
	keys    keyIndex      // SQLite only; the committer's
	// keysMu guards keys.recent, keys.last and keys.loaded, which the committer changes
	// and the request log's Event reads.
	keysMu sync.RWMutex
	lots   lotsConfig // credit_lots.go
}

// Options tune Open.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxConns bounds PostgreSQL connections (default 16).
	MaxConns int
}

// Open opens the database named by dsn: "postgres://…" or "postgresql://…" for
// PostgreSQL, "sqlite:PATH" or a plain file path for SQLite ("" means spectra.db).
// It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	db := &DB{now: opts.Now}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db.dialect = Postgres
		db.write, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		db.write.SetMaxOpenConns(opts.MaxConns)
		db.write.SetMaxIdleConns(opts.MaxConns)
		db.read = db.write
	} else {
		db.dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			path = "spectra.db"
		}
		// mmap_size: the database file is read through a memory map (up to 1 GiB) rather
		// than a pread per page; at 10 M stored events, the key lookups of ingestion went
		// 10 % faster. Writes still go through the log.
		pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=cache_size(-65536)&_pragma=mmap_size(1073741824)"
		u := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
		// temp_store(MEMORY): statement journals stay in memory (a multi-row insert journals
		// every page it touches; spilled to a temporary file, those writes were ~10 % of
		// ingestion's CPU).
		db.write, err = sql.Open("sqlite", u+"&_pragma=temp_store(MEMORY)&_txlock=immediate"+
			"&_pragma=wal_autocheckpoint("+strconv.Itoa(walAutocheckpointPages)+")")
		if err != nil {
			return nil, err
		}
		db.write.SetMaxOpenConns(1)
		db.write.SetConnMaxIdleTime(0)
		db.read, err = sql.Open("sqlite", u+"&_pragma=query_only(ON)")
		if err != nil {
			db.write.Close()
			return nil, err
		}
		db.read.SetMaxOpenConns(8)
		ckpt, err := sql.Open("sqlite", u)
		if err != nil {
			db.write.Close()
			db.read.Close()
			return nil, err
		}
		ckpt.SetMaxOpenConns(1)
		db.ckpt = newCheckpointer(ckpt)
	}
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s database: %w", db.dialect, err)
	}
	workers := 1
	if db.dialect == Postgres {
		workers = 4
	}
	db.ingest = newCommitter(db, workers)
	return db, nil
}

// Dialect returns which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close stops background work and closes the database.
func (db *DB) Close() error {
	if db.ingest != nil {
		db.ingest.stop()
	}
	if db.ckpt != nil {
		db.ckpt.stop()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return wrap("ping", db.write.PingContext(ctx)) }

// q rebinds a query written with "?" placeholders for the database in use.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	r := rebind(query)
	db.rebound.Store(query, r)
	return r
}

// rebind turns "?" placeholders into $1, $2, … (no "?" appears in Spectra's SQL otherwise).
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// tx runs fn in one write transaction, retrying it when PostgreSQL reports a
// serialization failure or deadlock (fn must be safe to run again).
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.tx1(ctx, fn)
		if err == nil || attempt >= 4 || !retryable(err) {
			return err
		}
	}
}

func (db *DB) tx1(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if db.ckpt != nil {
		db.ckpt.written()
	}
	return nil
}

// errRetry asks tx to run the transaction again (a concurrent writer won a race).
var errRetry = errors.New("store: retry transaction")

func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	return false
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "(?,?,…),(?,?,…)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	one := "(" + strings.Repeat("?,", cols-1) + "?)"
	return strings.Repeat(one+",", rows-1) + one
}
