package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/workflows"
)

func fleetInput() daemonauth.TokenRenewalInput {
	return daemonauth.TokenRenewalInput{
		DaemonID:     testDaemonID,
		TokenID:      testTokenID,
		Profile:      "work",
		Interval:     "168h",
		MinInterval:  "1h",
		Threshold:    "168h",
		Jitter:       "6h",
		CyclesPerRun: 100,
	}
}

// updateCall records how one renew-now update ended.
type updateCall struct {
	done   bool
	result daemonauth.RenewNowResult
	err    error
}

// sendRenewNow sends the renew-now update; call records its end, which
// comes once the workflow has run the update handler.
func sendRenewNow(env *testsuite.TestWorkflowEnvironment, id string, call *updateCall) {
	env.UpdateWorkflow(daemonauth.UpdateRenewNow, id, &testsuite.TestUpdateCallback{
		OnReject: func(err error) { call.err, call.done = err, true },
		OnAccept: func() {},
		OnComplete: func(value any, err error) {
			call.err, call.done = err, true
			if err == nil {
				call.result = value.(daemonauth.RenewNowResult)
			}
		},
	}, daemonauth.RenewNowInput{})
}

func TestTokenRenewalSleepsUntilDue(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	start := env.Now()
	expiresAt := start.Add(10 * 24 * time.Hour) // due in 3 days
	renewedExpiry := start.Add(100 * 24 * time.Hour)
	var renewedAt time.Time
	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			renewedAt = env.Now()
			return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &renewedExpiry}, nil
		}).Once()

	var after daemonauth.RenewalStatus
	env.RegisterDelayedCallback(func() {
		after = queryStatus(t, env)
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 4*24*time.Hour)

	input := fleetInput()
	input.State.ExpiresAt = &expiresAt
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	require.False(t, renewedAt.IsZero(), "the token was renewed")
	delay := renewedAt.Sub(start)
	assert.GreaterOrEqual(t, delay, 3*24*time.Hour, "not before the window opens")
	assert.Less(t, delay, 3*24*time.Hour+6*time.Hour, "within the jitter after it opens")
	require.NotNil(t, after.NextRenewalAt)
	assert.Equal(t, 7*24*time.Hour, after.NextRenewalAt.Sub(renewedAt).Round(time.Second),
		"a token renewed to 100 days is checked again after the maximum interval")
}

func TestTokenRenewalRenewNowUpdate(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	renewedExpiry := env.Now().Add(90 * 24 * time.Hour)
	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &renewedExpiry}, nil).Once()

	var first, second updateCall
	var firstAt time.Time
	env.RegisterDelayedCallback(func() {
		firstAt = env.Now()
		sendRenewNow(env, "first", &first)
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		sendRenewNow(env, "second", &second)
	}, time.Hour+30*time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(daemonauth.SignalStop, daemonauth.StopInput{})
	}, 2*time.Hour)

	env.ExecuteWorkflow(workflows.TokenRenewal, fleetInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	require.True(t, first.done, "the first update completed")
	require.NoError(t, first.err)
	assert.Equal(t, daemonauth.OutcomeRenewed, first.result.Renewal.Outcome, "the update returns the renewal result")
	assert.False(t, first.result.FromCache, "the first call asks the database")
	require.NotNil(t, first.result.NextRenewalAt)
	assert.Equal(t, 7*24*time.Hour, first.result.NextRenewalAt.Sub(firstAt).Round(time.Minute),
		"the next check is rescheduled from the new expiry")

	require.True(t, second.done, "the second update completed")
	require.NoError(t, second.err)
	assert.True(t, second.result.FromCache, "a call within a minute gets the last outcome")
	assert.Equal(t, first.result.Renewal, second.result.Renewal, "the cached outcome is the first one")
}

