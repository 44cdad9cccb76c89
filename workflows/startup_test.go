package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/workflows"
)

// callLog records the order in which activities ran.
type callLog struct {
	mu    sync.Mutex
	names []string
}

func (c *callLog) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
}

func (c *callLog) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

func rejectedError(reason string) error {
	return temporal.NewNonRetryableApplicationError("token "+testTokenID+" is "+reason,
		daemonauth.ErrTypeTokenRejected, nil, rejectedDetails(reason))
}

var (
	expiry     = time.Date(2027, 3, 4, 12, 0, 0, 0, time.UTC)
	workspaces = []daemonauth.Workspace{
		{ID: "7d7f5a4e-0000-4000-8000-000000000001", Name: "Acme Platform", Slug: "acme-platform", Role: "owner"},
	}
)

func startupInput(profile string) daemonauth.DaemonStartupInput {
	return daemonauth.DaemonStartupInput{DaemonID: testDaemonID, TokenID: testTokenID, Profile: profile}
}

// expectEnsureRenewal mocks EnsureTokenRenewal and records the call.
func expectEnsureRenewal(env *testsuite.TestWorkflowEnvironment, a *activities.Activities, calls *callLog, profile string, renewSoon bool) {
	matches := mock.MatchedBy(func(in daemonauth.EnsureTokenRenewalInput) bool {
		return in.DaemonID == testDaemonID && in.TokenID == testTokenID && in.Profile == profile && in.RenewSoon == renewSoon
	})
	env.OnActivity(a.EnsureTokenRenewal, mock.Anything, matches).
		Return(func(context.Context, daemonauth.EnsureTokenRenewalInput) (daemonauth.EnsureTokenRenewalResult, error) {
			calls.add(daemonauth.ActivityEnsureTokenRenewal)
			return daemonauth.EnsureTokenRenewalResult{WorkflowID: daemonauth.RenewalWorkflowID(testDaemonID)}, nil
		}).Once()
}

// expectSync mocks a successful SyncWorkspaces and records the call.
func expectSync(env *testsuite.TestWorkflowEnvironment, a *activities.Activities, calls *callLog) {
	env.OnActivity(a.SyncWorkspaces, mock.Anything, daemonauth.SyncWorkspacesInput{DaemonID: testDaemonID, TokenID: testTokenID}).
		Return(func(context.Context, daemonauth.SyncWorkspacesInput) (daemonauth.SyncWorkspacesResult, error) {
			calls.add(daemonauth.ActivitySyncWorkspaces)
			return daemonauth.SyncWorkspacesResult{Workspaces: workspaces, Added: 1}, nil
		}).Once()
}

