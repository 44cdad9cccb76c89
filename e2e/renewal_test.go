package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/internal/config"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

// pollTimeout bounds every wait for a renewal to reach a state. Under the
// one-second intervals of shortRenewal a wait takes a few seconds, so the
// rest is margin for a loaded machine running with -race.
const pollTimeout = 30 * time.Second

// shortRenewal returns renewal settings under which a TokenRenewal checks
// its token every second, so several cycles fit into a test. Jitter is off
// so the due time is exact. The end rules keep their long defaults, and a
// test of a rule shortens it.
func shortRenewal() config.Renewal {
	return config.Renewal{
		Extension:    90 * 24 * time.Hour,
		Threshold:    7 * 24 * time.Hour,
		Interval:     time.Second,
		MinInterval:  time.Second,
		Jitter:       0,
		MaxRejected:  14 * 24 * time.Hour,
		MaxIdle:      30 * 24 * time.Hour,
		CyclesPerRun: 100,
	}
}

// startRenewalStack is startStack with the worker's renewal settings
// replaced by renewal. EnsureTokenRenewal copies them into the input of
// every TokenRenewal it starts.
func startRenewalStack(t *testing.T, renewal config.Renewal) *stack {
	t.Helper()
	return startStackWith(t, &renewal)
}

// pollUntil calls check every 100ms until it returns nil, and fails the
// test with check's last error when timeout passes first.
func pollUntil(t *testing.T, ctx context.Context, timeout time.Duration, what string, check func() error) {
	t.Helper()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(timeout)

	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ticker.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last check: %v)", what, ctx.Err(), err)
		}
	}
}

// waitForStatus polls the status query of the daemon's TokenRenewal until
// done returns true and returns that status.
func waitForStatus(t *testing.T, ctx context.Context, c client.Client, daemonID, what string, done func(daemonauth.RenewalStatus) bool) daemonauth.RenewalStatus {
	t.Helper()
	var status daemonauth.RenewalStatus
	pollUntil(t, ctx, pollTimeout, what, func() error {
		var err error
		status, err = daemonclient.RenewalStatus(ctx, c, daemonID)
		if err != nil {
			return err
		}
		if !done(status) {
			statusJSON, _ := json.Marshal(status)
			return fmt.Errorf("last status %s", statusJSON)
		}
		return nil
	})
	return status
}

var daemonCount atomic.Int64

// uniqueDaemonID returns a daemon ID that no other test in this run of the
// binary uses. Workflows of an earlier -count iteration stay on the shared
// dev server, and a visibility query by daemon would find them too.
func uniqueDaemonID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, daemonCount.Add(1))
}

// execOne runs a statement that must change exactly one row.
func execOne(t *testing.T, ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	tag, err := pool.Exec(ctx, sql, args...)
	require.NoError(t, err, "%s", sql)
	require.EqualValues(t, 1, tag.RowsAffected(), "rows changed by %s", sql)
}

func countExtensions(t *testing.T, ctx context.Context, pool *pgxpool.Pool, tokenID string) int {
	t.Helper()
	var count int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM token_extension WHERE token_id = $1`, tokenID).Scan(&count))
	return count
}

func tokenExpiresAt(t *testing.T, ctx context.Context, pool *pgxpool.Pool, tokenID string) time.Time {
	t.Helper()
	var expiresAt time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT expires_at FROM personal_access_token WHERE id = $1`, tokenID).Scan(&expiresAt))
	return expiresAt
}

// startDaemon runs the daemon's start-up, which leaves its TokenRenewal
// running. When the test ends, a renewal that is still running is
// terminated, so a failed test leaves no timers firing on the shared server.
func startDaemon(t *testing.T, ctx context.Context, s *stack, daemonID, tokenID string) daemonauth.DaemonStartupResult {
	t.Helper()
	result, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: tokenID})
	require.NoError(t, err, "start-up of daemon %s", daemonID)
	require.Equal(t, daemonauth.RenewalWorkflowID(daemonID), result.RenewalWorkflowID, "renewal workflow of daemon %s", daemonID)

	t.Cleanup(func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Terminating a workflow that already ended fails with NotFound,
		// which is the expected case for a test that passed.
		err := s.client.TerminateWorkflow(cleanupCtx, result.RenewalWorkflowID, "", "test ended")
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("terminate %s: %v", result.RenewalWorkflowID, err)
		}
	})
	return result
}

