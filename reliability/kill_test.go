//go:build reliability

package reliability

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/testenv"
)

// killPoint is one place in a DaemonStartup at which the worker is killed
// with SIGKILL. Exactly one of afterEvent, lock and hooks is set.
type killPoint struct {
	name string
	// afterEvent kills the worker as soon as the start-up's history holds
	// this event. The server writes some events together (an activity's
	// started and completed events with the next workflow task), so the
	// points below take one event of each such batch.
	afterEvent int64
	// lock makes a statement of an activity wait on a lock that the test
	// holds, and kills the worker while it waits.
	lock *blockingLock
	// hooks lists fault points of the activities package, one worker run
	// each: every run kills itself at its point, and the next run starts
	// with the next point. Two hooks crash the same start-up twice.
	hooks []string
	// killedAttemptRenews is true where the killed worker's RenewToken
	// attempt commits the extension before or after it dies, so the retry
	// must find that extension and still report renewed=true.
	killedAttemptRenews bool
	// workspacesAdded is the WorkspacesAdded the result must report, or -1
	// when it depends on whether the kill landed before or after the sync
	// committed: a kill that follows an event lands a few milliseconds
	// later, by which time the next steps may have run.
	workspacesAdded int
}

// blockingLock is a lock the test takes before the start-up, so that one
// statement of an activity waits on it.
type blockingLock struct {
	description string
	// statement takes the lock inside the test's transaction. A $1 in it
	// is the token id.
	statement string
}

// killPoints are the 20 points: 11 history batches, 3 statements blocked
// on a lock, 4 fault hooks and 2 pairs of hooks.
var killPoints = []killPoint{
	{name: "history 01 workflow started", afterEvent: 1, workspacesAdded: -1},
	{name: "history 03 first workflow task started", afterEvent: 3, workspacesAdded: -1},
	{name: "history 05 RenewToken scheduled", afterEvent: 5, workspacesAdded: -1},
	{name: "history 08 RenewToken completed", afterEvent: 8, workspacesAdded: -1},
	{name: "history 09 second workflow task started", afterEvent: 9, workspacesAdded: -1},
	{name: "history 11 SyncWorkspaces scheduled", afterEvent: 11, workspacesAdded: -1},
	{name: "history 14 SyncWorkspaces completed", afterEvent: 14, workspacesAdded: 2},
	{name: "history 15 third workflow task started", afterEvent: 15, workspacesAdded: 2},
	{name: "history 17 EnsureTokenRenewal scheduled", afterEvent: 17, workspacesAdded: 2},
	{name: "history 20 EnsureTokenRenewal completed", afterEvent: 20, workspacesAdded: 2},
	{name: "history 21 last workflow task started", afterEvent: 21, workspacesAdded: 2},
	{
		name: "lock renew-token waits on the token row",
		lock: &blockingLock{
			description: "the renewal's compare-and-swap waits for the token row",
			statement:   `SELECT id FROM personal_access_token WHERE id = $1 FOR UPDATE`,
		},
		killedAttemptRenews: true,
		workspacesAdded:     2,
	},
	{
		name: "lock sync-workspaces waits to write the daemon row",
		lock: &blockingLock{
			description: "the sync has read the token and waits to insert the daemon row",
			statement:   `LOCK TABLE daemon IN SHARE MODE`,
		},
		workspacesAdded: 2,
	},
	{
		name: "lock sync-workspaces waits to read memberships",
		lock: &blockingLock{
			description: "the sync has written the daemon row and waits to read the memberships",
			statement:   `LOCK TABLE member IN ACCESS EXCLUSIVE MODE`,
		},
		workspacesAdded: 2,
	},
	{name: "hook renew-token:after-commit", hooks: []string{"renew-token:after-commit"}, killedAttemptRenews: true, workspacesAdded: 2},
	{name: "hook sync-workspaces:before-commit", hooks: []string{"sync-workspaces:before-commit"}, workspacesAdded: 2},
	// NOTE: a retried sync reports only what its own attempt changed, so a
	// start-up whose first sync committed reports workspaces_added 0 even
	// though it registered both workspaces.
	{name: "hook sync-workspaces:after-commit", hooks: []string{"sync-workspaces:after-commit"}, workspacesAdded: 0},
	{name: "hook ensure-renewal:after-signal", hooks: []string{"ensure-renewal:after-signal"}, workspacesAdded: 2},
	{
		name:                "hooks renew-token:after-commit then sync-workspaces:after-commit",
		hooks:               []string{"renew-token:after-commit", "sync-workspaces:after-commit"},
		killedAttemptRenews: true,
		workspacesAdded:     0,
	},
	{
		name:            "hooks sync-workspaces:before-commit then ensure-renewal:after-signal",
		hooks:           []string{"sync-workspaces:before-commit", "ensure-renewal:after-signal"},
		workspacesAdded: 2,
	},
}