func TestDaemonStartupRejectedTokenRenewsBeforeSync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		command string
		hint    string
	}{
		{name: "no profile", hint: "multica login"},
		{name: "profile", profile: "work", hint: "multica login --profile work"},
		{name: "custom command", profile: "work", command: "acme auth login", hint: "acme auth login --profile work"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, logger := newEnv(t)
			var a *activities.Activities
			env.RegisterActivity(a)
			calls := &callLog{}

			env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
				Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
					calls.add(daemonauth.ActivityRenewToken)
					return daemonauth.RenewTokenResult{}, rejectedError(daemonauth.RejectRevoked)
				}).Once()
			env.OnActivity(a.SyncWorkspaces, mock.Anything, daemonauth.SyncWorkspacesInput{DaemonID: testDaemonID, TokenID: testTokenID}).
				Return(func(context.Context, daemonauth.SyncWorkspacesInput) (daemonauth.SyncWorkspacesResult, error) {
					calls.add(daemonauth.ActivitySyncWorkspaces)
					return daemonauth.SyncWorkspacesResult{}, rejectedError(daemonauth.RejectRevoked)
				}).Once()
			env.OnActivity(a.EnsureTokenRenewal, mock.Anything, daemonauth.EnsureTokenRenewalInput{
				DaemonID: testDaemonID, TokenID: testTokenID, Profile: tc.profile, LoginCommand: tc.command,
				NeedsRelogin: true,
			}).Return(func(context.Context, daemonauth.EnsureTokenRenewalInput) (daemonauth.EnsureTokenRenewalResult, error) {
				calls.add(daemonauth.ActivityEnsureTokenRenewal)
				return daemonauth.EnsureTokenRenewalResult{WorkflowID: daemonauth.RenewalWorkflowID(testDaemonID)}, nil
			}).Once()

			input := startupInput(tc.profile)
			input.LoginCommand = tc.command
			env.ExecuteWorkflow(workflows.DaemonStartup, input)

			require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
			assert.Equal(t, []string{daemonauth.ActivityRenewToken, daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal},
				calls.list(), "activities ran out of order")

			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr, "workflow should fail with an application error")
			assert.Equal(t, daemonauth.ErrTypeTokenRejected, appErr.Type(), "error type")
			assert.True(t, appErr.NonRetryable(), "a rejected token must not be retried")
			assert.Contains(t, appErr.Error(), "`"+tc.hint+"`", "the failure names the login command")

			var partial daemonauth.DaemonStartupResult
			require.NoError(t, appErr.Details(&partial), "the failure carries the partial result")
			assert.True(t, partial.NeedsRelogin, "needs_relogin in the partial result")
			assert.Equal(t, tc.hint, partial.LoginHint, "login hint in the partial result")
			assert.Equal(t, daemonauth.OutcomeRejected, partial.Renewal.Outcome, "renewal outcome")

			warnings := logger.at("WARN")
			require.Len(t, warnings, 1, "exactly one warning for the rejected token")
			assert.Equal(t, tc.hint, warnings[0].fields["command"], "the warning names the login command")
			assert.Equal(t, daemonauth.RejectRevoked, warnings[0].fields["reason"], "the warning names the reason")
		})
	}
}

func TestDaemonStartupNotDueStillSyncs(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := &callLog{}

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			calls.add(daemonauth.ActivityRenewToken)
			return daemonauth.RenewTokenResult{Renewed: false, ExpiresAt: &expiry}, nil
		}).Once()
	expectSync(env, a, calls)
	expectEnsureRenewal(env, a, calls, "", false)

	env.ExecuteWorkflow(workflows.DaemonStartup, startupInput(""))

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.DaemonStartupResult
	require.NoError(t, env.GetWorkflowResult(&result))

	assert.Equal(t, []string{daemonauth.ActivityRenewToken, daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal}, calls.list())
	assert.Equal(t, daemonauth.OutcomeNotDue, result.Renewal.Outcome, "renewal outcome")
	require.NotNil(t, result.Renewal.ExpiresAt, "a not-due renewal reports the current expiry")
	assert.True(t, expiry.Equal(*result.Renewal.ExpiresAt), "expiry %v, want %v", result.Renewal.ExpiresAt, expiry)
	assert.False(t, result.NeedsRelogin, "needs_relogin")
	assert.Equal(t, workspaces, result.Workspaces, "workspaces")
	assert.Equal(t, 1, result.WorkspacesAdded, "workspaces added")
	assert.Equal(t, daemonauth.RenewalWorkflowID(testDaemonID), result.RenewalWorkflowID)
	assert.Empty(t, logger.at("WARN"), "a renewal that is not due is no warning")
	assert.Len(t, logger.containing("DEBUG", "not due"), 1, "a renewal that is not due is logged at debug")
}