// waitForResult waits for the daemon's TokenRenewal to end by itself and
// returns its result, following any continue-as-new.
func waitForResult(t *testing.T, ctx context.Context, c client.Client, daemonID string) daemonauth.TokenRenewalResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	var result daemonauth.TokenRenewalResult
	err := c.GetWorkflow(ctx, daemonauth.RenewalWorkflowID(daemonID), "").Get(ctx, &result)
	require.NoError(t, err, "the renewal of daemon %s ends by itself", daemonID)
	return result
}

// renewTokenEvents returns, for the current run of a workflow, how many
// RenewToken activities it scheduled and how many of them were scheduled
// after the first one that failed.
func renewTokenEvents(t *testing.T, ctx context.Context, c client.Client, workflowID string) (scheduled, afterFailure int) {
	t.Helper()
	failed := false
	history := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for history.HasNext() {
		event, err := history.Next()
		require.NoError(t, err, "read history of %s", workflowID)
		if attributes := event.GetActivityTaskScheduledEventAttributes(); attributes != nil &&
			attributes.GetActivityType().GetName() == daemonauth.ActivityRenewToken {
			scheduled++
			if failed {
				afterFailure++
			}
		}
		if event.GetActivityTaskFailedEventAttributes() != nil {
			failed = true
		}
	}
	return scheduled, afterFailure
}

func TestRenewalCyclesAndContinueAsNew(t *testing.T) {
	renewal := shortRenewal()
	renewal.CyclesPerRun = 3
	s := startRenewalStack(t, renewal)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	daemonID := uniqueDaemonID("renewal-cycles")

	started := startDaemon(t, ctx, s, daemonID, token.ID)
	assert.Equal(t, daemonauth.OutcomeNotDue, started.Renewal.Outcome, "a token with 60 days left is not due at start-up")
	firstRun, err := s.client.DescribeWorkflow(ctx, started.RenewalWorkflowID, "")
	require.NoError(t, err)

	// Moving the expiry into the 7-day window makes the next one-second
	// cycle renew the token.
	execOne(t, ctx, s.pool, `UPDATE personal_access_token SET expires_at = now() + interval '2 days' WHERE id = $1`, token.ID)
	renewed := waitForStatus(t, ctx, s.client, daemonID, "a renewal of the due token", func(status daemonauth.RenewalStatus) bool {
		return status.LastOutcome == daemonauth.OutcomeRenewed
	})
	require.NotNil(t, renewed.ExpiresAt, "expires_at after the renewal")
	assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), *renewed.ExpiresAt, time.Minute, "the renewal extends the token to 90 days")
	assert.True(t, tokenExpiresAt(t, ctx, s.pool, token.ID).Equal(*renewed.ExpiresAt), "the status reports the expiry stored in the database")

	require.Equal(t, 1, countExtensions(t, ctx, s.pool, token.ID), "one audit row for one renewal")
	var extendedBy string
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT workflow_id FROM token_extension WHERE token_id = $1`, token.ID).Scan(&extendedBy))
	assert.Equal(t, started.RenewalWorkflowID, extendedBy, "the TokenRenewal, not the start-up, extended the token")

	later := waitForStatus(t, ctx, s.client, daemonID, "a continue-as-new and four cycles", func(status daemonauth.RenewalStatus) bool {
		return status.ContinueAsNewCount >= 1 && status.Cycles >= 4
	})
	assert.Equal(t, daemonID, later.DaemonID, "daemon after continue-as-new")
	assert.Equal(t, token.ID, later.TokenID, "token after continue-as-new")
	assert.Equal(t, daemonauth.OutcomeNotDue, later.LastOutcome, "the renewed token is not due again")
	require.NotNil(t, later.ExpiresAt, "expires_at after continue-as-new")
	assert.True(t, renewed.ExpiresAt.Equal(*later.ExpiresAt), "continue-as-new carries the expiry over")
	assert.False(t, later.NeedsRelogin, "needs_relogin after continue-as-new")
	assert.Equal(t, 1, countExtensions(t, ctx, s.pool, token.ID), "later cycles do not extend the token again")

	currentRun, err := s.client.DescribeWorkflow(ctx, started.RenewalWorkflowID, "")
	require.NoError(t, err)
	assert.NotEqual(t, firstRun.WorkflowExecution.RunID, currentRun.WorkflowExecution.RunID, "the server runs a new run after continue-as-new")
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, currentRun.Status, "the new run is running")
	daemonAttribute, ok := currentRun.TypedSearchAttributes.GetKeyword(daemonauth.SearchAttrDaemonID)
	assert.True(t, ok, "DaemonId is set on the new run")
	assert.Equal(t, daemonID, daemonAttribute, "DaemonId of the new run")
	expiresAttribute, ok := currentRun.TypedSearchAttributes.GetTime(daemonauth.SearchAttrTokenExpiresAt)
	assert.True(t, ok, "TokenExpiresAt is set on the new run")
	assert.True(t, renewed.ExpiresAt.Equal(expiresAttribute), "TokenExpiresAt %s of the new run is the renewed expiry", expiresAttribute)

	stopped, err := daemonclient.StopRenewal(ctx, s.client, daemonID, "test done")
	require.NoError(t, err, "stop the renewal")
	assert.Equal(t, "stop signal: test done", stopped.StopReason)
	assert.Equal(t, token.ID, stopped.TokenID, "token in the result")
	assert.GreaterOrEqual(t, stopped.Cycles, 4, "cycles in the result")
}

// cliQueryResult is the JSON that `temporal workflow query --output json`
// prints. QueryResult has one element per value the query returns.
type cliQueryResult struct {
	QueryResult []daemonauth.RenewalStatus `json:"queryResult"`
}

// cliUpdateResult is the JSON that `temporal workflow update execute
// --output json` prints.
type cliUpdateResult struct {
	Name     string                    `json:"name"`
	UpdateID string                    `json:"updateId"`
	Result   daemonauth.RenewNowResult `json:"result"`
}

