//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/testenv"
	"daemonauth/migrations"
)

// retrySoonEnv makes a TokenRenewal whose start-up could not renew the
// token try again after 2 seconds instead of 5 minutes, while renewed
// tokens are checked only hourly. Jitter is off so the due time is exact.
var retrySoonEnv = []string{
	"DAEMONAUTH_RENEWAL_INTERVAL=1h",
	"DAEMONAUTH_RENEWAL_MIN_INTERVAL=2s",
	"DAEMONAUTH_RENEWAL_JITTER=0s",
}

func TestPostgresRestartDuringStartups(t *testing.T) {
	t.Parallel()
	const startups = 200
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := server.Client()

	// Its own cluster, because a restart breaks every connection to it,
	// those of the other tests included.
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Database: "daemonauth"})
	require.NoError(t, err, "start PostgreSQL")
	t.Cleanup(func() { pg.Stop() })
	databaseURL := pg.URL("daemonauth")
	pool := openPool(t, ctx, databaseURL)
	require.NoError(t, migrations.Up(ctx, pool, slog.New(slog.DiscardHandler)), "migrate")

	userID := seedUser(t, ctx, pool, "restart@example.com")
	tokens := issueTokens(t, ctx, pool, userID, startups, inWindow)
	taskQueue := uniqueName("pg-restart")
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		env:             retrySoonEnv,
	})
	waitForPolling(t, ctx, c, taskQueue, worker)

	inputs := make([]daemonauth.DaemonStartupInput, startups)
	for i, token := range tokens {
		inputs[i] = daemonauth.DaemonStartupInput{DaemonID: uniqueName("pg-restart"), TokenID: token.ID}
	}
	t.Cleanup(func() {
		for _, input := range inputs {
			terminateRenewal(t, c, input.DaemonID)
		}
	})
	done := make(chan []startupOutcome, 1)
	go func() { done <- runStartups(ctx, c, taskQueue, inputs) }()

	// Restart once the first start-ups have renewed their tokens, so the
	// restart falls in the middle of the batch.
	renewedBeforeRestart := waitForExtensions(t, ctx, pool, 10)
	restartStarted := time.Now()
	require.NoError(t, pg.Restart(ctx, postgresDowntime), "restart PostgreSQL")
	restartedAt := time.Now()
	// The restart broke the pool's connections, so read through a new one.
	pool.Close()
	pool = openPool(t, ctx, databaseURL)

	outcomes := <-done
	var renewedAtStartup, failedAtStartup, completedAfterRestart int
	for _, outcome := range outcomes {
		if !assert.NoError(t, outcome.Err, "start-up of %s completes once PostgreSQL is back", outcome.Input.DaemonID) {
			continue
		}
		if outcome.Finished.After(restartedAt) {
			completedAfterRestart++
		}
		switch outcome.Result.Renewal.Outcome {
		case daemonauth.OutcomeRenewed:
			renewedAtStartup++
		case daemonauth.OutcomeFailed:
			// Every retry fell into the outage. The start-up asked its
			// TokenRenewal to try again soon, which the wait below covers.
			failedAtStartup++
		default:
			t.Errorf("start-up of %s: renewal outcome %q, expected renewed, or failed during the outage",
				outcome.Input.DaemonID, outcome.Result.Renewal.Outcome)
		}
		assert.Len(t, outcome.Result.Workspaces, 2, "workspaces of %s", outcome.Input.DaemonID)
	}
	assert.Positive(t, completedAfterRestart, "start-ups that completed after the restart; none means the restart missed the batch")
	retried := 0
	for _, outcome := range outcomes {
		retried += len(historySteps(t, ctx, c, daemonauth.StartupWorkflowID(outcome.Input.DaemonID)).retriedBy)
	}

	// A token whose start-up renewal failed is renewed by its TokenRenewal
	// within seconds, so wait until every token has its extension.
	waitForExtensions(t, ctx, pool, startups)
	extensions := readExtensions(t, ctx, pool)
	exactlyOnce, byRenewal := 0, 0
	for _, outcome := range outcomes {
		rows := extensions[outcome.Input.TokenID]
		if !assert.Len(t, rows, 1, "extensions of the token of %s", outcome.Input.DaemonID) {
			continue
		}
		exactlyOnce++
		if rows[0].WorkflowID == daemonauth.RenewalWorkflowID(outcome.Input.DaemonID) {
			byRenewal++
		}
		if outcome.Result.Renewal.Outcome == daemonauth.OutcomeRenewed {
			assert.Equal(t, daemonauth.StartupWorkflowID(outcome.Input.DaemonID), rows[0].WorkflowID,
				"a start-up that reports renewed extended the token itself")
		}
	}

	recordFigure("faults.postgres_restart.startups", fmt.Sprintf("%d, %d of them completed after the restart", startups, completedAfterRestart))
	recordFigure("faults.postgres_restart.restart", fmt.Sprintf("after %d extensions; down for %s (pg_ctl stop, %s pause, pg_ctl start); %d activity attempts retried",
		renewedBeforeRestart, restartedAt.Sub(restartStarted).Round(10*time.Millisecond), postgresDowntime, retried))
	recordFigure("faults.postgres_restart.workflows_completed", fmt.Sprintf("%d of %d", countCompleted(outcomes), startups))
	recordFigure("faults.postgres_restart.renewal_outcomes", fmt.Sprintf("renewed at start-up %d, failed at start-up %d, renewed by the TokenRenewal %d",
		renewedAtStartup, failedAtStartup, byRenewal))
	recordFigure("faults.postgres_restart.extensions_per_token", fmt.Sprintf("exactly 1 for %d of %d tokens", exactlyOnce, startups))
}

