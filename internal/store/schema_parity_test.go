package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// sqliteToPostgresType maps a column type as declared in the SQLite migrations to the
// type PostgreSQL reports for the same column (information_schema.columns.data_type).
// A type missing here fails the parity test: add it deliberately.
//
// One rule is not in the table: a single-column INTEGER PRIMARY KEY is SQLite's 64-bit
// rowid, so it maps to bigint (and its default, generated in both dialects in different
// ways, is not compared).
var sqliteToPostgresType = map[string]string{
	"TEXT":    "text",
	"BIGINT":  "bigint",
	"INTEGER": "integer",
}

// TestSchemaParity migrates a fresh SQLite and a fresh PostgreSQL database and checks
// that the two schemas agree: relations, columns (types mapped by
// sqliteToPostgresType, nullability, defaults), primary keys, unique constraints,
// indexes (name, columns, uniqueness, predicate), foreign keys, the columns each CHECK
// constraint reads, and triggers. Functions, sequences and storage options
// (WITHOUT ROWID, identity vs AUTOINCREMENT) are dialect details and not compared.
func TestSchemaParity(t *testing.T) {
	ctx := context.Background()

	path := filepath.Join(t.TempDir(), "parity.db")
	liteDB := storetest.SQLiteAt(t, path, storetest.Options{})
	lite, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	dsn := storetest.PostgresDSN(t)
	pdb, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if _, err := pdb.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	liteMigrations, err := liteDB.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	pgMigrations, err := pdb.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []store.Migration) (out []string) {
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	if a, b := names(liteMigrations), names(pgMigrations); !slices.Equal(a, b) {
		t.Errorf("migrations differ:\nSQLite:     %v\nPostgreSQL: %v", a, b)
	}

	liteFacts, err := sqliteSchema(ctx, lite)
	if err != nil {
		t.Fatal("read SQLite schema:", err)
	}
	pgFacts, err := postgresSchema(ctx, pg)
	if err != nil {
		t.Fatal("read PostgreSQL schema:", err)
	}
	if testing.Verbose() {
		t.Logf("SQLite schema:\n%s", strings.Join(liteFacts, "\n"))
	}
	if len(liteFacts) < 100 || len(pgFacts) < 100 {
		t.Fatalf("schemas look empty: %d SQLite facts, %d PostgreSQL facts", len(liteFacts), len(pgFacts))
	}
	for _, f := range liteFacts {
		if !slices.Contains(pgFacts, f) {
			t.Errorf("only in SQLite:     %s", f)
		}
	}
	for _, f := range pgFacts {
		if !slices.Contains(liteFacts, f) {
			t.Errorf("only in PostgreSQL: %s", f)
		}
	}
}

// schemaFacts collects one line per schema fact, in a form both dialects render alike.
type schemaFacts struct {
	lines  []string
	checks map[string]int // "table(cols)" → CHECK constraints reading exactly those columns
}

func (f *schemaFacts) add(format string, args ...any) {
	f.lines = append(f.lines, fmt.Sprintf(format, args...))
}

func (f *schemaFacts) check(table string, cols []string) {
	slices.Sort(cols)
	f.checks[table+"("+strings.Join(cols, ",")+")"]++
}

func (f *schemaFacts) done() []string {
	for k, n := range f.checks {
		f.add("check %s ×%d", k, n)
	}
	slices.Sort(f.lines)
	return f.lines
}