// killReport is what one kill point produced, for the summary.
type killReport struct {
	// eventsAtKill holds the length of the start-up's history right after
	// each kill.
	eventsAtKill []int
	completed    bool
	renewed      bool
	// renewalRetried is true when RenewToken ran more than once, and
	// foundOwnExtension when the extension predates the last attempt, so
	// that attempt reported an extension that a killed attempt committed.
	renewalRetried    bool
	foundOwnExtension bool
	extensions        int
	added             int
	duration          time.Duration
}

func TestWorkerKilledDuringStartup(t *testing.T) {
	t.Parallel()
	require.Len(t, killPoints, 20, "kill points")

	var (
		mu      sync.Mutex
		reports = map[string]killReport{}
	)
	t.Run("points", func(t *testing.T) {
		for _, point := range killPoints {
			t.Run(point.name, func(t *testing.T) {
				t.Parallel()
				var report killReport
				// Deferred, so a point that fails still shows in the summary.
				defer func() {
					mu.Lock()
					reports[point.name] = report
					mu.Unlock()
				}()
				runKillPoint(t, point, &report)
			})
		}
	})

	completed, renewedOnce, kills, ownExtension := 0, 0, 0, 0
	for i, point := range killPoints {
		report, ok := reports[point.name]
		if !ok {
			continue
		}
		kills += len(report.eventsAtKill)
		if report.completed {
			completed++
		}
		if report.renewed && report.extensions == 1 {
			renewedOnce++
		}
		if report.foundOwnExtension && report.renewed {
			ownExtension++
		}
		recordFigure(fmt.Sprintf("faults.kill.point.%02d", i+1), fmt.Sprintf(
			"%s: %d kill(s) at history lengths %v; completed=%t renewed=%t (renewal retried=%t, by finding its own extension=%t) extensions=%d workspaces_added=%d; %s",
			point.name, len(report.eventsAtKill), report.eventsAtKill, report.completed, report.renewed,
			report.renewalRetried, report.foundOwnExtension, report.extensions, report.added, report.duration.Round(100*time.Millisecond)))
	}
	recordFigure("faults.kill.points_tried", fmt.Sprintf("%d (11 history batches, 3 blocked statements, 4 fault hooks, 2 hook pairs), %d kills", len(reports), kills))
	recordFigure("faults.kill.workflows_completed", fmt.Sprintf("%d of %d", completed, len(killPoints)))
	recordFigure("faults.kill.extensions_per_token", fmt.Sprintf("exactly 1 for %d of %d tokens in the window, each reported renewed=true", renewedOnce, len(killPoints)))
	recordFigure("faults.kill.own_extension_found", fmt.Sprintf("%d points: a retried renewal found the extension that its killed attempt had committed and reported renewed=true", ownExtension))
}

