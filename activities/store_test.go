package activities_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/internal/seed"
)

var testExtender = activities.Extender{
	WorkflowID: "token-renewal-laptop-1",
	RunID:      "run-1",
	ActivityID: "7",
}

func TestRenewTokenInWindow(t *testing.T) {
	t.Parallel()
	store, pool := newStore(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), false)
	before := mustReadToken(t, pool, tokenID)
	require.NotNil(t, before.ExpiresAt, "seeded token must have an expiry")

	result, err := store.RenewToken(t.Context(), tokenID, testExtender)
	require.NoError(t, err, "renewing a token that expires in 3 days")
	now := dbNow(t, pool)

	assert.True(t, result.Renewed, "a token inside the 7-day window must be renewed")
	assert.False(t, result.NeverExpires, "a token with an expiry must not report never_expires")
	require.NotNil(t, result.ExpiresAt, "a renewed token must report its new expiry")
	assert.WithinDuration(t, now.Add(testPolicy.Extension), *result.ExpiresAt, clockTolerance,
		"new expiry must be the database's now() plus the 90-day extension")

	after := mustReadToken(t, pool, tokenID)
	require.NotNil(t, after.ExpiresAt, "renewal must not clear expires_at")
	assertSameTime(t, *result.ExpiresAt, *after.ExpiresAt, "stored expires_at must be the value RenewToken returned")
	assert.False(t, after.Revoked, "renewal must not revoke the token")

	audit := readExtensions(t, pool)
	require.Len(t, audit, 1, "one renewal must write exactly one audit row")
	assert.Equal(t, tokenID, audit[0].TokenID, "audit row must name the renewed token")
	assertSameTime(t, *before.ExpiresAt, audit[0].OldExpiresAt, "audit old_expires_at must be the expiry before the renewal")
	assertSameTime(t, *after.ExpiresAt, audit[0].NewExpiresAt, "audit new_expires_at must be the stored expiry")
	assert.Equal(t, testExtender.WorkflowID, audit[0].WorkflowID, "audit row must name the extender's workflow id")
	assert.Equal(t, testExtender.RunID, audit[0].RunID, "audit row must name the extender's run id")
	assert.Equal(t, testExtender.ActivityID, audit[0].ActivityID, "audit row must name the extender's activity id")
}

func TestRenewTokenNotDue(t *testing.T) {
	t.Parallel()
	store, pool := newStore(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(60), false)
	before := mustReadToken(t, pool, tokenID)
	require.NotNil(t, before.ExpiresAt, "seeded token must have an expiry")

	result, err := store.RenewToken(t.Context(), tokenID, testExtender)
	require.NoError(t, err, "a token outside the window is a normal outcome, not an error")

	assert.False(t, result.Renewed, "a token with 60 days left is outside the 7-day window and must not be renewed")
	assert.False(t, result.NeverExpires, "a token with an expiry must not report never_expires")
	require.NotNil(t, result.ExpiresAt, "a token that was not renewed must still report its expiry")
	assertSameTime(t, *before.ExpiresAt, *result.ExpiresAt, "reported expiry must be the unchanged stored expiry")

	after := mustReadToken(t, pool, tokenID)
	require.NotNil(t, after.ExpiresAt, "expires_at must not be cleared")
	assertSameTime(t, *before.ExpiresAt, *after.ExpiresAt, "stored expires_at must be unchanged")
	assert.Empty(t, readExtensions(t, pool), "a token that was not renewed must get no audit row")
}

func TestRenewTokenNeverExpires(t *testing.T) {
	t.Parallel()
	store, pool := newStore(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), nil, false)

	result, err := store.RenewToken(t.Context(), tokenID, testExtender)
	require.NoError(t, err, "a token that never expires is a normal outcome, not an error")

	assert.False(t, result.Renewed, "a token that never expires must not be renewed")
	assert.True(t, result.NeverExpires, "a NULL expires_at must be reported as never_expires")
	assert.Nil(t, result.ExpiresAt, "a token that never expires has no expiry to report")

	after := mustReadToken(t, pool, tokenID)
	assert.Nil(t, after.ExpiresAt, "stored expires_at must stay NULL")
	assert.False(t, after.Revoked, "the token must not be revoked")
	assert.Empty(t, readExtensions(t, pool), "a token that never expires must get no audit row")
}

func TestRenewTokenRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// issue seeds the token under test and returns its id.
		issue  func(t *testing.T, pool *pgxpool.Pool) string
		reason string
	}{
		{
			name: "revoked",
			issue: func(t *testing.T, pool *pgxpool.Pool) string {
				// The token is inside the window, so revocation is the only
				// reason to reject it.
				return issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), true)
			},
			reason: daemonauth.RejectRevoked,
		},
		{
			name: "expired",
			issue: func(t *testing.T, pool *pgxpool.Pool) string {
				return issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(-1), false)
			},
			reason: daemonauth.RejectExpired,
		},
		{
			name: "unknown id",
			issue: func(t *testing.T, pool *pgxpool.Pool) string {
				return randomUUID(t, pool)
			},
			reason: daemonauth.RejectUnknown,
		},
		{
			name: "user deleted",
			issue: func(t *testing.T, pool *pgxpool.Pool) string {
				userID := newUser(t, pool, "a@example.com")
				tokenID := issueToken(t, pool, userID, seed.Days(3), false)
				_, err := pool.Exec(t.Context(), `DELETE FROM "user" WHERE id = $1`, userID)
				require.NoError(t, err, "delete the token's user")
				return tokenID
			},
			reason: daemonauth.RejectUnknown,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, pool := newStore(t)
			tokenID := tc.issue(t, pool)
			before, existedBefore := readToken(t, pool, tokenID)

			result, err := store.RenewToken(t.Context(), tokenID, testExtender)

			var rejected *activities.TokenRejectedError
			require.ErrorAs(t, err, &rejected, "RenewToken must return a *TokenRejectedError")
			assert.Equal(t, tc.reason, rejected.Reason, "rejection reason")
			assert.Equal(t, tokenID, rejected.TokenID, "rejection must name the token")
			assert.Contains(t, err.Error(), tc.reason, "error message must name the reason")
			assert.Contains(t, err.Error(), tokenID, "error message must name the token")
			assert.Equal(t, daemonauth.RenewTokenResult{}, result, "a rejected token must return the zero result")

			after, existsAfter := readToken(t, pool, tokenID)
			assert.Equal(t, existedBefore, existsAfter, "the token row must neither appear nor disappear")
			assert.Equal(t, before, after, "the token row must be unchanged")
			assert.Empty(t, readExtensions(t, pool), "a rejected token must get no audit row")
		})
	}
}

func TestRenewTokenRetryAfterCommit(t *testing.T) {
	t.Parallel()
	store, pool := newStore(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), false)

	first, err := store.RenewToken(t.Context(), tokenID, testExtender)
	require.NoError(t, err, "first attempt")
	require.True(t, first.Renewed, "first attempt must renew the in-window token")
	require.NotNil(t, first.ExpiresAt, "first attempt must report the new expiry")

	// This call simulates a Temporal retry of the same activity. The first
	// result was lost after the extension committed, so the same Extender
	// calls again.
	retry, err := store.RenewToken(t.Context(), tokenID, testExtender)
	require.NoError(t, err, "retry of the committed attempt")

	assert.True(t, retry.Renewed, "a retry must recognise the extension its own earlier attempt committed")
	require.NotNil(t, retry.ExpiresAt, "the retry must report the expiry")
	assertSameTime(t, *first.ExpiresAt, *retry.ExpiresAt, "the retry must report the expiry the first attempt wrote")

	after := mustReadToken(t, pool, tokenID)
	require.NotNil(t, after.ExpiresAt, "expires_at must not be cleared")
	assertSameTime(t, *first.ExpiresAt, *after.ExpiresAt, "the retry must not extend the token again")
	assert.Len(t, readExtensions(t, pool), 1, "the retry must not write a second audit row")
}