func sqliteSchema(ctx context.Context, db *sql.DB) ([]string, error) {
	f := &schemaFacts{checks: map[string]int{}}
	type relation struct{ name, kind, sql string }
	var rels []relation
	if err := queryEach(ctx, db, `SELECT name, type, COALESCE(sql, '') FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'`, func(s rowScanner) error {
		var r relation
		if err := s.Scan(&r.name, &r.kind, &r.sql); err != nil {
			return err
		}
		rels = append(rels, r)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, r := range rels {
		f.add("%s %s", r.kind, r.name)
		type column struct {
			name, typ, dflt string
			notNull, pk     int
		}
		var cols []column
		if err := queryEach(ctx, db, `SELECT name, type, "notnull", COALESCE(dflt_value, ''), pk FROM pragma_table_info(?)`, func(s rowScanner) error {
			var c column
			if err := s.Scan(&c.name, &c.typ, &c.notNull, &c.dflt, &c.pk); err != nil {
				return err
			}
			cols = append(cols, c)
			return nil
		}, r.name); err != nil {
			return nil, err
		}
		slices.SortFunc(cols, func(a, b column) int { return a.pk - b.pk })
		var pk []string
		for _, c := range cols {
			if c.pk > 0 {
				pk = append(pk, c.name)
			}
		}
		if r.kind == "view" {
			for _, c := range cols {
				f.add("column %s.%s", r.name, c.name)
			}
			continue
		}
		if len(pk) > 0 {
			f.add("primary key %s(%s)", r.name, strings.Join(pk, ","))
		}
		for _, c := range cols {
			typ, ok := sqliteToPostgresType[strings.ToUpper(c.typ)]
			if !ok {
				typ = "unmapped SQLite type " + c.typ
			}
			rowid := len(pk) == 1 && c.pk == 1 && strings.EqualFold(c.typ, "INTEGER")
			if rowid {
				typ = "bigint"
			}
			f.add("column %s.%s %s%s%s", r.name, c.name, typ, nullText(c.notNull == 1 || c.pk > 0), defaultText(c.dflt, rowid))
		}

		if err := sqliteIndexes(ctx, db, f, r.name); err != nil {
			return nil, err
		}

		type fk struct{ table, from, to, onDelete string }
		fks := map[int][]fk{}
		if err := queryEach(ctx, db, `SELECT id, "table", "from", COALESCE("to", ''), on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, func(s rowScanner) error {
			var id int
			var k fk
			if err := s.Scan(&id, &k.table, &k.from, &k.to, &k.onDelete); err != nil {
				return err
			}
			fks[id] = append(fks[id], k)
			return nil
		}, r.name); err != nil {
			return nil, err
		}
		for _, ks := range fks {
			var from, to []string
			for _, k := range ks {
				from = append(from, k.from)
				to = append(to, k.to)
			}
			if to[0] == "" { // REFERENCES t: the referenced table's primary key
				to = nil
				if err := queryEach(ctx, db, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, func(s rowScanner) error {
					var n string
					err := s.Scan(&n)
					to = append(to, n)
					return err
				}, ks[0].table); err != nil {
					return nil, err
				}
			}
			f.add("foreign key %s(%s) references %s(%s) on delete %s", r.name, strings.Join(from, ","), ks[0].table, strings.Join(to, ","), strings.ToLower(ks[0].onDelete))
		}

		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		for _, expr := range sqliteChecks(r.sql) {
			expr = regexp.MustCompile(`'[^']*'`).ReplaceAllString(expr, "''")
			var read []string
			for _, n := range names {
				if regexp.MustCompile(`\b` + n + `\b`).MatchString(expr) {
					read = append(read, n)
				}
			}
			f.check(r.name, read)
		}
	}

	trig := regexp.MustCompile(`(?i)\b(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|UPDATE|DELETE)\b`)
	if err := queryEach(ctx, db, `SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'`, func(s rowScanner) error {
		var table, text string
		if err := s.Scan(&table, &text); err != nil {
			return err
		}
		m := trig.FindStringSubmatch(text)
		if m == nil {
			return fmt.Errorf("trigger on %s: cannot read timing and event from %q", table, text)
		}
		f.add("trigger %s %s %s", table, strings.ToLower(strings.Join(strings.Fields(m[1]), " ")), strings.ToLower(m[2]))
		return nil
	}); err != nil {
		return nil, err
	}
	return f.done(), nil
}

func sqliteIndexes(ctx context.Context, db *sql.DB, f *schemaFacts, table string) error {
	type index struct {
		name, origin    string
		unique, partial int
	}
	var idx []index
	if err := queryEach(ctx, db, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, func(s rowScanner) error {
		var i index
		if err := s.Scan(&i.name, &i.unique, &i.origin, &i.partial); err != nil {
			return err
		}
		idx = append(idx, i)
		return nil
	}, table); err != nil {
		return err
	}
	for _, i := range idx {
		var cols []string
		if err := queryEach(ctx, db, `SELECT COALESCE(name, '<expr>') FROM pragma_index_info(?) ORDER BY seqno`, func(s rowScanner) error {
			var n string
			err := s.Scan(&n)
			cols = append(cols, n)
			return err
		}, i.name); err != nil {
			return err
		}
		switch i.origin {
		case "pk": // the primary key, compared as such
		case "u":
			f.add("unique %s(%s)", table, strings.Join(cols, ","))
		default:
			pred := ""
			if i.partial == 1 {
				var text string
				if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, i.name).Scan(&text); err != nil {
					return err
				}
				_, after, ok := cutFold(text, " WHERE ")
				if !ok {
					return fmt.Errorf("partial index %s: no WHERE in %q", i.name, text)
				}
				pred = after
			}
			f.add("index %s on %s(%s)%s%s", i.name, table, strings.Join(cols, ","), uniqueText(i.unique == 1), predicateText(pred))
		}
	}
	return nil
}