func TestDaemonStartupTransientRenewalFailureStillSyncs(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := &callLog{}

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			calls.add(daemonauth.ActivityRenewToken)
			return daemonauth.RenewTokenResult{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
		}).Times(3)
	expectSync(env, a, calls)
	expectEnsureRenewal(env, a, calls, "work", true)

	env.ExecuteWorkflow(workflows.DaemonStartup, startupInput("work"))

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.DaemonStartupResult
	require.NoError(t, env.GetWorkflowResult(&result))

	assert.Equal(t, []string{
		daemonauth.ActivityRenewToken, daemonauth.ActivityRenewToken, daemonauth.ActivityRenewToken,
		daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal,
	}, calls.list(), "three renewal attempts, then the sync")
	assert.Equal(t, daemonauth.OutcomeFailed, result.Renewal.Outcome, "renewal outcome")
	assert.Contains(t, result.Renewal.Error, "connection refused", "the outcome keeps the cause")
	assert.False(t, result.NeedsRelogin, "a transient failure needs no login")
	assert.Empty(t, logger.at("WARN"), "a transient failure is no warning")
	assert.Len(t, logger.containing("INFO", "renewal failed"), 1, "the failure is logged once")
}

func TestDaemonStartupInvalidInputFailsFast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input any
		field string
	}{
		{name: "missing daemon", input: daemonauth.DaemonStartupInput{TokenID: testTokenID}, field: "daemon_id"},
		{name: "missing token", input: daemonauth.DaemonStartupInput{DaemonID: testDaemonID}, field: "token_id"},
		{name: "token not UUID", input: daemonauth.DaemonStartupInput{DaemonID: testDaemonID, TokenID: "mul_0123"}, field: "token_id"},
		{name: "daemon with space", input: daemonauth.DaemonStartupInput{DaemonID: "my laptop", TokenID: testTokenID}, field: "daemon_id"},
		{name: "profile with quote", input: daemonauth.DaemonStartupInput{DaemonID: testDaemonID, TokenID: testTokenID, Profile: "w'ork"}, field: "profile"},
		{name: "unknown field", input: json.RawMessage(`{"daemon_id":"laptop-7","token_id":"` + testTokenID + `","token":"mul_x"}`), field: `unknown field "token"`},
		{name: "wrong type", input: json.RawMessage(`{"daemon_id":"laptop-7","token_id":42}`), field: "token_id must be a JSON string, got a JSON number"},
		{name: "empty object", input: json.RawMessage(`{}`), field: "daemon_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := newEnv(t)
			workflows.Register(env)
			env.RegisterActivity(&activities.Activities{})
			started := &callLog{}
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				started.add(info.ActivityType.Name)
			})

			// By name, so that raw JSON reaches the workflow's decoder.
			env.ExecuteWorkflow(daemonauth.WorkflowDaemonStartup, tc.input)

			require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			assert.Equal(t, daemonauth.ErrTypeInvalidInput, appErr.Type(), "error type")
			assert.True(t, appErr.NonRetryable(), "invalid input must not be retried")
			assert.Contains(t, appErr.Error(), tc.field, "the error names the field")
			assert.Empty(t, started.list(), "no activity may run on invalid input")
		})
	}
}

func TestDaemonStartupSyncFailureStillStartsRenewal(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := &callLog{}

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil).Once()
	env.OnActivity(a.SyncWorkspaces, mock.Anything, mock.Anything).
		Return(func(context.Context, daemonauth.SyncWorkspacesInput) (daemonauth.SyncWorkspacesResult, error) {
			calls.add(daemonauth.ActivitySyncWorkspaces)
			return daemonauth.SyncWorkspacesResult{}, errors.New("database is shutting down")
		}).Times(5)
	expectEnsureRenewal(env, a, calls, "", false)

	env.ExecuteWorkflow(workflows.DaemonStartup, startupInput(""))

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	err := env.GetWorkflowError()
	require.Error(t, err, "a sync that keeps failing fails the start-up")
	assert.Contains(t, err.Error(), "database is shutting down", "the failure keeps the cause")
	assert.Equal(t, daemonauth.ActivityEnsureTokenRenewal, calls.list()[len(calls.list())-1], "the renewal workflow is still ensured")
	assert.Empty(t, logger.at("WARN"), "a transient failure is no warning")
	assert.Len(t, logger.containing("INFO", "Token renewed"), 1, "the renewal is logged at info")
}