func TestRenewTokenOtherExtenderLoses(t *testing.T) {
	t.Parallel()
	// Each case differs from the winner in one id, so all three ids must
	// match for a call to count as a retry of the winner.
	cases := []struct {
		name  string
		other activities.Extender
	}{
		{"other workflow", activities.Extender{WorkflowID: "token-renewal-laptop-2", RunID: testExtender.RunID, ActivityID: testExtender.ActivityID}},
		{"other run", activities.Extender{WorkflowID: testExtender.WorkflowID, RunID: "run-2", ActivityID: testExtender.ActivityID}},
		{"other activity", activities.Extender{WorkflowID: testExtender.WorkflowID, RunID: testExtender.RunID, ActivityID: "8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, pool := newStore(t)
			tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), false)

			winner, err := store.RenewToken(t.Context(), tokenID, testExtender)
			require.NoError(t, err, "winner's renewal")
			require.True(t, winner.Renewed, "winner must renew the in-window token")
			require.NotNil(t, winner.ExpiresAt, "winner must report the new expiry")

			late, err := store.RenewToken(t.Context(), tokenID, tc.other)
			require.NoError(t, err, "a late renewal is a normal outcome, not an error")

			assert.False(t, late.Renewed, "a different extender must not claim the winner's extension")
			require.NotNil(t, late.ExpiresAt, "the late call must report the current expiry")
			assertSameTime(t, *winner.ExpiresAt, *late.ExpiresAt, "the late call must report the winner's expiry")

			after := mustReadToken(t, pool, tokenID)
			require.NotNil(t, after.ExpiresAt, "expires_at must not be cleared")
			assertSameTime(t, *winner.ExpiresAt, *after.ExpiresAt, "stored expires_at must stay the winner's value")
			audit := readExtensions(t, pool)
			require.Len(t, audit, 1, "only the winner may write an audit row")
			assert.Equal(t, testExtender.ActivityID, audit[0].ActivityID, "the audit row must be the winner's")
			assert.Equal(t, testExtender.RunID, audit[0].RunID, "the audit row must be the winner's")
			assert.Equal(t, testExtender.WorkflowID, audit[0].WorkflowID, "the audit row must be the winner's")
		})
	}
}

func TestRenewTokenConcurrent(t *testing.T) {
	t.Parallel()
	// Writers released by the barrier alone mostly take their snapshot
	// after the winner committed, so they never wait for its row lock. With
	// the row held, every writer is blocked inside the statement when the
	// lock is released, which is the interleaving the CAS must survive.
	cases := []struct {
		writers int
		holdRow bool
	}{
		{writers: 8},
		{writers: 64},
		{writers: 8, holdRow: true},
		{writers: 64, holdRow: true},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d writers", tc.writers)
		if tc.holdRow {
			name += " behind row lock"
		}
		writers := tc.writers
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, pool := newStore(t)
			tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), false)
			warmPool(t, pool, writers+1)

			var holder pgx.Tx
			if tc.holdRow {
				var err error
				holder, err = pool.Begin(t.Context())
				require.NoError(t, err, "begin the transaction that locks the token row")
				// The deferred rollback releases the writers if the test fails
				// before the planned rollback. A second rollback is a no-op.
				defer func() { _ = holder.Rollback(t.Context()) }()
				_, err = holder.Exec(t.Context(), `SELECT 1 FROM personal_access_token WHERE id = $1 FOR UPDATE`, tokenID)
				require.NoError(t, err, "lock the token row")
			}

			results := make([]daemonauth.RenewTokenResult, writers)
			renewErrors := make([]error, writers)
			extenders := make([]activities.Extender, writers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range writers {
				extenders[i] = activities.Extender{
					WorkflowID: fmt.Sprintf("token-renewal-laptop-%d", i),
					RunID:      fmt.Sprintf("run-%d", i),
					ActivityID: "1",
				}
				wg.Go(func() {
					<-start
					results[i], renewErrors[i] = store.RenewToken(t.Context(), tokenID, extenders[i])
				})
			}
			close(start)
			if tc.holdRow {
				waitForLockWaiters(t, pool, writers)
				require.NoError(t, holder.Rollback(t.Context()), "release the token row")
			}
			wg.Wait()

			winner := -1
			winners := 0
			for i := range writers {
				require.NoError(t, renewErrors[i], "writer %d: losing the race is a normal outcome, not an error", i)
				require.NotNil(t, results[i].ExpiresAt, "writer %d must report an expiry", i)
				if results[i].Renewed {
					winners++
					winner = i
				}
			}
			require.Equal(t, 1, winners, "exactly one of %d concurrent writers must renew the token", writers)

			winning := *results[winner].ExpiresAt
			for i := range writers {
				if i == winner {
					continue
				}
				assertSameTime(t, winning, *results[i].ExpiresAt, "loser %d must report the winner's expiry", i)
			}

			after := mustReadToken(t, pool, tokenID)
			require.NotNil(t, after.ExpiresAt, "expires_at must not be cleared")
			assertSameTime(t, winning, *after.ExpiresAt, "stored expires_at must be the winner's value")
			audit := readExtensions(t, pool)
			require.Len(t, audit, 1, "exactly one audit row must exist after %d concurrent writers", writers)
			assertSameTime(t, winning, audit[0].NewExpiresAt, "audit new_expires_at must be the winner's value")
			assert.Equal(t, extenders[winner].WorkflowID, audit[0].WorkflowID, "the audit row must name the winner")
		})
	}
}