func TestRenewalQueryAndUpdateThroughCLI(t *testing.T) {
	// The default settings check the token only weekly, so every renewal
	// in this test is one the CLI asked for.
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	cli := temporalCLI(t)
	address := s.cfg.Temporal.Address
	daemonID := uniqueDaemonID("renewal-cli")
	workflowID := daemonauth.RenewalWorkflowID(daemonID)

	started := startDaemon(t, ctx, s, daemonID, token.ID)
	require.Equal(t, daemonauth.OutcomeNotDue, started.Renewal.Outcome, "a token with 60 days left is not renewed at start-up")

	queryOutput := runCommand(t, nil, cli, "workflow", "query", "--address", address,
		"--workflow-id", workflowID, "--name", daemonauth.QueryStatus, "--output", "json")
	var query cliQueryResult
	require.NoError(t, json.Unmarshal([]byte(queryOutput), &query), "decode the CLI's query output:\n%s", queryOutput)
	require.Len(t, query.QueryResult, 1, "query results in:\n%s", queryOutput)
	status := query.QueryResult[0]
	assert.Equal(t, daemonID, status.DaemonID, "daemon_id")
	assert.Equal(t, token.ID, status.TokenID, "token_id")
	require.NotNil(t, status.NextRenewalAt, "next_renewal_at in:\n%s", queryOutput)
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), *status.NextRenewalAt, time.Minute,
		"a token due in 53 days is checked again after the maximum interval of 7 days")
	assert.Equal(t, 0, status.Cycles, "no cycle ran yet")

	// Three days left puts the token inside the 7-day window, so the first
	// renew-now extends it.
	execOne(t, ctx, s.pool, `UPDATE personal_access_token SET expires_at = now() + interval '3 days' WHERE id = $1`, token.ID)
	renewNow := func() cliUpdateResult {
		t.Helper()
		output := runCommand(t, nil, cli, "workflow", "update", "execute", "--address", address,
			"--workflow-id", workflowID, "--name", daemonauth.UpdateRenewNow, "--input", "{}", "--output", "json")
		var update cliUpdateResult
		require.NoError(t, json.Unmarshal([]byte(output), &update), "decode the CLI's update output:\n%s", output)
		return update
	}

	first := renewNow()
	assert.False(t, first.Result.FromCache, "the first renew-now asks the database")
	assert.Equal(t, daemonauth.OutcomeRenewed, first.Result.Renewal.Outcome, "a token inside the window is renewed")
	require.NotNil(t, first.Result.Renewal.ExpiresAt, "expires_at of the first renew-now")
	assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), *first.Result.Renewal.ExpiresAt, time.Minute, "new expiry")
	assert.True(t, tokenExpiresAt(t, ctx, s.pool, token.ID).Equal(*first.Result.Renewal.ExpiresAt), "the update reports the expiry stored in the database")
	require.NotNil(t, first.Result.NextRenewalAt, "next_renewal_at of the first renew-now")
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), *first.Result.NextRenewalAt, time.Minute, "next check after the renewal")
	assert.Equal(t, 1, countExtensions(t, ctx, s.pool, token.ID), "one audit row after the first renew-now")
	afterFirst, err := daemonclient.RenewalStatus(ctx, s.client, daemonID)
	require.NoError(t, err)
	require.NotNil(t, afterFirst.LastOutcomeAt, "last_outcome_at after the first renew-now")

	second := renewNow()
	assert.True(t, second.Result.FromCache, "a renew-now right after a renewal is answered from the cache")
	assert.Equal(t, daemonauth.OutcomeRenewed, second.Result.Renewal.Outcome, "the cached outcome")
	require.NotNil(t, second.Result.Renewal.ExpiresAt, "expires_at of the second renew-now")
	assert.True(t, first.Result.Renewal.ExpiresAt.Equal(*second.Result.Renewal.ExpiresAt), "the cached expiry")
	assert.Equal(t, 1, countExtensions(t, ctx, s.pool, token.ID), "the cached renew-now writes no audit row")

	afterSecond, err := daemonclient.RenewalStatus(ctx, s.client, daemonID)
	require.NoError(t, err)
	require.NotNil(t, afterSecond.LastOutcomeAt, "last_outcome_at after the second renew-now")
	assert.True(t, afterFirst.LastOutcomeAt.Equal(*afterSecond.LastOutcomeAt), "the cached renew-now records no new outcome")
	assert.Equal(t, 1, afterSecond.Cycles, "the cached renew-now runs no cycle")
	scheduled, _ := renewTokenEvents(t, ctx, s.client, workflowID)
	assert.Equal(t, 1, scheduled, "RenewToken activities in the renewal's history")

	_, err = daemonclient.StopRenewal(ctx, s.client, daemonID, "test done")
	require.NoError(t, err, "stop the renewal")
}

