package team

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/errs"
)

func TestPasswordHash(t *testing.T) {
	ctx := context.Background()
	hash := func(pw string) string {
		t.Helper()
		h, err := hashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	check := func(h, pw string) bool {
		t.Helper()
		ok, err := checkPassword(ctx, h, pw)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	h := hash("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id in PHC form", h)
	}
	if !check(h, "correct horse battery") {
		t.Fatal("the right password does not match")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if check(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	if h2 := hash("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{"", "plain", "$argon2i$" + strings.Join(parts[2:], "$"), strings.Join(parts[:5], "$"),
		strings.Replace(h, "v=19", "v=18", 1), strings.Replace(h, "m=19456", "m=0", 1), strings.Replace(h, "m=19456", "m=99999999", 1)} {
		if check(bad, "correct horse battery") {
			t.Errorf("malformed hash %q matches", bad)
		}
	}
	// The unknown-email stand-in has this build's parameters, so it costs the same work
	// as a real hash, and matches nothing.
	if !strings.HasPrefix(dummyHash, "$argon2id$v=19$m=19456,t=2,p=1$") || len(dummyHash) != len(h) {
		t.Fatalf("dummy hash %q is not shaped like %q", dummyHash, h)
	}
	for _, pw := range []string{"", "correct horse battery", "spectra: no such user, no key!!!"} {
		if check(dummyHash, pw) {
			t.Errorf("the dummy hash matches %q", pw)
		}
	}
}

// TestHashGateBoundsAndRefuses: a full gate refuses after its wait, with
// ErrPasswordBusy, without running the work; a freed slot is taken again.
func TestHashGateBoundsAndRefuses(t *testing.T) {
	g := newHashGate(2, 0)
	hold := make(chan struct{})
	var inside sync.WaitGroup
	var done sync.WaitGroup
	for range 2 {
		inside.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if err := g.run(context.Background(), func() { inside.Done(); <-hold }); err != nil {
				t.Error(err)
			}
		}()
	}
	inside.Wait() // both slots taken
	ran := false
	if err := g.run(context.Background(), func() { ran = true }); !errs.Is(err, ErrPasswordBusy.Code) || errs.KindOf(err) != errs.Unavailable || ran {
		t.Fatalf("a full gate: %v, ran %v", err, ran)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	g.wait = time.Hour // only the context can end this wait
	if err := g.run(cancelled, func() { ran = true }); !errs.Is(err, ErrPasswordBusy.Code) || ran {
		t.Fatalf("a cancelled wait: %v, ran %v", err, ran)
	}
	if g.busy.Load() != 2 {
		t.Fatalf("busy = %d, want 2", g.busy.Load())
	}
	close(hold)
	done.Wait()
	if err := g.run(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("a free gate: %v, ran %v", err, ran)
	}
}

// TestConcurrentHashesStayBounded runs many more password checks at once than there
// are slots: the number of argon2id computations running at once never passes the
// bound (measured inside the one function that calls argon2), and every check either
// ran or was refused with ErrPasswordBusy.
func TestConcurrentHashesStayBounded(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	var matched, busy atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := checkPassword(context.Background(), h, "correct horse battery")
			switch {
			case errs.Is(err, ErrPasswordBusy.Code):
				busy.Add(1)
			case err != nil:
				t.Error(err)
			case ok:
				matched.Add(1)
			}
		}()
	}
	wg.Wait()
	st := PasswordHashing()
	if st.Slots < minHashSlots || st.Slots > maxHashSlots {
		t.Fatalf("slots = %d", st.Slots)
	}
	if st.Peak > int64(st.Slots) || st.Peak < 1 {
		t.Fatalf("%d argon2id computations ran at once; the bound is %d", st.Peak, st.Slots)
	}
	if matched.Load()+busy.Load() != n || matched.Load() == 0 {
		t.Fatalf("%d matched, %d busy, of %d", matched.Load(), busy.Load(), n)
	}
}

func TestPasswordStrength(t *testing.T) {
	tests := []struct {
		pw   string
		code string
	}{
		{"", "weak_password"},
		{"123456789", "weak_password"},
		{"ééééééééé", "weak_password"}, // 9 characters, 18 bytes: characters count
		{"1234567890", ""},
		{"éééééééééé", ""},
		{strings.Repeat("x", MaxPasswordLength), ""},
		{strings.Repeat("x", MaxPasswordLength+1), "password_too_long"},
	}
	for _, tt := range tests {
		err := checkPasswordStrength(tt.pw)
		if tt.code == "" && err != nil || tt.code != "" && !errs.Is(err, tt.code) {
			t.Errorf("checkPasswordStrength(%d bytes) = %v, want %q", len(tt.pw), err, tt.code)
		}
	}
}