// waitForLockWaiters returns once n sessions of the test's database are
// waiting for a lock. It polls pg_stat_activity because the test must know
// that every writer is blocked before it releases the row. The interval
// only sets how often the state is read, never whether the test passes.
func waitForLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for {
		var waiting int
		err := pool.QueryRow(t.Context(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		require.NoError(t, err, "count sessions waiting for a lock")
		if waiting >= n {
			return
		}
		require.True(t, time.Now().Before(deadline),
			"only %d of %d writers were waiting for the token row lock after %s", waiting, n, timeout)
		<-ticker.C
	}
}

// warmPool opens n connections up front, so the writers of a concurrency
// test race on the row lock rather than on connection set-up.
func warmPool(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	conns := make([]*pgxpool.Conn, 0, n)
	for range n {
		conn, err := pool.Acquire(t.Context())
		require.NoError(t, err, "open connection %d of %d", len(conns)+1, n)
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Release()
	}
}

func TestPolicyInvalid(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		name   string
		policy activities.Policy
		// expected lists fragments the error message must contain.
		expected []string
	}{
		{"extension equals threshold", activities.Policy{Extension: 7 * day, Threshold: 7 * day}, []string{"extension 168h0m0s", "must be longer than the threshold 168h0m0s"}},
		{"extension below threshold", activities.Policy{Extension: day, Threshold: 7 * day}, []string{"extension 24h0m0s", "must be longer than the threshold 168h0m0s"}},
		{"zero threshold", activities.Policy{Extension: 90 * day, Threshold: 0}, []string{"threshold 0s must be positive"}},
		{"negative threshold", activities.Policy{Extension: 90 * day, Threshold: -time.Hour}, []string{"threshold -1h0m0s must be positive"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			validateErr := tc.policy.Validate()
			require.Error(t, validateErr, "Validate must reject %+v", tc.policy)
			for _, fragment := range tc.expected {
				assert.Contains(t, validateErr.Error(), fragment, "Validate error must name the problem")
			}

			// NewStore validates before it touches the pool, so no database is needed.
			store, err := activities.NewStore(nil, tc.policy)
			require.Error(t, err, "NewStore must reject %+v", tc.policy)
			assert.Equal(t, validateErr.Error(), err.Error(), "NewStore must return the Validate error")
			assert.Nil(t, store, "NewStore must return no store with an error")
		})
	}
}

func TestPolicyValid(t *testing.T) {
	t.Parallel()
	assert.NoError(t, testPolicy.Validate(), "the 90-day extension with a 7-day threshold must be valid")
	assert.NoError(t, activities.Policy{Extension: activities.DefaultExtension, Threshold: activities.DefaultThreshold}.Validate(),
		"the default policy must be valid")
}

