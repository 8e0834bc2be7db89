package manifest

import (
	"slices"
	"strings"
	"testing"
)

func TestConsentOnASiteWithoutMail(t *testing.T) {
	m := mustParse(t, `{"id": "mailer", "version": "1.0.0", "name": "Mailer", "capabilities": ["email:send", "content:read"]}`)
	plain := capabilityLine(EmailSend)
	tests := []struct {
		site Site
		want string
	}{
		{Site{}, plain},
		{Site{MailOff: true}, plain + MailOffNote},
	}
	for _, tt := range tests {
		s := ConsentOn(m, tt.site)
		if !slices.Contains(s.Lines, tt.want) {
			t.Errorf("site %+v: lines %q lack %q", tt.site, s.Lines, tt.want)
		}
		// What activation must send back does not depend on the site.
		if !slices.Equal(s.Capabilities, Consent(m).Capabilities) {
			t.Errorf("capabilities differ: %v", s.Capabilities)
		}
	}
	// A plugin without email:send is told nothing about mail.
	other := mustParse(t, `{"id": "other", "version": "1.0.0", "name": "Other", "capabilities": ["content:read"]}`)
	for _, l := range ConsentOn(other, Site{MailOff: true}).Lines {
		if strings.Contains(l, "mail") {
			t.Errorf("line %q", l)
		}
	}
}

func TestEmailsPerHourLimit(t *testing.T) {
	tests := []struct {
		limits  string
		want    int
		problem string
	}{
		{`{}`, 60, ""},
		{`{"emailsPerHour": 5}`, 5, ""},
		{`{"emailsPerHour": 61}`, 0, "above the site default"},
		{`{"emailsPerHour": 0}`, 0, "emailsPerHour"},
		{`{"emailsPerHour": "lots"}`, 0, "emailsPerHour"},
	}
	for _, tt := range tests {
		t.Run(tt.limits, func(t *testing.T) {
			m, probs := Parse([]byte(`{"id": "mailer", "version": "1.0.0", "name": "Mailer", "capabilities": ["email:send"], "limits": ` + tt.limits + `}`))
			if tt.problem != "" {
				if len(probs) == 0 || !strings.Contains(probs.Error(), tt.problem) {
					t.Fatalf("problems %v, want %q", probs, tt.problem)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if got := m.EffectiveLimits(SiteDefaults).EmailsPerHour; got != tt.want {
				t.Errorf("emailsPerHour %d, want %d", got, tt.want)
			}
		})
	}
}