// postgresDowntime is how long the restart keeps PostgreSQL down: longer
// than the three attempts a start-up gives its renewal (about 3 seconds),
// shorter than the 15 seconds of backoff its sync gets. Start-ups whose
// renewal falls into the outage therefore report it failed, and their
// TokenRenewal must make it up.
const postgresDowntime = 5 * time.Second

// openPool connects to databaseURL for the test's own reads and closes the
// pool when the test ends.
func openPool(t *testing.T, ctx context.Context, databaseURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, databaseURL)
	require.NoError(t, err, "connect to %s", databaseURL)
	t.Cleanup(pool.Close)
	return pool
}

// waitForExtensions waits until at least count tokens have an extension
// and returns how many have one.
func waitForExtensions(t *testing.T, ctx context.Context, pool *pgxpool.Pool, count int) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var extended int
		err := pool.QueryRow(ctx, `SELECT count(DISTINCT token_id) FROM token_extension`).Scan(&extended)
		require.NoError(t, err, "count extended tokens")
		if extended >= count {
			return extended
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tokens extended after two minutes, expected %d", extended, count)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countCompleted(outcomes []startupOutcome) int {
	completed := 0
	for _, outcome := range outcomes {
		if outcome.Err == nil {
			completed++
		}
	}
	return completed
}

