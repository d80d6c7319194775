package store_test

import (
	"context"
	"testing"

	"spectra/internal/budget"
	"spectra/internal/store/storetest"
)

// TestAlertsCreditExpiringMigration: migration 0030 lets the alerts table take
// credit.expiring alerts, and keeps every alert and delivery written before it (SQLite
// makes both tables again), with the deliveries still tied to their alerts.
func TestAlertsCreditExpiringMigration(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := unmigrated(t, dialect)
			if err := db.MigrateBefore(ctx, 30); err != nil {
				t.Fatal(err)
			}
			e := &storetest.Env{DB: db, Clock: storetest.NewClock(coreT0)}
			ws := e.Workspace(t, 0)
			old := budget.Alert{ID: "alt_old", WorkspaceID: ws, Kind: budget.KindLowBalance, PeriodStart: coreT0, DedupeKey: "low_balance:" + ws + ":1",
				Subject: "s", Body: "b", Payload: []byte(`{}`), CreatedAt: coreT0}
			if ok, err := db.InsertAlert(ctx, old); err != nil || !ok {
				t.Fatalf("insert before: %v %v", ok, err)
			}
			if _, err := db.RawExec(ctx, `INSERT INTO deliveries (id, alert_id, message_id, event_type, workspace_id, channel, address, body, status, created_at)
				VALUES ('dlv_old', 'alt_old', 'alt_old', 'balance.low', ?, 'email', 'a@example.com', 'b', 'delivered', 1)`, ws); err != nil {
				t.Fatal(err)
			}
			expiring := budget.Alert{ID: "alt_new", WorkspaceID: ws, Kind: budget.KindCreditExpiring, PeriodStart: coreT0,
				DedupeKey: budget.CreditExpiringKey(7), Subject: "s", Body: "b", Payload: []byte(`{}`), CreatedAt: coreT0}
			if _, err := db.InsertAlert(ctx, expiring); err == nil {
				t.Fatal("a credit.expiring alert was stored before the migration")
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, err := db.InsertAlert(ctx, expiring); err != nil || !ok {
				t.Fatalf("insert credit.expiring after: %v %v", ok, err)
			}
			if ok, err := db.InsertAlert(ctx, expiring); err != nil || ok {
				t.Fatalf("the same lot's alert again: stored %v %v", ok, err)
			}
			if _, err := db.RawExec(ctx, `INSERT INTO alerts (id, workspace_id, kind, threshold, period_start, dedupe_key, subject, body, payload, created_at)
				VALUES ('alt_bad', ?, 'credit.gone', 0, 0, 'x', 's', 'b', '{}', 0)`, ws); err == nil {
				t.Error("an alert of an unknown kind was stored")
			}
			alerts, err := db.WorkspaceAlerts(ctx, ws, 10)
			if err != nil || len(alerts) != 2 {
				t.Fatalf("alerts after: %d %v", len(alerts), err)
			}
			if n, err := db.RawInt(ctx, `SELECT COUNT(*) FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = 'dlv_old' AND a.kind = 'balance.low'`); err != nil || n != 1 {
				t.Errorf("the old delivery and its alert: %d %v", n, err)
			}
			// The deliveries' foreign key still names alerts.
			if _, err := db.RawExec(ctx, `INSERT INTO deliveries (id, alert_id, message_id, event_type, workspace_id, channel, address, body, status, created_at)
				VALUES ('dlv_orphan', 'alt_none', 'alt_none', 'balance.low', ?, 'email', 'a@example.com', 'b', 'pending', 1)`, ws); err == nil {
				t.Error("a delivery of no alert was stored")
			}
		})
	}
}
