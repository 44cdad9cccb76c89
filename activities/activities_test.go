package activities_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/internal/seed"
)

// newActivityEnv registers activities on a Store over a fresh database in
// the SDK's activity test environment. The Temporal client is nil because
// only EnsureTokenRenewal uses it.
func newActivityEnv(t *testing.T) (*testsuite.TestActivityEnvironment, *activities.Activities, *pgxpool.Pool) {
	t.Helper()
	store, pool := newStore(t)
	daemonActivities := activities.New(store, nil, activities.RenewalSettings{
		Interval:     daemonauth.DefaultRenewalInterval,
		CyclesPerRun: daemonauth.DefaultCyclesPerRun,
	})
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(daemonActivities)
	return env, daemonActivities, pool
}

// requireApplicationError asserts that err carries a non-retryable
// application error of errType and returns it.
func requireApplicationError(t *testing.T, err error, errType string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "the activity must fail with a *temporal.ApplicationError")
	assert.Equal(t, errType, appErr.Type(), "application error type")
	assert.True(t, appErr.NonRetryable(), "a %s error must be non-retryable, because retrying the same input fails the same way", errType)
	return appErr
}

func TestRenewTokenActivityRenews(t *testing.T) {
	t.Parallel()
	env, daemonActivities, pool := newActivityEnv(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(3), false)

	encoded, err := env.ExecuteActivity(daemonActivities.RenewToken, daemonauth.RenewTokenInput{TokenID: tokenID})
	require.NoError(t, err, "RenewToken activity on an in-window token")
	var result daemonauth.RenewTokenResult
	require.NoError(t, encoded.Get(&result), "decode the RenewToken result")

	assert.True(t, result.Renewed, "the activity must report the renewal")
	require.NotNil(t, result.ExpiresAt, "the activity must report the new expiry")
	after := mustReadToken(t, pool, tokenID)
	require.NotNil(t, after.ExpiresAt, "expires_at must not be cleared")
	assertSameTime(t, *after.ExpiresAt, *result.ExpiresAt, "the reported expiry must be the stored one")

	// The Extender comes from the activity info, so the audit row must
	// name the workflow run and the activity that extended the token.
	audit := readExtensions(t, pool)
	require.Len(t, audit, 1, "the renewal must write one audit row")
	assert.NotEmpty(t, audit[0].WorkflowID, "audit row must name the workflow")
	assert.NotEmpty(t, audit[0].RunID, "audit row must name the workflow run")
	assert.NotEmpty(t, audit[0].ActivityID, "audit row must name the activity")
}

func TestRenewTokenActivityRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		expiresIn float64
		revoked   bool
		reason    string
	}{
		{"revoked", 3, true, daemonauth.RejectRevoked},
		{"expired", -1, false, daemonauth.RejectExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, daemonActivities, pool := newActivityEnv(t)
			tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(tc.expiresIn), tc.revoked)

			_, err := env.ExecuteActivity(daemonActivities.RenewToken, daemonauth.RenewTokenInput{TokenID: tokenID})

			appErr := requireApplicationError(t, err, daemonauth.ErrTypeTokenRejected)
			assert.Contains(t, appErr.Message(), tc.reason, "the message must name the reason")
			require.True(t, appErr.HasDetails(), "a TokenRejected error must carry details")
			var details daemonauth.TokenRejectedDetails
			require.NoError(t, appErr.Details(&details), "details must decode as TokenRejectedDetails")
			assert.Equal(t, tokenID, details.TokenID, "details must name the token")
			assert.Equal(t, tc.reason, details.Reason, "details must carry the reason")
			assert.Empty(t, readExtensions(t, pool), "a rejected token must get no audit row")
		})
	}
}

func TestRenewTokenActivityUnknown(t *testing.T) {
	t.Parallel()
	env, daemonActivities, pool := newActivityEnv(t)
	tokenID := randomUUID(t, pool)

	_, err := env.ExecuteActivity(daemonActivities.RenewToken, daemonauth.RenewTokenInput{TokenID: tokenID})

	appErr := requireApplicationError(t, err, daemonauth.ErrTypeTokenRejected)
	var details daemonauth.TokenRejectedDetails
	require.NoError(t, appErr.Details(&details), "details must decode as TokenRejectedDetails")
	assert.Equal(t, tokenID, details.TokenID, "details must name the token")
	assert.Equal(t, daemonauth.RejectUnknown, details.Reason, "details must carry the reason")
}

func TestSyncWorkspacesActivityRejected(t *testing.T) {
	t.Parallel()
	env, daemonActivities, pool := newActivityEnv(t)
	tokenID := issueToken(t, pool, newUser(t, pool, "a@example.com"), seed.Days(60), true)

	_, err := env.ExecuteActivity(daemonActivities.SyncWorkspaces, daemonauth.SyncWorkspacesInput{DaemonID: "laptop-1", TokenID: tokenID})

	appErr := requireApplicationError(t, err, daemonauth.ErrTypeTokenRejected)
	var details daemonauth.TokenRejectedDetails
	require.NoError(t, appErr.Details(&details), "details must decode as TokenRejectedDetails")
	assert.Equal(t, tokenID, details.TokenID, "details must name the token")
	assert.Equal(t, daemonauth.RejectRevoked, details.Reason, "details must carry the reason")
	_, found := readDaemon(t, pool, "laptop-1")
	assert.False(t, found, "a rejected sync must not create a daemon row")
}

func TestActivityInvalidInput(t *testing.T) {
	t.Parallel()
	validTokenID := "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"
	cases := []struct {
		name string
		// execute runs one activity with an invalid input.
		execute func(env *testsuite.TestActivityEnvironment, daemonActivities *activities.Activities) error
		// field is the input field the message must name.
		field string
	}{
		{
			name: "renew token id",
			execute: func(env *testsuite.TestActivityEnvironment, daemonActivities *activities.Activities) error {
				_, err := env.ExecuteActivity(daemonActivities.RenewToken, daemonauth.RenewTokenInput{TokenID: "not-a-uuid"})
				return err
			},
			field: "token_id",
		},
		{
			name: "renew missing token id",
			execute: func(env *testsuite.TestActivityEnvironment, daemonActivities *activities.Activities) error {
				_, err := env.ExecuteActivity(daemonActivities.RenewToken, daemonauth.RenewTokenInput{})
				return err
			},
			field: "token_id",
		},
		{
			name: "sync token id",
			execute: func(env *testsuite.TestActivityEnvironment, daemonActivities *activities.Activities) error {
				_, err := env.ExecuteActivity(daemonActivities.SyncWorkspaces, daemonauth.SyncWorkspacesInput{DaemonID: "laptop-1", TokenID: "not-a-uuid"})
				return err
			},
			field: "token_id",
		},
		{
			name: "sync daemon id",
			execute: func(env *testsuite.TestActivityEnvironment, daemonActivities *activities.Activities) error {
				_, err := env.ExecuteActivity(daemonActivities.SyncWorkspaces, daemonauth.SyncWorkspacesInput{DaemonID: "laptop 1; rm", TokenID: validTokenID})
				return err
			},
			field: "daemon_id",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, daemonActivities, pool := newActivityEnv(t)
			before := snapshotDaemonTables(t, pool)

			err := tc.execute(env, daemonActivities)

			appErr := requireApplicationError(t, err, daemonauth.ErrTypeInvalidInput)
			assert.Contains(t, appErr.Message(), tc.field, "the message must name the invalid field")
			assert.Empty(t, readExtensions(t, pool), "an invalid input must write no audit row")
			assert.Equal(t, before, snapshotDaemonTables(t, pool), "an invalid input must write no daemon rows")
		})
	}
}
