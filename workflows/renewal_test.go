package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/workflows"
)

func renewalInput() daemonauth.TokenRenewalInput {
	return daemonauth.TokenRenewalInput{
		DaemonID:     testDaemonID,
		TokenID:      testTokenID,
		Profile:      "work",
		Interval:     "1h",
		CyclesPerRun: 100,
	}
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) daemonauth.RenewalStatus {
	t.Helper()
	value, err := env.QueryWorkflow(daemonauth.QueryStatus)
	require.NoError(t, err, "status query")
	var status daemonauth.RenewalStatus
	require.NoError(t, value.Get(&status), "decode status")
	return status
}

func TestTokenRenewalRenewsEachIntervalUntilStopped(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := &callLog{}

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			calls.add(daemonauth.ActivityRenewToken)
			return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil
		}).Times(3)

	var status daemonauth.RenewalStatus
	env.RegisterDelayedCallback(func() {
		status = queryStatus(t, env)
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{Reason: "daemon retired"})
	}, 3*time.Hour+30*time.Minute)

	env.ExecuteWorkflow(workflows.TokenRenewal, renewalInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.TokenRenewalResult
	require.NoError(t, env.GetWorkflowResult(&result))

	assert.Len(t, calls.list(), 3, "one renewal per hour in three and a half hours")
	assert.Equal(t, 3, status.Cycles, "cycles in the status query")
	assert.Equal(t, daemonauth.OutcomeRenewed, status.LastOutcome, "last outcome in the status query")
	require.NotNil(t, status.NextRenewalAt, "the status names the next renewal")
	assert.Equal(t, 3, result.Cycles, "cycles in the result")
	assert.Equal(t, "stop signal: daemon retired", result.StopReason, "stop reason")
	assert.Empty(t, logger.at("WARN"), "healthy renewals log no warning")
}

func TestTokenRenewalRejectedTokenWarnsEachCycle(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	// Rejection is final, so the workflow queries the database only once.
	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(daemonauth.RenewTokenResult{}, rejectedError(daemonauth.RejectExpired)).Once()
	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: newTokenID}).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil).Once()

	var beforeSwitch, afterSwitch daemonauth.RenewalStatus
	env.RegisterDelayedCallback(func() {
		beforeSwitch = queryStatus(t, env)
		env.SignalWorkflow(daemonauth.SignalSwitchToken, daemonauth.SwitchTokenInput{TokenID: newTokenID, Profile: "work"})
	}, 3*time.Hour+10*time.Minute)
	env.RegisterDelayedCallback(func() {
		afterSwitch = queryStatus(t, env)
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 3*time.Hour+20*time.Minute)

	env.ExecuteWorkflow(workflows.TokenRenewal, renewalInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError(), "a rejected token does not end the workflow")

	warnings := logger.at("WARN")
	require.Len(t, warnings, 3, "one warning per rejected cycle")
	for _, w := range warnings {
		assert.Equal(t, "multica login --profile work", w.fields["command"], "the warning names the login command")
	}
	assert.True(t, beforeSwitch.NeedsRelogin, "needs_relogin before the new token")
	assert.Equal(t, daemonauth.OutcomeRejected, beforeSwitch.LastOutcome, "last outcome before the new token")
	assert.False(t, afterSwitch.NeedsRelogin, "needs_relogin after the new token")
	assert.Equal(t, newTokenID, afterSwitch.TokenID, "the workflow follows the new token")
	assert.Equal(t, daemonauth.OutcomeRenewed, afterSwitch.LastOutcome, "the new token is renewed at once")
}

func TestTokenRenewalSameTokenSignalIsNoOp(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil).Once()

	// A start-up signals the token the workflow already follows; the
	// renewal must neither run early nor be postponed.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalSwitchToken, daemonauth.SwitchTokenInput{TokenID: testTokenID, Profile: "work"})
	}, 30*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, time.Hour+15*time.Minute)

	env.ExecuteWorkflow(workflows.TokenRenewal, renewalInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.TokenRenewalResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Equal(t, 1, result.Cycles, "exactly the renewal due at one hour")
}

func TestTokenRenewalFailedCycleKeepsRunning(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(daemonauth.RenewTokenResult{}, errors.New("connection refused"))

	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 5*time.Hour)

	input := renewalInput()
	input.Interval = "2h"
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError(), "failed cycles do not end the workflow")
	var result daemonauth.TokenRenewalResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Equal(t, daemonauth.OutcomeFailed, result.LastOutcome, "last outcome")
	assert.GreaterOrEqual(t, result.Cycles, 1, "at least one cycle ran out of retries")
	assert.Empty(t, logger.at("WARN"), "a failure an operator cannot fix is no warning")
}