// runKillPoint runs one start-up of a daemon whose token is inside the
// renewal window, kills its worker at point, restarts the worker until the
// start-up completes, and checks the result against the database. It fills
// report as it goes.
func runKillPoint(t *testing.T, point killPoint, report *killReport) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := server.Client()
	// Its own database, so that a table lock or a lock wait belongs to
	// this point alone.
	pool, databaseURL := testenv.NewDatabase(t)
	userID := seedUser(t, ctx, pool, "kill@example.com")
	token := issueTokens(t, ctx, pool, userID, 1, inWindow)[0]
	daemonID := uniqueName("kill")
	startupID := daemonauth.StartupWorkflowID(daemonID)
	settings := workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       uniqueName("kill"),
	}
	t.Cleanup(func() { terminateRenewal(t, c, daemonID) })

	var lockTx pgx.Tx
	if point.lock != nil {
		lockTx = holdLock(t, ctx, pool, point.lock, token.ID)
	}
	if len(point.hooks) > 0 {
		settings.killAt = point.hooks[0]
	}
	worker := startWorker(t, settings)
	waitForPolling(t, ctx, c, settings.taskQueue, worker)

	var killErr chan error
	if point.afterEvent > 0 {
		killErr = make(chan error, 1)
		go func() { killErr <- killAfterEvent(ctx, c, startupID, point.afterEvent, worker) }()
	}
	started := time.Now()
	done := make(chan startupOutcome, 1)
	go func() {
		input := daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: token.ID}
		result, err := daemonclient.StartDaemon(ctx, c, settings.taskQueue, input)
		done <- startupOutcome{Input: input, Result: result, Err: err}
	}()

	switch {
	case point.afterEvent > 0:
		require.NoError(t, <-killErr, "kill the worker after event %d", point.afterEvent)
		report.eventsAtKill = append(report.eventsAtKill, historyLength(t, ctx, c, startupID))
	case point.lock != nil:
		if waitForLockWaiters(t, ctx, pool, 1, time.Minute) == 0 {
			t.Fatalf("no statement waits on the lock after a minute; expected that %s", point.lock.description)
		}
		worker.kill()
		report.eventsAtKill = append(report.eventsAtKill, historyLength(t, ctx, c, startupID))
		// The killed worker's statement still waits inside PostgreSQL,
		// which notices the closed connection only when it next talks to
		// the client. Releasing the lock lets the statement finish. A
		// renewal's single-statement CAS then commits, as the wait below
		// shows before any worker runs again. A sync's transaction is
		// rolled back once the server reads the closed connection, as the
		// workspaces_added of 2 shows.
		require.NoError(t, lockTx.Rollback(ctx), "release the lock")
		if point.killedAttemptRenews {
			waitForExtensions(t, ctx, pool, 1)
		}
	default:
		for i, hook := range point.hooks {
			signal := worker.waitForExit(t, 2*time.Minute)
			require.Equal(t, syscall.SIGKILL, signal, "worker with kill point %s ends by SIGKILL", hook)
			report.eventsAtKill = append(report.eventsAtKill, historyLength(t, ctx, c, startupID))
			if i+1 < len(point.hooks) {
				settings.killAt = point.hooks[i+1]
				worker = startWorker(t, settings)
			}
		}
	}
	if point.hooks == nil {
		require.Equal(t, syscall.SIGKILL, worker.waitForExit(t, time.Minute), "the worker ends by SIGKILL")
	}
	if point.killedAttemptRenews {
		require.Len(t, readExtensions(t, ctx, pool)[token.ID], 1, "the killed attempt committed the extension before a worker ran again")
	}

	// The restarted worker runs without a kill point, so the retries of
	// the interrupted step complete.
	settings.killAt = ""
	startWorker(t, settings)
	var outcome startupOutcome
	select {
	case outcome = <-done:
	case <-ctx.Done():
		t.Fatalf("start-up of %s did not complete after the kill: %v", daemonID, ctx.Err())
	}
	report.duration = time.Since(started)

	require.NoError(t, outcome.Err, "start-up of %s completes after the kill", daemonID)
	report.completed = true
	result := outcome.Result
	report.renewed = result.Renewal.Outcome == daemonauth.OutcomeRenewed
	report.added = result.WorkspacesAdded
	assert.Equal(t, daemonauth.OutcomeRenewed, result.Renewal.Outcome,
		"the result reports the renewal that happened, even when the kill came after its commit")
	require.NotNil(t, result.Renewal.ExpiresAt, "expires_at in the result")
	assert.True(t, tokenExpiresAt(t, ctx, pool, token.ID).Equal(*result.Renewal.ExpiresAt),
		"the result reports the expiry stored in the database")

	extensions := readExtensions(t, ctx, pool)[token.ID]
	report.extensions = len(extensions)
	require.Len(t, extensions, 1, "token_extension rows of the token: one extension, whatever the kill interrupted")
	assert.Equal(t, startupID, extensions[0].WorkflowID, "the start-up extended the token")
	attempt, attemptStarted := lastRenewTokenAttempt(t, ctx, c, startupID)
	report.renewalRetried = attempt > 1
	report.foundOwnExtension = attempt > 1 && extensions[0].ExtendedAt.Before(attemptStarted)
	if point.killedAttemptRenews {
		assert.True(t, report.foundOwnExtension,
			"RenewToken attempt %d started at %s, after the killed attempt's extension at %s", attempt, attemptStarted, extensions[0].ExtendedAt)
	}

	assert.Len(t, result.Workspaces, 2, "workspaces in the result")
	assert.Equal(t, 2, registeredWorkspaces(t, ctx, pool, daemonID), "daemon_workspace rows of the daemon")
	if point.workspacesAdded >= 0 {
		assert.Equal(t, point.workspacesAdded, result.WorkspacesAdded, "workspaces_added in the result")
	} else {
		assert.Contains(t, []int{0, 2}, result.WorkspacesAdded, "workspaces_added in the result")
	}
	assert.False(t, result.NeedsRelogin, "needs_relogin")
	assert.Equal(t, daemonauth.RenewalWorkflowID(daemonID), result.RenewalWorkflowID, "renewal workflow in the result")
	renewal, err := c.DescribeWorkflow(ctx, result.RenewalWorkflowID, "")
	require.NoError(t, err, "describe the renewal of %s", daemonID)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, renewal.Status, "the start-up leaves one TokenRenewal running")
}