// syncFixture is a user who is a member of two workspaces and owns a token
// with 60 days left. Another user's workspace exists to show that a sync
// registers only the token owner's workspaces.
type syncFixture struct {
	store    *activities.Store
	pool     *pgxpool.Pool
	userID   string
	tokenID  string
	platform daemonauth.Workspace
	research daemonauth.Workspace
	// otherWorkspaceID is a workspace of another user.
	otherWorkspaceID string
}

func newSyncFixture(t *testing.T) syncFixture {
	t.Helper()
	store, pool := newStore(t)
	userID := newUser(t, pool, "operator@example.com")
	f := syncFixture{
		store:   store,
		pool:    pool,
		userID:  userID,
		tokenID: issueToken(t, pool, userID, seed.Days(60), false),
		platform: daemonauth.Workspace{
			ID:   newWorkspace(t, pool, userID, "acme-platform", "owner"),
			Name: "Workspace acme-platform",
			Slug: "acme-platform",
			Role: "owner",
		},
		research: daemonauth.Workspace{
			ID:   newWorkspace(t, pool, userID, "acme-research", "member"),
			Name: "Workspace acme-research",
			Slug: "acme-research",
			Role: "member",
		},
	}
	otherUserID := newUser(t, pool, "someone-else@example.com")
	f.otherWorkspaceID = newWorkspace(t, pool, otherUserID, "other-corp", "owner")
	return f
}

// daemonRow is the part of a daemon row that a sync writes.
type daemonRow struct {
	TokenID      *string
	LastSyncedAt *time.Time
}

// readDaemon returns the daemon's row, and false when there is none.
func readDaemon(t *testing.T, pool *pgxpool.Pool, daemonID string) (daemonRow, bool) {
	t.Helper()
	var row daemonRow
	err := pool.QueryRow(t.Context(),
		`SELECT token_id::text, last_synced_at FROM daemon WHERE id = $1`, daemonID,
	).Scan(&row.TokenID, &row.LastSyncedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return daemonRow{}, false
	}
	require.NoError(t, err, "read daemon %s", daemonID)
	return row, true
}

// readDaemonWorkspaces returns the ids of the workspaces the daemon is
// registered for.
func readDaemonWorkspaces(t *testing.T, pool *pgxpool.Pool, daemonID string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(),
		`SELECT workspace_id::text FROM daemon_workspace WHERE daemon_id = $1 ORDER BY workspace_id`, daemonID)
	require.NoError(t, err, "read daemon_workspace of %s", daemonID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err, "read daemon_workspace of %s", daemonID)
	return ids
}

// snapshotDaemonTables returns every row of daemon and daemon_workspace as
// JSON, timestamps included, so two snapshots are equal only when nothing
// was written in between.
func snapshotDaemonTables(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var snapshot string
	err := pool.QueryRow(t.Context(), `
SELECT json_build_object(
    'daemon', (SELECT coalesce(json_agg(d ORDER BY d.id), '[]') FROM daemon AS d),
    'daemon_workspace', (SELECT coalesce(json_agg(dw ORDER BY dw.daemon_id, dw.workspace_id), '[]') FROM daemon_workspace AS dw)
)::text`).Scan(&snapshot)
	require.NoError(t, err, "snapshot daemon tables")
	return snapshot
}

func TestSyncWorkspacesFirstSync(t *testing.T) {
	t.Parallel()
	f := newSyncFixture(t)

	result, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "first sync")
	now := dbNow(t, f.pool)

	assert.Equal(t, 2, result.Added, "both of the user's workspaces must be added")
	assert.Equal(t, 0, result.Removed, "a first sync has nothing to remove")
	assert.Equal(t, []daemonauth.Workspace{f.platform, f.research}, result.Workspaces,
		"result must list the user's workspaces with their roles, ordered by slug")
	assert.WithinDuration(t, now, result.SyncedAt, clockTolerance, "synced_at must come from the database clock")

	daemon, found := readDaemon(t, f.pool, "laptop-1")
	require.True(t, found, "the sync must create the daemon row")
	require.NotNil(t, daemon.TokenID, "daemon row must record the token")
	assert.Equal(t, f.tokenID, *daemon.TokenID, "daemon row must record the token it synced with")
	require.NotNil(t, daemon.LastSyncedAt, "daemon row must record the sync time")
	assertSameTime(t, result.SyncedAt, *daemon.LastSyncedAt, "last_synced_at must be the reported synced_at")
	registered := readDaemonWorkspaces(t, f.pool, "laptop-1")
	assert.ElementsMatch(t, []string{f.platform.ID, f.research.ID}, registered,
		"daemon must be registered for exactly the user's workspaces")
	assert.NotContains(t, registered, f.otherWorkspaceID, "daemon must not be registered for another user's workspace")
}