func TestTemporalRestartWhileRenewalsSleep(t *testing.T) {
	t.Parallel()
	const daemons = 5
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Its own dev server, stopped and started again on the same port and
	// SQLite file, so the workflows and their timers survive.
	port, err := devenv.FreePort()
	require.NoError(t, err)
	options := devenv.TemporalOptions{Port: port, DBFile: filepath.Join(t.TempDir(), "temporal.db")}
	first, err := devenv.StartTemporal(ctx, options)
	require.NoError(t, err, "start the dev server")
	firstStopped := false
	t.Cleanup(func() {
		if !firstStopped {
			first.Stop()
		}
	})

	pool, databaseURL := testenv.NewDatabase(t)
	userID := seedUser(t, ctx, pool, "temporal-restart@example.com")
	tokens := issueTokens(t, ctx, pool, userID, daemons, notDue)
	taskQueue := uniqueName("temporal-restart")
	worker := startWorker(t, workerSettings{
		temporalAddress: first.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		// Every renewal checks its token every 2 seconds.
		env: []string{"DAEMONAUTH_RENEWAL_INTERVAL=2s", "DAEMONAUTH_RENEWAL_MIN_INTERVAL=2s", "DAEMONAUTH_RENEWAL_JITTER=0s"},
	})
	waitForPolling(t, ctx, first.Client(), taskQueue, worker)

	inputs := make([]daemonauth.DaemonStartupInput, daemons)
	for i, token := range tokens {
		inputs[i] = daemonauth.DaemonStartupInput{DaemonID: uniqueName("temporal-restart"), TokenID: token.ID}
	}
	for _, outcome := range runStartups(ctx, first.Client(), taskQueue, inputs) {
		require.NoError(t, outcome.Err, "start-up of %s", outcome.Input.DaemonID)
		require.Equal(t, daemonauth.OutcomeNotDue, outcome.Result.Renewal.Outcome, "a token with 60 days left is not renewed at start-up")
	}
	cyclesBefore := map[string]int{}
	for _, input := range inputs {
		status := waitForRenewalStatus(t, ctx, first.Client(), input.DaemonID, "a first cycle", func(status daemonauth.RenewalStatus) bool {
			return status.Cycles >= 1
		})
		cyclesBefore[input.DaemonID] = status.Cycles
	}

	// Stop sends SIGINT and waits for the CLI to exit.
	require.NoError(t, first.Stop(), "stop the dev server")
	firstStopped = true
	first.Client().Close()
	stoppedAt := time.Now()
	// Made due while the server is down, so only a timer that fires after
	// the restart can renew it.
	dueToken := tokens[0].ID
	dueDaemon := inputs[0].DaemonID
	tag, err := pool.Exec(ctx, `UPDATE personal_access_token SET expires_at = now() + interval '2 days' WHERE id = $1`, dueToken)
	require.NoError(t, err, "make a token due")
	require.EqualValues(t, 1, tag.RowsAffected(), "tokens made due")
	// Five seconds are two and a half intervals, so every renewal's timer
	// comes due while the server is down.
	time.Sleep(5 * time.Second)

	second, err := devenv.StartTemporal(ctx, options)
	require.NoError(t, err, "start the dev server again on the same database file")
	t.Cleanup(func() { second.Stop() })
	downtime := time.Since(stoppedAt)
	restartedAt := time.Now()

	for _, input := range inputs {
		status := waitForRenewalStatus(t, ctx, second.Client(), input.DaemonID, "cycles after the restart", func(status daemonauth.RenewalStatus) bool {
			return status.Cycles > cyclesBefore[input.DaemonID]
		})
		assert.Equal(t, input.TokenID, status.TokenID, "the renewal of %s still follows its token", input.DaemonID)
	}
	// Judged by the expiry, not the last outcome: with 2-second cycles the
	// renewal's outcome is replaced by "not_due" two seconds later.
	status := waitForRenewalStatus(t, ctx, second.Client(), dueDaemon, "the renewal of the due token", func(status daemonauth.RenewalStatus) bool {
		return status.ExpiresAt != nil && status.ExpiresAt.After(time.Now().Add(80*24*time.Hour))
	})
	renewedAfter := time.Since(restartedAt)
	require.NotNil(t, status.ExpiresAt, "expires_at after the renewal")
	assert.True(t, tokenExpiresAt(t, ctx, pool, dueToken).Equal(*status.ExpiresAt), "the status reports the expiry stored in the database")

	extensions := readExtensions(t, ctx, pool)
	require.Len(t, extensions[dueToken], 1, "extensions of the token made due")
	assert.Equal(t, daemonauth.RenewalWorkflowID(dueDaemon), extensions[dueToken][0].WorkflowID, "the TokenRenewal extended the token")
	for _, token := range tokens[1:] {
		assert.Empty(t, extensions[token.ID], "a token that was not due is not extended")
	}
	assert.True(t, worker.running(), "the worker rides out the server's restart without being restarted")

	minCycles := -1
	for _, input := range inputs {
		stopped, err := daemonclient.StopRenewal(ctx, second.Client(), input.DaemonID, "test done")
		if !assert.NoError(t, err, "stop the renewal of %s", input.DaemonID) {
			continue
		}
		if more := stopped.Cycles - cyclesBefore[input.DaemonID]; minCycles < 0 || more < minCycles {
			minCycles = more
		}
	}
	recordFigure("faults.temporal_restart.renewals", fmt.Sprintf("%d TokenRenewals with 2 s intervals, server down %s", daemons, downtime.Round(100*time.Millisecond)))
	recordFigure("faults.temporal_restart.due_token", fmt.Sprintf("made due while the server was down, renewed %s after the restart, 1 extension", renewedAfter.Round(100*time.Millisecond)))
	recordFigure("faults.temporal_restart.cycles_after_restart", fmt.Sprintf("each renewal ran %d or more cycles after the restart", minCycles))
}

// waitForRenewalStatus polls the status query of the daemon's TokenRenewal
// until done returns true, and returns that status.
func waitForRenewalStatus(t *testing.T, ctx context.Context, c client.Client, daemonID, what string, done func(daemonauth.RenewalStatus) bool) daemonauth.RenewalStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, err := daemonclient.RenewalStatus(ctx, c, daemonID)
		if err == nil && done(status) {
			return status
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewal of %s: no %s after a minute (last status %+v, error %v)", daemonID, what, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
