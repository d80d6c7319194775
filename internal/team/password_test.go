package team

import (
	"strings"
	"testing"

	"spectra/internal/errs"
)

func TestPasswordHash(t *testing.T) {
	h := hashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id in PHC form", h)
	}
	if !checkPassword(h, "correct horse battery") {
		t.Fatal("the right password does not match")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if checkPassword(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	if h2 := hashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{"", "plain", "$argon2i$" + strings.Join(parts[2:], "$"), strings.Join(parts[:5], "$"),
		strings.Replace(h, "v=19", "v=18", 1), strings.Replace(h, "m=19456", "m=0", 1), strings.Replace(h, "m=19456", "m=99999999", 1)} {
		if checkPassword(bad, "correct horse battery") {
			t.Errorf("malformed hash %q matches", bad)
		}
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