func TestSyncWorkspacesRepeat(t *testing.T) {
	t.Parallel()
	f := newSyncFixture(t)
	first, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "first sync")
	before := readDaemonWorkspaces(t, f.pool, "laptop-1")

	second, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "second sync")

	assert.Equal(t, 0, second.Added, "a repeat sync with no membership change must add nothing")
	assert.Equal(t, 0, second.Removed, "a repeat sync with no membership change must remove nothing")
	assert.Equal(t, first.Workspaces, second.Workspaces, "a repeat sync must list the same workspaces")
	assert.False(t, second.SyncedAt.Before(first.SyncedAt), "synced_at must not move backwards")

	assert.Equal(t, before, readDaemonWorkspaces(t, f.pool, "laptop-1"), "daemon_workspace must be unchanged")
	daemon, found := readDaemon(t, f.pool, "laptop-1")
	require.True(t, found, "daemon row must still exist")
	require.NotNil(t, daemon.LastSyncedAt, "daemon row must record the sync time")
	assertSameTime(t, second.SyncedAt, *daemon.LastSyncedAt, "last_synced_at must be the second sync's time")
}

func TestSyncWorkspacesMembershipRemoved(t *testing.T) {
	t.Parallel()
	f := newSyncFixture(t)
	_, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "first sync")
	_, err = f.pool.Exec(t.Context(), `DELETE FROM member WHERE user_id = $1 AND workspace_id = $2`, f.userID, f.research.ID)
	require.NoError(t, err, "remove the research membership")

	result, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "sync after leaving a workspace")

	assert.Equal(t, 0, result.Added, "leaving a workspace must add nothing")
	assert.Equal(t, 1, result.Removed, "the workspace the user left must be removed")
	assert.Equal(t, []daemonauth.Workspace{f.platform}, result.Workspaces, "result must list only the remaining workspace")
	assert.Equal(t, []string{f.platform.ID}, readDaemonWorkspaces(t, f.pool, "laptop-1"),
		"daemon must stay registered only for the remaining workspace")
}

func TestSyncWorkspacesNoMembership(t *testing.T) {
	t.Parallel()
	store, pool := newStore(t)
	userID := newUser(t, pool, "loner@example.com")
	tokenID := issueToken(t, pool, userID, seed.Days(60), false)

	result, err := store.SyncWorkspaces(t.Context(), "laptop-1", tokenID)
	require.NoError(t, err, "sync for a user who is a member of no workspace")

	assert.Equal(t, 0, result.Added, "a user without workspaces has nothing to add")
	assert.Equal(t, 0, result.Removed, "a first sync has nothing to remove")
	assert.NotNil(t, result.Workspaces, "workspaces must be an empty list, not nil")
	assert.Empty(t, result.Workspaces, "a user without workspaces lists none")
	encoded, err := json.Marshal(result)
	require.NoError(t, err, "encode the result")
	assert.Contains(t, string(encoded), `"workspaces":[]`, "the result must encode workspaces as [], not null")

	_, found := readDaemon(t, pool, "laptop-1")
	assert.True(t, found, "the sync must still create the daemon row")
	assert.Empty(t, readDaemonWorkspaces(t, pool, "laptop-1"), "the daemon must be registered for no workspace")
}