// sqliteChecks returns the expressions of the CHECK constraints in a CREATE TABLE text.
func sqliteChecks(text string) []string {
	text = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(text, "")
	var out []string
	for {
		loc := regexp.MustCompile(`(?i)\bCHECK\s*\(`).FindStringIndex(text)
		if loc == nil {
			return out
		}
		depth, start := 0, loc[1]-1
		end := start
		for ; end < len(text); end++ {
			if text[end] == '(' {
				depth++
			} else if text[end] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		out = append(out, text[start:end])
		text = text[end:]
	}
}

func postgresSchema(ctx context.Context, db *sql.DB) ([]string, error) {
	f := &schemaFacts{checks: map[string]int{}}
	kinds := map[string]string{}
	if err := queryEach(ctx, db, `SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = current_schema()`, func(s rowScanner) error {
		var name, kind string
		if err := s.Scan(&name, &kind); err != nil {
			return err
		}
		kinds[name] = map[string]string{"BASE TABLE": "table", "VIEW": "view"}[kind]
		f.add("%s %s", kinds[name], name)
		return nil
	}); err != nil {
		return nil, err
	}

	// Primary keys first: their columns are compared without their generated defaults.
	pkCols := map[string][]string{}
	const cols = `array_to_string(ARRAY(SELECT a.attname FROM unnest(%s) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = %s AND a.attnum = k.n ORDER BY k.o), ',')`
	if err := queryEach(ctx, db, `SELECT cl.relname, c.contype, `+fmt.Sprintf(cols, "c.conkey", "c.conrelid")+`, COALESCE(fc.relname, ''), `+fmt.Sprintf(cols, "c.confkey", "c.confrelid")+`, c.confdeltype
		FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
		LEFT JOIN pg_class fc ON fc.oid = c.confrelid
		WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f', 'c')`, func(s rowScanner) error {
		var table, kind, from, ref, to, onDelete string
		if err := s.Scan(&table, &kind, &from, &ref, &to, &onDelete); err != nil {
			return err
		}
		switch kind {
		case "p":
			pkCols[table] = strings.Split(from, ",")
			f.add("primary key %s(%s)", table, from)
		case "u":
			f.add("unique %s(%s)", table, from)
		case "f":
			actions := map[string]string{"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}
			f.add("foreign key %s(%s) references %s(%s) on delete %s", table, from, ref, to, actions[onDelete])
		case "c":
			f.check(table, strings.Split(from, ","))
		}
		return nil
	}); err != nil {
		return nil, err
	}

	cast := regexp.MustCompile(`::[a-z ]+`)
	if err := queryEach(ctx, db, `SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, ''), is_identity
		FROM information_schema.columns WHERE table_schema = current_schema()`, func(s rowScanner) error {
		var table, name, typ, nullable, dflt, identity string
		if err := s.Scan(&table, &name, &typ, &nullable, &dflt, &identity); err != nil {
			return err
		}
		if kinds[table] == "view" {
			f.add("column %s.%s", table, name)
			return nil
		}
		pk := pkCols[table]
		generated := len(pk) == 1 && pk[0] == name && typ == "bigint"
		f.add("column %s.%s %s%s%s", table, name, typ, nullText(nullable == "NO"), defaultText(cast.ReplaceAllString(dflt, ""), generated))
		return nil
	}); err != nil {
		return nil, err
	}

	if err := queryEach(ctx, db, `SELECT t.relname, i.relname, ix.indisunique, COALESCE(pg_get_expr(ix.indpred, ix.indrelid), ''),
		EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype IN ('p', 'u')),
		array_to_string(ARRAY(SELECT COALESCE(a.attname, '<expr>') FROM unnest(ix.indkey) WITH ORDINALITY k(n, o)
			LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ',')
		FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()`, func(s rowScanner) error {
		var table, name, pred, columns string
		var unique, constraint bool
		if err := s.Scan(&table, &name, &unique, &pred, &constraint, &columns); err != nil {
			return err
		}
		if !constraint { // constraint indexes are compared as their constraints
			f.add("index %s on %s(%s)%s%s", name, table, columns, uniqueText(unique), predicateText(pred))
		}
		return nil
	}); err != nil {
		return nil, err
	}

	if err := queryEach(ctx, db, `SELECT event_object_table, action_timing, event_manipulation FROM information_schema.triggers
		WHERE trigger_schema = current_schema()`, func(s rowScanner) error {
		var table, timing, event string
		if err := s.Scan(&table, &timing, &event); err != nil {
			return err
		}
		f.add("trigger %s %s %s", table, strings.ToLower(timing), strings.ToLower(event))
		return nil
	}); err != nil {
		return nil, err
	}
	return f.done(), nil
}

type rowScanner interface{ Scan(...any) error }

// queryEach runs query and calls fn for each row.
func queryEach(ctx context.Context, db *sql.DB, query string, fn func(rowScanner) error, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func nullText(notNull bool) string {
	if notNull {
		return " not null"
	}
	return ""
}

func uniqueText(unique bool) string {
	if unique {
		return " unique"
	}
	return ""
}

func defaultText(dflt string, generated bool) string {
	if generated || dflt == "" {
		return ""
	}
	return " default " + dflt
}

// predicateText renders a partial index's WHERE clause without the parentheses, casts
// and spacing the dialects add differently.
func predicateText(pred string) string {
	if pred == "" {
		return ""
	}
	pred = regexp.MustCompile(`::[a-z ]+`).ReplaceAllString(pred, "")
	pred = strings.NewReplacer("(", "", ")", "").Replace(pred)
	return " where " + strings.ToLower(strings.Join(strings.Fields(pred), " "))
}

func cutFold(s, sep string) (before, after string, ok bool) {
	i := strings.Index(strings.ToUpper(s), strings.ToUpper(sep))
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
