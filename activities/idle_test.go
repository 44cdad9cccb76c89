package activities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/seed"
)

func TestRenewTokenUnlessIdle(t *testing.T) {
	t.Parallel()
	const maxIdle = 30 * 24 * time.Hour

	for _, tc := range []struct {
		name string
		// setup runs against the new token's row; empty leaves it as issued.
		setup     string
		maxIdle   time.Duration
		expiresIn *time.Duration
		idle      bool
		renewed   bool
	}{
		{name: "used yesterday, in window", setup: `UPDATE personal_access_token SET last_used_at = now() - interval '1 day' WHERE id = $1`,
			maxIdle: maxIdle, expiresIn: seed.Days(3), renewed: true},
		{name: "unused for 40 days, in window", setup: `UPDATE personal_access_token SET last_used_at = now() - interval '40 days' WHERE id = $1`,
			maxIdle: maxIdle, expiresIn: seed.Days(3), idle: true},
		{name: "unused for 40 days, not due", setup: `UPDATE personal_access_token SET last_used_at = now() - interval '40 days' WHERE id = $1`,
			maxIdle: maxIdle, expiresIn: seed.Days(60), idle: true},
		{name: "never used, created 40 days ago", setup: `UPDATE personal_access_token SET created_at = now() - interval '40 days' WHERE id = $1`,
			maxIdle: maxIdle, expiresIn: seed.Days(3), idle: true},
		{name: "never used, created today", maxIdle: maxIdle, expiresIn: seed.Days(3), renewed: true},
		{name: "idle check off", setup: `UPDATE personal_access_token SET last_used_at = now() - interval '400 days' WHERE id = $1`,
			expiresIn: seed.Days(3), renewed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, pool := newStore(t)
			tokenID := issueToken(t, pool, newUser(t, pool, "idle@example.com"), tc.expiresIn, false)
			if tc.setup != "" {
				_, err := pool.Exec(t.Context(), tc.setup, tokenID)
				require.NoError(t, err)
			}
			before := mustReadToken(t, pool, tokenID)

			result, err := store.RenewTokenUnlessIdle(t.Context(), tokenID, testExtender, tc.maxIdle)

			require.NoError(t, err, "an idle token is an outcome, not an error")
			assert.Equal(t, tc.idle, result.Idle, "idle")
			assert.Equal(t, tc.renewed, result.Renewed, "renewed")
			after := mustReadToken(t, pool, tokenID)
			if tc.renewed {
				assert.Len(t, readExtensions(t, pool), 1, "a renewal writes its audit row")
				return
			}
			assertSameTime(t, *before.ExpiresAt, *after.ExpiresAt, "an idle token keeps its expiry")
			assert.Empty(t, readExtensions(t, pool), "an idle token gets no audit row")
		})
	}
}