func TestSyncWorkspacesMembershipAdded(t *testing.T) {
	t.Parallel()
	f := newSyncFixture(t)
	_, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "first sync")
	infra := daemonauth.Workspace{
		ID:   newWorkspace(t, f.pool, f.userID, "acme-infra", "admin"),
		Name: "Workspace acme-infra",
		Slug: "acme-infra",
		Role: "admin",
	}

	result, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "sync after joining a workspace")

	assert.Equal(t, 1, result.Added, "the workspace the user joined must be added")
	assert.Equal(t, 0, result.Removed, "joining a workspace must remove nothing")
	assert.Equal(t, []daemonauth.Workspace{infra, f.platform, f.research}, result.Workspaces,
		"result must list all three workspaces, ordered by slug")
	assert.ElementsMatch(t, []string{infra.ID, f.platform.ID, f.research.ID}, readDaemonWorkspaces(t, f.pool, "laptop-1"),
		"daemon must be registered for all three workspaces")
}

func TestSyncWorkspacesTokenSwitch(t *testing.T) {
	t.Parallel()
	f := newSyncFixture(t)
	_, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
	require.NoError(t, err, "first sync")
	newTokenID := issueToken(t, f.pool, f.userID, seed.Days(90), false)

	result, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", newTokenID)
	require.NoError(t, err, "sync with the new token")

	assert.Equal(t, 0, result.Added, "a new token of the same user must add nothing")
	assert.Equal(t, 0, result.Removed, "a new token of the same user must remove nothing")
	daemon, found := readDaemon(t, f.pool, "laptop-1")
	require.True(t, found, "daemon row must still exist")
	require.NotNil(t, daemon.TokenID, "daemon row must record the token")
	assert.Equal(t, newTokenID, *daemon.TokenID, "daemon row must switch to the token of the latest sync")
}

func TestSyncWorkspacesRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// issue seeds the token under test for the fixture's user and
		// returns its id.
		issue  func(t *testing.T, f syncFixture) string
		reason string
	}{
		{
			name: "revoked",
			issue: func(t *testing.T, f syncFixture) string {
				return issueToken(t, f.pool, f.userID, seed.Days(60), true)
			},
			reason: daemonauth.RejectRevoked,
		},
		{
			name: "expired",
			issue: func(t *testing.T, f syncFixture) string {
				return issueToken(t, f.pool, f.userID, seed.Days(-1), false)
			},
			reason: daemonauth.RejectExpired,
		},
		{
			name: "unknown id",
			issue: func(t *testing.T, f syncFixture) string {
				return randomUUID(t, f.pool)
			},
			reason: daemonauth.RejectUnknown,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSyncFixture(t)
			_, err := f.store.SyncWorkspaces(t.Context(), "laptop-1", f.tokenID)
			require.NoError(t, err, "first sync with the valid token")
			// After this, a sync that went ahead would deregister laptop-1
			// from the research workspace, so an unchanged snapshot shows
			// that the rejected sync wrote nothing.
			_, err = f.pool.Exec(t.Context(), `DELETE FROM member WHERE user_id = $1 AND workspace_id = $2`, f.userID, f.research.ID)
			require.NoError(t, err, "remove the research membership")
			tokenID := tc.issue(t, f)
			before := snapshotDaemonTables(t, f.pool)

			for _, daemonID := range []string{"laptop-1", "laptop-2"} {
				result, err := f.store.SyncWorkspaces(t.Context(), daemonID, tokenID)

				var rejected *activities.TokenRejectedError
				require.ErrorAs(t, err, &rejected, "%s: SyncWorkspaces must return a *TokenRejectedError", daemonID)
				assert.Equal(t, tc.reason, rejected.Reason, "%s: rejection reason", daemonID)
				assert.Equal(t, tokenID, rejected.TokenID, "%s: rejection must name the token", daemonID)
				assert.Contains(t, err.Error(), tc.reason, "%s: error message must name the reason", daemonID)
				assert.Equal(t, daemonauth.SyncWorkspacesResult{}, result, "%s: a rejected token must return the zero result", daemonID)
			}

			assert.Equal(t, before, snapshotDaemonTables(t, f.pool),
				"a rejected sync must leave the daemon and daemon_workspace tables unchanged")
			_, found := readDaemon(t, f.pool, "laptop-2")
			assert.False(t, found, "a rejected sync must not create a daemon row")
		})
	}
}