// lastRenewTokenAttempt returns the attempt number and start time of the
// RenewToken attempt that completed in the workflow's history.
func lastRenewTokenAttempt(t *testing.T, ctx context.Context, c client.Client, workflowID string) (int32, time.Time) {
	t.Helper()
	var scheduledID int64
	history := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for history.HasNext() {
		event, err := history.Next()
		require.NoError(t, err, "read history of %s", workflowID)
		if attributes := event.GetActivityTaskScheduledEventAttributes(); attributes != nil &&
			attributes.GetActivityType().GetName() == daemonauth.ActivityRenewToken {
			scheduledID = event.GetEventId()
		}
		if attributes := event.GetActivityTaskStartedEventAttributes(); attributes != nil && attributes.GetScheduledEventId() == scheduledID {
			return attributes.GetAttempt(), event.GetEventTime().AsTime()
		}
	}
	t.Fatalf("no started RenewToken in the history of %s", workflowID)
	return 0, time.Time{}
}

// holdLock opens a transaction that takes lock and returns it; the caller
// releases it with Rollback. The test fails if the transaction is still
// open when it ends.
func holdLock(t *testing.T, ctx context.Context, pool *pgxpool.Pool, lock *blockingLock, tokenID string) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err, "begin the locking transaction")
	t.Cleanup(func() { tx.Rollback(context.Background()) })

	args := []any{}
	if strings.Contains(lock.statement, "$1") {
		args = append(args, tokenID)
	}
	_, err = tx.Exec(ctx, lock.statement, args...)
	require.NoError(t, err, "take the lock: %s", lock.statement)
	return tx
}

// killAfterEvent long-polls the workflow's history and kills the worker as
// soon as the history holds eventID. It waits for the workflow to exist,
// because the start-up is requested concurrently.
func killAfterEvent(ctx context.Context, c client.Client, workflowID string, eventID int64, w *workerProcess) error {
	for {
		history := c.GetWorkflowHistory(ctx, workflowID, "", true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		notStarted := false
		for history.HasNext() {
			event, err := history.Next()
			var notFound *serviceerror.NotFound
			if errors.As(err, &notFound) {
				notStarted = true
				break
			}
			if err != nil {
				return fmt.Errorf("read history of %s: %w", workflowID, err)
			}
			if event.GetEventId() >= eventID {
				w.kill()
				return nil
			}
		}
		if !notStarted {
			return fmt.Errorf("%s closed before its history reached event %d", workflowID, eventID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// historyLength returns how many events the workflow's history holds.
func historyLength(t *testing.T, ctx context.Context, c client.Client, workflowID string) int {
	t.Helper()
	history := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	count := 0
	for history.HasNext() {
		_, err := history.Next()
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return 0
		}
		require.NoError(t, err, "read history of %s", workflowID)
		count++
	}
	return count
}

// terminateRenewal terminates the daemon's TokenRenewal if it still runs,
// so no renewal of a finished test stays on the shared server.
func terminateRenewal(t *testing.T, c client.Client, daemonID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.TerminateWorkflow(ctx, daemonauth.RenewalWorkflowID(daemonID), "", "reliability test ended")
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		t.Errorf("terminate the renewal of %s: %v", daemonID, err)
	}
}