// cliWorkflowListEntry is one element of the JSON array that `temporal
// workflow list --output json` prints.
type cliWorkflowListEntry struct {
	Execution struct {
		WorkflowID string `json:"workflowId"`
		RunID      string `json:"runId"`
	} `json:"execution"`
	Status string `json:"status"`
}

// listWorkflowIDs runs a visibility query through the SDK and returns the
// workflow IDs it finds.
func listWorkflowIDs(ctx context.Context, c client.Client, query string) ([]string, error) {
	response, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", query, err)
	}
	ids := []string{}
	for _, execution := range response.GetExecutions() {
		ids = append(ids, execution.GetExecution().GetWorkflowId())
	}
	return ids, nil
}

// assertNoSecretInSearchAttributes fails when a search attribute of the
// workflow's current run contains the raw token or its hash.
func assertNoSecretInSearchAttributes(t *testing.T, ctx context.Context, c client.Client, workflowID string, token seed.Token) {
	t.Helper()
	description, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err, "describe %s", workflowID)
	fields := description.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	require.NotEmpty(t, fields, "search attributes of %s", workflowID)
	hash := seed.HashToken(token.Raw)
	for name, payload := range fields {
		value := string(payload.GetData())
		assert.NotContains(t, value, token.Raw, "search attribute %s of %s contains the raw token", name, workflowID)
		assert.NotContains(t, value, hash, "search attribute %s of %s contains the token hash", name, workflowID)
	}
}