func TestTokenRenewalContinuesAsNewWithState(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil).Times(2)

	input := renewalInput()
	input.CyclesPerRun = 2
	input.State.ContinueAsNewCount = 4
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	var canErr *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &canErr, "the workflow continues as new after CyclesPerRun cycles")
	assert.Equal(t, daemonauth.WorkflowTokenRenewal, canErr.WorkflowType.Name, "continues as the same workflow type")

	var next daemonauth.TokenRenewalInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(canErr.Input, &next), "decode the next input")
	require.NoError(t, next.Validate(), "the next input is valid")
	assert.Equal(t, testTokenID, next.TokenID, "token carried over")
	assert.Equal(t, "work", next.Profile, "profile carried over")
	assert.Equal(t, "1h", next.Interval, "interval carried over")
	assert.Equal(t, 2, next.State.Cycles, "cycles carried over")
	assert.Equal(t, 5, next.State.ContinueAsNewCount, "continue-as-new count incremented")
	assert.Equal(t, daemonauth.OutcomeRenewed, next.State.LastOutcome, "last outcome carried over")
}

func TestTokenRenewalContinueAsNewKeepsPendingSwitch(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	// The signal arrives while the last renewal of the run is in flight, so
	// it is still unread when the run continues as new.
	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			env.SignalWorkflow(daemonauth.SignalSwitchToken, daemonauth.SwitchTokenInput{TokenID: newTokenID})
			return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil
		}).Once()

	input := renewalInput()
	input.CyclesPerRun = 1
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	var canErr *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &canErr)
	var next daemonauth.TokenRenewalInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(canErr.Input, &next))
	assert.Equal(t, newTokenID, next.TokenID, "the switch-token signal survives continue-as-new")
	assert.Equal(t, "", next.Profile, "the profile comes from the signal")
}

func TestTokenRenewalInvalidInputFailsFast(t *testing.T) {
	env, _ := newEnv(t)
	env.RegisterActivity(&activities.Activities{})

	input := renewalInput()
	input.Interval = "every three days"
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	assert.Equal(t, daemonauth.ErrTypeInvalidInput, appErr.Type(), "error type")
	assert.True(t, appErr.NonRetryable(), "invalid input must not be retried")
	assert.Contains(t, appErr.Error(), "interval", "the error names the field")
}

func TestTokenRenewalRenewSoon(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input bool
		after time.Duration // when the switch-token signal with RenewSoon arrives
	}{
		{name: "input", input: true},
		{name: "signal", after: 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := newEnv(t)
			var a *activities.Activities
			env.RegisterActivity(a)

			var renewedAt time.Time
			env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
				Return(func(ctx context.Context, _ daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
					renewedAt = env.Now()
					return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiry}, nil
				}).Once()

			start := env.Now()
			if tc.after > 0 {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(daemonauth.SignalSwitchToken,
						daemonauth.SwitchTokenInput{TokenID: testTokenID, Profile: "work", RenewSoon: true})
				}, tc.after)
			}
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
			}, time.Hour)

			input := renewalInput()
			input.Interval = "72h"
			input.RenewSoon = tc.input
			env.ExecuteWorkflow(workflows.TokenRenewal, input)

			require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
			require.NoError(t, env.GetWorkflowError())
			require.False(t, renewedAt.IsZero(), "the renewal ran within the hour instead of after 72h")
			assert.Equal(t, tc.after+daemonauth.RenewSoonDelay, renewedAt.Sub(start).Round(time.Second),
				"the renewal runs RenewSoonDelay after the request")
		})
	}
}

// Runs started before the skip-renewal-of-rejected-token change keep
// calling RenewToken every cycle, as their histories record.
func TestTokenRenewalRejectedTokenBeforeVersion1(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)
	env.OnGetVersion("skip-renewal-of-rejected-token", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)

	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID}).
		Return(daemonauth.RenewTokenResult{}, rejectedError(daemonauth.RejectRevoked)).Times(3)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 3*time.Hour+30*time.Minute)

	env.ExecuteWorkflow(workflows.TokenRenewal, renewalInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	assert.Len(t, logger.at("WARN"), 3, "one warning per rejected cycle")
}

func TestTokenRenewalIgnoresSwitchToRejectedToken(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	var status daemonauth.RenewalStatus
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalSwitchToken, daemonauth.SwitchTokenInput{TokenID: newTokenID, NeedsRelogin: true})
	}, 10*time.Minute)
	env.RegisterDelayedCallback(func() {
		status = queryStatus(t, env)
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 20*time.Minute)

	env.ExecuteWorkflow(workflows.TokenRenewal, renewalInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, testTokenID, status.TokenID, "the renewal keeps the token it has")
	assert.False(t, status.NeedsRelogin, "its own token is not rejected")
	assert.Len(t, logger.containing("WARN", "rejected token"), 1, "the ignored switch is logged")
}
