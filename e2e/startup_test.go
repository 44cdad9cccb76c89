package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

// scheduledActivities returns the activity types a workflow run scheduled,
// in history order.
func scheduledActivities(t *testing.T, ctx context.Context, c client.Client, workflowID string) []string {
	t.Helper()
	var names []string
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err, "read history of %s", workflowID)
		if attrs := event.GetActivityTaskScheduledEventAttributes(); attrs != nil {
			names = append(names, attrs.GetActivityType().GetName())
		}
	}
	return names
}

func TestStartupRenewsThenSyncsOnDevServer(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(3)})

	input := daemonauth.DaemonStartupInput{DaemonID: "e2e-due", TokenID: token.ID}
	result, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue, input)
	require.NoError(t, err, "start-up of a healthy daemon")

	assert.Equal(t, daemonauth.OutcomeRenewed, result.Renewal.Outcome, "a token inside the window is renewed")
	require.NotNil(t, result.Renewal.ExpiresAt)
	assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), *result.Renewal.ExpiresAt, time.Hour, "new expiry")
	assert.False(t, result.NeedsRelogin, "needs_relogin")
	assert.Len(t, result.Workspaces, 2, "workspaces of the token's owner")
	assert.Equal(t, 2, result.WorkspacesAdded, "workspaces added")

	assert.Equal(t,
		[]string{daemonauth.ActivityRenewToken, daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal},
		scheduledActivities(t, ctx, s.client, daemonauth.StartupWorkflowID("e2e-due")),
		"the history schedules RenewToken before SyncWorkspaces")

	var extensions int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM token_extension WHERE token_id = $1`, token.ID).Scan(&extensions))
	assert.Equal(t, 1, extensions, "one audit row for one renewal")

	status, err := daemonclient.RenewalStatus(ctx, s.client, "e2e-due")
	require.NoError(t, err, "the start-up leaves a TokenRenewal running")
	assert.Equal(t, token.ID, status.TokenID, "the renewal follows the start-up's token")
	assert.Equal(t, 0, status.Cycles, "the renewal waits for its first interval")
	require.NotNil(t, status.NextRenewalAt)
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), *status.NextRenewalAt, time.Hour,
		"a token due in 83 days is checked again after the maximum interval")

	stopped, err := daemonclient.StopRenewal(ctx, s.client, "e2e-due", "test done")
	require.NoError(t, err, "stop the renewal")
	assert.Equal(t, "stop signal: test done", stopped.StopReason)
}

func TestStartupRejectedTokenOnDevServer(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(30), Revoked: true})

	input := daemonauth.DaemonStartupInput{DaemonID: "e2e-revoked", TokenID: token.ID, Profile: "work"}
	result, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue, input)

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "a revoked token fails the start-up")
	assert.Equal(t, daemonauth.ErrTypeTokenRejected, appErr.Type())
	assert.Contains(t, appErr.Error(), "`multica login --profile work`", "the failure names the login command")
	assert.True(t, result.NeedsRelogin, "the partial result says the daemon must log in again")
	assert.Equal(t, daemonauth.OutcomeRejected, result.Renewal.Outcome)

	assert.Equal(t,
		[]string{daemonauth.ActivityRenewToken, daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal},
		scheduledActivities(t, ctx, s.client, daemonauth.StartupWorkflowID("e2e-revoked")),
		"the renewal runs first even when the token is rejected")

	logs := s.logs.String()
	assert.Contains(t, logs, `"level":"WARN"`, "the worker logs a warning")
	assert.Contains(t, logs, `"command":"multica login --profile work"`, "the warning names the login command")
	assert.NotContains(t, logs, token.Raw, "the raw token never reaches a log")

	var daemons int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM daemon`).Scan(&daemons))
	assert.Equal(t, 0, daemons, "a rejected sync writes nothing")

	_, err = daemonclient.StopRenewal(ctx, s.client, "e2e-revoked", "")
	require.NoError(t, err, "the renewal of a rejected daemon runs until stopped")
}

func TestSecondStartupKeepsOneRenewal(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	oldToken := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	newToken := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(90)})
	daemonID := "e2e-restart"

	first, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: oldToken.ID})
	require.NoError(t, err)
	firstRun, err := s.client.DescribeWorkflowExecution(ctx, first.RenewalWorkflowID, "")
	require.NoError(t, err)

	second, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: oldToken.ID})
	require.NoError(t, err)
	assert.Equal(t, 0, second.WorkspacesAdded, "a second sync adds nothing")
	assert.Equal(t, 0, second.WorkspacesRemoved, "a second sync removes nothing")
	secondRun, err := s.client.DescribeWorkflowExecution(ctx, second.RenewalWorkflowID, "")
	require.NoError(t, err)
	assert.Equal(t, firstRun.GetWorkflowExecutionInfo().GetExecution().GetRunId(),
		secondRun.GetWorkflowExecutionInfo().GetExecution().GetRunId(),
		"a second start-up keeps the running renewal")

	_, err = daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: newToken.ID})
	require.NoError(t, err, "start-up after a new login")

	// The switch-token signal is handled by the renewal asynchronously;
	// poll the query rather than sleep for a guessed time.
	require.Eventually(t, func() bool {
		status, err := daemonclient.RenewalStatus(ctx, s.client, daemonID)
		return err == nil && status.TokenID == newToken.ID
	}, 30*time.Second, 100*time.Millisecond, "the renewal follows the new token")

	list, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: "WorkflowId = '" + daemonauth.RenewalWorkflowID(daemonID) + "' AND ExecutionStatus = 'Running'",
	})
	require.NoError(t, err)
	assert.Len(t, list.GetExecutions(), 1, "exactly one renewal runs for the daemon")

	_, err = daemonclient.StopRenewal(ctx, s.client, daemonID, "")
	require.NoError(t, err)
}

func TestNoRawTokenInHistory(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(2)})

	_, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: "e2e-secret", TokenID: token.ID})
	require.NoError(t, err)

	iter := s.client.GetWorkflowHistory(ctx, daemonauth.StartupWorkflowID("e2e-secret"), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events int
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		events++
		assert.False(t, strings.Contains(event.String(), token.Raw), "event %d holds the raw token", event.GetEventId())
		assert.False(t, strings.Contains(event.String(), seed.HashToken(token.Raw)), "event %d holds the token hash", event.GetEventId())
	}
	assert.Greater(t, events, 5, "the history was read")
	assert.NotContains(t, s.logs.String(), token.Raw, "the raw token never reaches a log")

	_, err = daemonclient.StopRenewal(ctx, s.client, "e2e-secret", "")
	require.NoError(t, err)
}