func TestRenewalSearchAttributesFindRelogin(t *testing.T) {
	// shortRenewal keeps CyclesPerRun at 100, so no run continues as new
	// during the test. A run closed by continue-as-new stays in visibility
	// with its last search attributes, and the query below would list it
	// beside the running one.
	s := startRenewalStack(t, shortRenewal())
	ctx := testContext(t)
	userID := s.seedUser(t)
	revokedToken := s.issueToken(t, userID, seed.TokenSpec{Name: "revoked", ExpiresIn: seed.Days(60)})
	healthyToken := s.issueToken(t, userID, seed.TokenSpec{Name: "healthy", ExpiresIn: seed.Days(60)})
	revokedDaemon := uniqueDaemonID("renewal-relogin")
	healthyDaemon := uniqueDaemonID("renewal-healthy")
	cli := temporalCLI(t)

	startDaemon(t, ctx, s, revokedDaemon, revokedToken.ID)
	healthy := startDaemon(t, ctx, s, healthyDaemon, healthyToken.ID)

	execOne(t, ctx, s.pool, `UPDATE personal_access_token SET revoked = true WHERE id = $1`, revokedToken.ID)
	waitForStatus(t, ctx, s.client, revokedDaemon, "needs_relogin after the revocation", func(status daemonauth.RenewalStatus) bool {
		return status.NeedsRelogin
	})

	// Visibility is updated asynchronously, so the upsert can take a moment
	// to show in a list query.
	reloginQuery := fmt.Sprintf("NeedsRelogin = true AND DaemonId = '%s'", revokedDaemon)
	var listed []cliWorkflowListEntry
	pollUntil(t, ctx, pollTimeout, "the CLI to list the revoked daemon's renewal", func() error {
		stdout, stderr, err := tryCommand(nil, cli, "workflow", "list", "--address", s.cfg.Temporal.Address,
			"--query", reloginQuery, "--output", "json")
		if err != nil {
			return fmt.Errorf("temporal workflow list: %w\n%s", err, stderr)
		}
		listed = nil
		if err := json.Unmarshal([]byte(stdout), &listed); err != nil {
			return fmt.Errorf("decode the CLI's list output: %w\n%s", err, stdout)
		}
		if len(listed) == 0 {
			return errors.New("the list is empty")
		}
		return nil
	})
	require.Len(t, listed, 1, "workflows listed by %q", reloginQuery)
	assert.Equal(t, daemonauth.RenewalWorkflowID(revokedDaemon), listed[0].Execution.WorkflowID, "the listed workflow")
	assert.Equal(t, "WORKFLOW_EXECUTION_STATUS_RUNNING", listed[0].Status, "the listed workflow waits for a new login")

	pollUntil(t, ctx, pollTimeout, "the healthy daemon's renewal in visibility", func() error {
		ids, err := listWorkflowIDs(ctx, s.client, fmt.Sprintf("DaemonId = '%s'", healthyDaemon))
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return errors.New("the list is empty")
		}
		return nil
	})
	healthyRelogin, err := listWorkflowIDs(ctx, s.client, fmt.Sprintf("NeedsRelogin = true AND DaemonId = '%s'", healthyDaemon))
	require.NoError(t, err)
	assert.Empty(t, healthyRelogin, "a daemon with a valid token does not need a new login")

	description, err := s.client.DescribeWorkflow(ctx, healthy.RenewalWorkflowID, "")
	require.NoError(t, err)
	attributes := description.TypedSearchAttributes
	daemonAttribute, ok := attributes.GetKeyword(daemonauth.SearchAttrDaemonID)
	assert.True(t, ok, "DaemonId is set")
	assert.Equal(t, healthyDaemon, daemonAttribute, "DaemonId")
	needsRelogin, ok := attributes.GetBool(daemonauth.SearchAttrNeedsRelogin)
	assert.True(t, ok, "NeedsRelogin is set")
	assert.False(t, needsRelogin, "NeedsRelogin of the healthy daemon")
	expiresAt, ok := attributes.GetTime(daemonauth.SearchAttrTokenExpiresAt)
	assert.True(t, ok, "TokenExpiresAt is set")
	assert.True(t, tokenExpiresAt(t, ctx, s.pool, healthyToken.ID).Equal(expiresAt),
		"TokenExpiresAt %s is the token's expiry in the database", expiresAt)

	assertNoSecretInSearchAttributes(t, ctx, s.client, daemonauth.RenewalWorkflowID(revokedDaemon), revokedToken)
	assertNoSecretInSearchAttributes(t, ctx, s.client, healthy.RenewalWorkflowID, healthyToken)

	stopped, err := daemonclient.StopRenewal(ctx, s.client, revokedDaemon, "test done")
	require.NoError(t, err, "stop the revoked daemon's renewal")
	assert.True(t, stopped.NeedsRelogin, "the revoked daemon's renewal still needs a new login when stopped")
	_, err = daemonclient.StopRenewal(ctx, s.client, healthyDaemon, "test done")
	require.NoError(t, err, "stop the healthy daemon's renewal")
}

