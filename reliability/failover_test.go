//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/internal/testenv"
)

func TestSurvivingWorkerFinishesWork(t *testing.T) {
	t.Parallel()
	const startups = 20
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := server.Client()
	pool, databaseURL := testenv.NewDatabase(t)
	userID := seedUser(t, ctx, pool, "failover@example.com")
	tokens := issueTokens(t, ctx, pool, userID, startups, inWindow)
	settings := workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       uniqueName("failover"),
	}

	// The doomed worker kills itself in the middle of its first renewal,
	// right after the commit, so it dies holding work that only the
	// survivor can finish.
	doomedSettings := settings
	doomedSettings.killAt = "renew-token:after-commit"
	doomed := startWorker(t, doomedSettings)
	survivor := startWorker(t, settings)
	waitForPolling(t, ctx, c, settings.taskQueue, doomed)
	waitForPolling(t, ctx, c, settings.taskQueue, survivor)

	inputs := make([]daemonauth.DaemonStartupInput, startups)
	for i, token := range tokens {
		inputs[i] = daemonauth.DaemonStartupInput{DaemonID: uniqueName("failover"), TokenID: token.ID}
	}
	t.Cleanup(func() {
		for _, input := range inputs {
			terminateRenewal(t, c, input.DaemonID)
		}
	})
	started := time.Now()
	done := make(chan []startupOutcome, 1)
	go func() { done <- runStartups(ctx, c, settings.taskQueue, inputs) }()

	require.Equal(t, syscall.SIGKILL, doomed.waitForExit(t, time.Minute), "the doomed worker ends by SIGKILL")
	outcomes := <-done
	elapsed := time.Since(started)

	extensions := readExtensions(t, ctx, pool)
	retried, exactlyOnce := 0, 0
	for _, outcome := range outcomes {
		daemonID := outcome.Input.DaemonID
		if !assert.NoError(t, outcome.Err, "start-up of %s completes", daemonID) {
			continue
		}
		assert.Equal(t, daemonauth.OutcomeRenewed, outcome.Result.Renewal.Outcome, "renewal outcome of %s", daemonID)
		if assert.Len(t, extensions[outcome.Input.TokenID], 1, "extensions of the token of %s", daemonID) {
			exactlyOnce++
		}

		steps := historySteps(t, ctx, c, daemonauth.StartupWorkflowID(daemonID))
		assert.True(t, strings.HasPrefix(steps.completedBy, survivor.identityPrefix()),
			"the survivor (%s…) completed %s, not %s", survivor.identityPrefix(), daemonID, steps.completedBy)
		for _, identity := range steps.retriedBy {
			retried++
			assert.True(t, strings.HasPrefix(identity, survivor.identityPrefix()), "the survivor retried the activity of %s, not %s", daemonID, identity)
		}
	}
	assert.Positive(t, retried, "activities retried after the kill; none means the doomed worker held no work when it died")

	recordFigure("faults.two_workers.workflows_completed", fmt.Sprintf("%d of %d, every one by the surviving worker, in %s",
		countCompleted(outcomes), startups, elapsed.Round(100*time.Millisecond)))
	recordFigure("faults.two_workers.activities_retried", fmt.Sprintf("%d, all by the surviving worker", retried))
	recordFigure("faults.two_workers.extensions_per_token", fmt.Sprintf("exactly 1 for %d of %d tokens", exactlyOnce, startups))
}

// workflowSteps is who did what in one workflow's history.
type workflowSteps struct {
	// completedBy is the identity of the worker whose workflow task
	// completed the workflow.
	completedBy string
	// retriedBy holds the identity of the worker of every activity attempt
	// after the first.
	retriedBy []string
}

func historySteps(t *testing.T, ctx context.Context, c client.Client, workflowID string) workflowSteps {
	t.Helper()
	var steps workflowSteps
	history := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for history.HasNext() {
		event, err := history.Next()
		require.NoError(t, err, "read history of %s", workflowID)
		if attributes := event.GetWorkflowTaskCompletedEventAttributes(); attributes != nil {
			steps.completedBy = attributes.GetIdentity()
		}
		if attributes := event.GetActivityTaskStartedEventAttributes(); attributes != nil && attributes.GetAttempt() > 1 {
			steps.retriedBy = append(steps.retriedBy, attributes.GetIdentity())
		}
	}
	return steps
}
