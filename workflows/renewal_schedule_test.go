package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"daemonauth"
)

func TestNextWait(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	days := func(n float64) time.Duration { return time.Duration(n * float64(24*time.Hour)) }
	expiresIn := func(d time.Duration) *time.Time {
		at := now.Add(d)
		return &at
	}
	schedule := daemonauth.RenewalSchedule{
		MaxInterval: days(7),
		MinInterval: time.Hour,
		Threshold:   days(7),
		Jitter:      6 * time.Hour,
	}

	for _, tc := range []struct {
		name   string
		state  daemonauth.RenewalState
		jitter time.Duration
		want   time.Duration
	}{
		{"fresh 90-day token waits the maximum", daemonauth.RenewalState{ExpiresAt: expiresIn(days(90))}, 0, days(7)},
		{"due in 3 days, plus jitter", daemonauth.RenewalState{ExpiresAt: expiresIn(days(10))}, 2 * time.Hour, days(3) + 2*time.Hour},
		{"due in 30 minutes is held to the minimum", daemonauth.RenewalState{ExpiresAt: expiresIn(days(7) + 30*time.Minute)}, 0, time.Hour},
		{"already inside the window", daemonauth.RenewalState{ExpiresAt: expiresIn(days(2))}, 0, time.Hour},
		{"jitter never pushes past the maximum", daemonauth.RenewalState{ExpiresAt: expiresIn(days(14) - time.Hour)}, 5 * time.Hour, days(7)},
		{"never expires", daemonauth.RenewalState{NeverExpires: true}, 0, days(7)},
		{"expiry unknown", daemonauth.RenewalState{}, 0, days(7)},
		{"rejected", daemonauth.RenewalState{ExpiresAt: expiresIn(days(10)), NeedsRelogin: true}, 0, days(7)},
		{"failed renewal retries after the minimum", daemonauth.RenewalState{ExpiresAt: expiresIn(days(3)), LastOutcome: daemonauth.OutcomeFailed}, 0, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextWait(now, tc.state, schedule, tc.jitter))
		})
	}
}
