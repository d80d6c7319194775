package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func TestUpstreamsStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		rec := upstream.Record{Name: "b", BaseURL: "http://b/v1", Secret: "plain:s", Models: []string{"m1", "m2"}, CreatedAt: t0, UpdatedAt: t0}
		created, err := db.PutUpstream(ctx, rec)
		if err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		rec2 := rec
		rec2.Secret, rec2.Models, rec2.CreatedAt, rec2.UpdatedAt = "gcm1:x", []string{"m3"}, t0.Add(time.Hour), t0.Add(time.Hour)
		rec2.API = upstream.Anthropic
		if created, err = db.PutUpstream(ctx, rec2); err != nil || created {
			t.Fatalf("replace: %v %v", created, err)
		}
		if _, err = db.PutUpstream(ctx, upstream.Record{Name: "a", BaseURL: "http://a/v1", Secret: "plain:", Models: []string{"x"}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Upstreams(ctx)
		if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
			t.Fatalf("list: %+v %v", got, err)
		}
		if b := got[1]; b.Secret != "gcm1:x" || len(b.Models) != 1 || b.Models[0] != "m3" || !b.CreatedAt.Equal(t0) || !b.UpdatedAt.Equal(t0.Add(time.Hour)) || b.API != upstream.Anthropic {
			t.Fatalf("replaced upstream %+v", b)
		}
		if a := got[0]; a.API != upstream.OpenAI { // stored without an api: OpenAI's
			t.Fatalf("upstream without api: %+v", a)
		}
		if err := db.DeleteUpstream(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteUpstream(ctx, "b"); !errs.Is(err, "upstream_not_found") {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestKeyLimitsStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := team.NewService(db, time.Now)
		ws, err := ts.CreateWorkspace(ctx, team.Workspace{Name: "w"})
		if err != nil {
			t.Fatal(err)
		}
		k, secret, err := ts.CreateKey(ctx, team.APIKey{WorkspaceID: ws.ID, Name: "k", RPM: 3, AllowedModels: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ts.Authenticate(ctx, secret)
		if err != nil || got.RPM != 3 || got.TPM != 0 || len(got.AllowedModels) != 1 {
			t.Fatalf("created key %+v %v", got, err)
		}
		tpm := 500
		if got, err = db.SetKeyLimits(ctx, ws.ID, k.ID, team.KeyLimits{TPM: &tpm}); err != nil || got.RPM != 3 || got.TPM != 500 || got.AllowedModels[0] != "a" {
			t.Fatalf("tpm only: %+v %v", got, err)
		}
		none := []string{}
		if got, err = db.SetKeyLimits(ctx, ws.ID, k.ID, team.KeyLimits{AllowedModels: &none}); err != nil || len(got.AllowedModels) != 0 || got.TPM != 500 {
			t.Fatalf("clear models: %+v %v", got, err)
		}
		if got, _ = ts.Authenticate(ctx, secret); got.TPM != 500 || len(got.AllowedModels) != 0 || got.AllowedModels == nil {
			t.Fatalf("read back %+v", got)
		}
		neg := -1
		if _, err = db.SetKeyLimits(ctx, ws.ID, k.ID, team.KeyLimits{RPM: &neg}); !errs.Is(err, "invalid_rpm") {
			t.Fatalf("negative rpm: %v", err)
		}
		if _, err = db.SetKeyLimits(ctx, "ws_other", k.ID, team.KeyLimits{TPM: &tpm}); !errs.Is(err, "key_not_found") {
			t.Fatalf("other workspace: %v", err)
		}
	})
}