func TestRenewalEndsWhenTokenIdle(t *testing.T) {
	renewal := shortRenewal()
	// The limit is a minute rather than a few seconds because a token that
	// was never used counts as used at created_at. A shorter limit would
	// make the new token idle before the test moves it into the window.
	renewal.MaxIdle = time.Minute
	s := startRenewalStack(t, renewal)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	daemonID := uniqueDaemonID("renewal-idle")

	startDaemon(t, ctx, s, daemonID, token.ID)

	// One statement makes the token both due and idle, so no cycle can see
	// it due but still in use.
	var dueAt time.Time
	err := s.pool.QueryRow(ctx, `
UPDATE personal_access_token
SET expires_at = now() + interval '2 days', last_used_at = now() - interval '1 hour'
WHERE id = $1
RETURNING expires_at`, token.ID).Scan(&dueAt)
	require.NoError(t, err, "make the token due and idle")

	result := waitForResult(t, ctx, s.client, daemonID)
	assert.True(t, strings.HasPrefix(result.StopReason, "token idle"), "stop reason %q", result.StopReason)
	assert.Contains(t, result.StopReason, "max_idle 1m0s", "the stop reason names the limit")
	assert.Equal(t, daemonauth.OutcomeIdle, result.LastOutcome, "last outcome")
	require.NotNil(t, result.LastUsedAt, "last_used_at in the result")
	assert.WithinDuration(t, time.Now().Add(-time.Hour), *result.LastUsedAt, time.Minute, "last_used_at is the value in the database")

	assert.True(t, tokenExpiresAt(t, ctx, s.pool, token.ID).Equal(dueAt), "an idle token keeps its expiry")
	assert.Equal(t, 0, countExtensions(t, ctx, s.pool, token.ID), "an idle token gets no audit row")

	description, err := s.client.DescribeWorkflow(ctx, daemonauth.RenewalWorkflowID(daemonID), "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, description.Status, "the renewal completes rather than fails")
}

func TestRenewalEndsWhenRejectedTooLong(t *testing.T) {
	renewal := shortRenewal()
	renewal.MaxRejected = 3 * time.Second
	s := startRenewalStack(t, renewal)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	daemonID := uniqueDaemonID("renewal-rejected")

	started := startDaemon(t, ctx, s, daemonID, token.ID)
	execOne(t, ctx, s.pool, `UPDATE personal_access_token SET revoked = true WHERE id = $1`, token.ID)

	result := waitForResult(t, ctx, s.client, daemonID)
	assert.True(t, strings.HasPrefix(result.StopReason, "token rejected"), "stop reason %q", result.StopReason)
	assert.Contains(t, result.StopReason, "max_rejected 3s", "the stop reason names the limit")
	assert.Equal(t, daemonauth.OutcomeRejected, result.LastOutcome, "last outcome")
	assert.True(t, result.NeedsRelogin, "needs_relogin in the result")
	require.NotNil(t, result.RejectedSince, "rejected_since in the result")
	require.NotNil(t, result.LastOutcomeAt, "last_outcome_at in the result")
	assert.GreaterOrEqual(t, result.LastOutcomeAt.Sub(*result.RejectedSince), 3*time.Second,
		"the renewal ends only once the token has been rejected for max_rejected")

	scheduled, afterRejection := renewTokenEvents(t, ctx, s.client, started.RenewalWorkflowID)
	assert.Positive(t, scheduled, "RenewToken ran before the revocation was noticed")
	assert.Equal(t, 0, afterRejection, "no RenewToken runs once the token is rejected")

	description, err := s.client.DescribeWorkflow(ctx, started.RenewalWorkflowID, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, description.Status, "the renewal completes rather than fails")
}