func TestTokenRenewalEndsIdleToken(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	lastUsed := env.Now().Add(-40 * 24 * time.Hour)
	expires := env.Now().Add(3 * 24 * time.Hour)
	env.OnActivity(a.RenewToken, mock.Anything, daemonauth.RenewTokenInput{TokenID: testTokenID, MaxIdle: "720h"}).
		Return(daemonauth.RenewTokenResult{Idle: true, ExpiresAt: &expires, LastUsedAt: &lastUsed}, nil).Once()

	input := fleetInput()
	input.MaxIdle = "720h"
	input.RenewSoon = true
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.TokenRenewalResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Contains(t, result.StopReason, "token idle: not used since", "the result says why the renewal ended")
	assert.Equal(t, daemonauth.OutcomeIdle, result.LastOutcome)
	assert.Len(t, logger.containing("WARN", "idle"), 1, "the end is logged for the operator")
}

func TestTokenRenewalEndsLongRejectedToken(t *testing.T) {
	env, logger := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(daemonauth.RenewTokenResult{}, rejectedError(daemonauth.RejectRevoked)).Once()

	input := fleetInput()
	input.MaxRejected = "336h" // two weeks
	input.RenewSoon = true
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(t, env.GetWorkflowError())
	var result daemonauth.TokenRenewalResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Contains(t, result.StopReason, "token rejected since", "the result says why the renewal ended")
	assert.True(t, result.NeedsRelogin, "the final state still asks for a login")
	// Rejected at 5 minutes, then checked weekly: the check at two weeks and
	// 5 minutes is the first at or past the limit.
	assert.Equal(t, 3, result.Cycles, "the first rejection and two weekly checks")
	assert.Len(t, logger.containing("WARN", "log in again"), 3, "one warning per cycle, not per retry")
}

func TestTokenRenewalUpdateBeforeContinueAsNew(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	renewedExpiry := env.Now().Add(90 * 24 * time.Hour)
	var updateResult daemonauth.RenewNowResult
	var updateErr error
	updateDone := false
	// The update arrives while the run's last renewal is in flight: it must
	// wait for that renewal and complete before the run continues as new.
	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(func(context.Context, daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
			env.UpdateWorkflow(daemonauth.UpdateRenewNow, "in-flight", &testsuite.TestUpdateCallback{
				OnReject: func(err error) { updateErr = err; updateDone = true },
				OnAccept: func() {},
				OnComplete: func(value any, err error) {
					updateErr = err
					if err == nil {
						updateResult = value.(daemonauth.RenewNowResult)
					}
					updateDone = true
				},
			}, daemonauth.RenewNowInput{})
			return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &renewedExpiry}, nil
		}).Once()

	input := fleetInput()
	input.CyclesPerRun = 1
	input.RenewSoon = true
	env.ExecuteWorkflow(workflows.TokenRenewal, input)

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	var canErr *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &canErr, "the run continues as new after one cycle")
	require.True(t, updateDone, "the update completed before the run ended")
	require.NoError(t, updateErr)
	assert.True(t, updateResult.FromCache, "the update reports the renewal that was in flight")
	assert.Equal(t, daemonauth.OutcomeRenewed, updateResult.Renewal.Outcome)

	var next daemonauth.TokenRenewalInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(canErr.Input, &next))
	assert.False(t, next.RenewSoon, "renew-soon is not carried into the next run")
	require.NotNil(t, next.State.ExpiresAt, "the expiry is carried into the next run")
	assert.True(t, renewedExpiry.Equal(*next.State.ExpiresAt))
}

// Renew-now updates grow the history without a timer firing, so the run
// must continue as new once the server suggests it even between cycles.
func TestTokenRenewalContinuesAsNewAfterUpdates(t *testing.T) {
	env, _ := newEnv(t)
	var a *activities.Activities
	env.RegisterActivity(a)

	renewedExpiry := env.Now().Add(90 * 24 * time.Hour)
	env.OnActivity(a.RenewToken, mock.Anything, mock.Anything).
		Return(daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &renewedExpiry}, nil).Once()

	var first updateCall
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		sendRenewNow(env, "first", &first)
	}, time.Hour)

	start := env.Now()
	env.ExecuteWorkflow(workflows.TokenRenewal, fleetInput())

	require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
	var canErr *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &canErr, "the run continues as new right after the update, not a week later")
	require.True(t, first.done, "the update completed before the run ended")
	require.NoError(t, first.err)
	assert.Less(t, env.Now().Sub(start), 2*time.Hour, "the run ended right after the update, not at the next weekly check")
}
