package main

import (
	"fmt"
	"time"

	"spectra/internal/mail"
	"spectra/internal/team"
)

// Team rollout environment variables.
const (
	envSMTPURL       = "SPECTRA_SMTP_URL"
	envInvitationTTL = "SPECTRA_INVITATION_TTL"
)

// readTeam reads the mail server and the invitation lifetime. A bad SMTP URL is a
// start-up error naming the variable (without echoing its password).
func (s *ServiceConfig) readTeam(get func(string) string) error {
	if v := get(envSMTPURL); v != "" {
		m, err := mail.New(v)
		if err != nil {
			return fmt.Errorf("%s: %v", envSMTPURL, err)
		}
		s.Mail = m
	}
	s.InvitationTTL = team.DefaultInvitationTTL
	if v := get(envInvitationTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 90*24*time.Hour {
			return fmt.Errorf("%s=%q: must be a duration from 1m to 2160h (90 days), like 168h", envInvitationTTL, v)
		}
		s.InvitationTTL = d
	}
	return nil
}
