//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/internal/testenv"
)

func TestLoadStartupsOnOneWorker(t *testing.T) {
	// Not parallel: it runs alone, before the fault tests start, so its
	// timings are its own.
	const (
		distinct = 1000
		sharing  = 64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := server.Client()
	pool, databaseURL := testenv.NewDatabase(t)
	userID := seedUser(t, ctx, pool, "load@example.com")
	tokens := issueTokens(t, ctx, pool, userID, distinct+1, inWindow)
	sharedToken := tokens[distinct].ID
	taskQueue := uniqueName("load")
	// The worker binary with the SDK's default worker options. Its pool
	// may hold 100 connections instead of pgxpool's default of 4 (or the
	// number of CPUs), so that the 64 renewals of the shared token can all
	// wait on its row at once while the other start-ups go on.
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL + "&pool_max_conns=100",
		taskQueue:       taskQueue,
	})
	waitForPolling(t, ctx, c, taskQueue, worker)

	// The 64 daemons that share one token come first, so their start-ups
	// are requested together.
	var inputs []daemonauth.DaemonStartupInput
	for range sharing {
		inputs = append(inputs, daemonauth.DaemonStartupInput{DaemonID: uniqueName("load-shared"), TokenID: sharedToken})
	}
	for _, token := range tokens[:distinct] {
		inputs = append(inputs, daemonauth.DaemonStartupInput{DaemonID: uniqueName("load"), TokenID: token.ID})
	}
	// NOTE: the 1,064 TokenRenewals that these start-ups leave are not
	// terminated. They sleep for a week, and the dev server is discarded
	// at the end of the run.

	// Without help the worker would run the 64 renewals a few at a time,
	// as their tasks arrive. Holding the token row makes each renewal wait
	// inside its compare-and-swap, so releasing it lets all of them race
	// for the row at once. The hold ends after 8 seconds at most, well
	// inside the renewal's 15-second timeout.
	holder := holdLock(t, ctx, pool, &blockingLock{statement: `SELECT id FROM personal_access_token WHERE id = $1 FOR UPDATE`}, sharedToken)
	started := time.Now()
	done := make(chan []startupOutcome, 1)
	go func() { done <- runStartups(ctx, c, taskQueue, inputs) }()
	racing := waitForLockWaiters(t, ctx, pool, sharing, 8*time.Second)
	require.NoError(t, holder.Rollback(ctx), "release the shared token's row")
	outcomes := <-done
	elapsed := time.Since(started)

	failures, requestRetries := 0, 0
	latencies := make([]time.Duration, 0, len(outcomes))
	for _, outcome := range outcomes {
		if !assert.NoError(t, outcome.Err, "start-up of %s", outcome.Input.DaemonID) {
			failures++
		}
		requestRetries += outcome.RequestRetries
		latencies = append(latencies, outcome.Finished.Sub(started))
	}
	require.Zero(t, failures, "failed start-ups")
	slices.Sort(latencies)

	extensions := readExtensions(t, ctx, pool)
	distinctOnce := 0
	for _, outcome := range outcomes[sharing:] {
		assert.Equal(t, daemonauth.OutcomeRenewed, outcome.Result.Renewal.Outcome, "renewal outcome of %s", outcome.Input.DaemonID)
		if assert.Len(t, extensions[outcome.Input.TokenID], 1, "extensions of the token of %s", outcome.Input.DaemonID) {
			distinctOnce++
		}
	}

	sharedExpiry := tokenExpiresAt(t, ctx, pool, sharedToken)
	renewedShared, notDueShared := 0, 0
	for _, outcome := range outcomes[:sharing] {
		switch outcome.Result.Renewal.Outcome {
		case daemonauth.OutcomeRenewed:
			renewedShared++
		case daemonauth.OutcomeNotDue:
			notDueShared++
		}
		if assert.NotNil(t, outcome.Result.Renewal.ExpiresAt, "expires_at reported to %s", outcome.Input.DaemonID) {
			assert.True(t, sharedExpiry.Equal(*outcome.Result.Renewal.ExpiresAt),
				"%s reports the expiry that the one renewal wrote", outcome.Input.DaemonID)
		}
	}
	require.Len(t, extensions[sharedToken], 1, "extensions of the shared token")
	assert.Equal(t, 1, renewedShared, "start-ups of the shared token that report renewed")
	assert.Equal(t, sharing-1, notDueShared, "start-ups of the shared token that report not_due")
	overlap := maxConcurrentRenewals(t, ctx, c, outcomes[:sharing])

	recordFigure("load.startups", fmt.Sprintf("%d on one worker (default worker options, pool_max_conns=100): %d daemons with their own token, %d sharing one token",
		len(inputs), distinct, sharing))
	recordFigure("load.failures", fmt.Sprintf("%d workflows failed; %d start requests repeated after the request itself failed", failures, requestRetries))
	recordFigure("load.duration", fmt.Sprintf("%s from the first request to the last result, %.0f start-ups/s; results after %s (median), %s (90th percentile)",
		elapsed.Round(100*time.Millisecond), float64(len(inputs))/elapsed.Seconds(),
		latencies[len(latencies)/2].Round(100*time.Millisecond), latencies[len(latencies)*9/10].Round(100*time.Millisecond)))
	recordFigure("load.extensions_distinct_tokens", fmt.Sprintf("exactly 1 for %d of %d tokens", distinctOnce, distinct))
	recordFigure("load.shared_token", fmt.Sprintf("%d extension; %d start-up reported renewed, %d not_due; %d renewals waited on the row when it was released, up to %d ran at once",
		len(extensions[sharedToken]), renewedShared, notDueShared, racing, overlap))
}

// waitForLockWaiters waits until count sessions of the test's database wait
// on a lock, or timeout passes, and returns how many wait.
func waitForLockWaiters(t *testing.T, ctx context.Context, pool *pgxpool.Pool, count int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var waiting int
		err := pool.QueryRow(ctx, `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		require.NoError(t, err, "read pg_stat_activity")
		if waiting >= count || time.Now().After(deadline) {
			return waiting
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maxConcurrentRenewals returns the largest number of the start-ups'
// RenewToken activities that ran at the same time, from the started and
// completed times in their histories.
func maxConcurrentRenewals(t *testing.T, ctx context.Context, c client.Client, outcomes []startupOutcome) int {
	t.Helper()
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, outcome := range outcomes {
		history := c.GetWorkflowHistory(ctx, daemonauth.StartupWorkflowID(outcome.Input.DaemonID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		// RenewToken is the first activity, so its started and completed
		// events are the first of their kind.
		var startedAt, completedAt time.Time
		for history.HasNext() && completedAt.IsZero() {
			event, err := history.Next()
			require.NoError(t, err, "read history of %s", outcome.Input.DaemonID)
			switch event.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				startedAt = event.GetEventTime().AsTime()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				completedAt = event.GetEventTime().AsTime()
			}
		}
		if !startedAt.IsZero() && !completedAt.IsZero() {
			edges = append(edges, edge{startedAt, 1}, edge{completedAt, -1})
		}
	}
	// At equal times, count a completion before a start, so two activities
	// that only touch are not counted as overlapping.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	return peak
}
