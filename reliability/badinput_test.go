//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/seed"
	"daemonauth/internal/testenv"
)

// spareMetricsPort keeps the worker binary off the default metrics port,
// which another worker of the suite may hold. A build of the worker
// without metrics ignores the variable.
const spareMetricsPort = "DAEMONAUTH_METRICS_ADDRESS=127.0.0.1:0"

// validTokenID is a well-formed token id that no database holds.
const validTokenID = "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"

// failedAtOnce is the whole history of a workflow that rejects its input
// in its first workflow task: no activity, no timer, no retried task.
var failedAtOnce = []enumspb.EventType{
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
	enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
	enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
	enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
	enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
}

// badInput is one malformed workflow input typed on the temporal CLI.
type badInput struct {
	name         string
	workflowType string
	// input is the JSON given to --input, or through --input-file when it
	// is too long for one command-line argument: Linux limits one argument
	// to 128 KiB (MAX_ARG_STRLEN on 4 KiB pages).
	input string
	// encoding, when set, overrides the payload's json/plain encoding with
	// --input-meta, and the CLI then sends the input without checking it.
	// The SDK cannot decode such a payload, so the workflow never runs:
	// the SDK fails it with its own error, not InvalidInput.
	encoding string
	// want is part of the failure message, or of the CLI's error for an
	// input the CLI rejects.
	want string
	// rejectedByCLI is true when the CLI rejects the input itself.
	rejectedByCLI bool
}

func badInputs() []badInput {
	startup := daemonauth.WorkflowDaemonStartup
	renewal := daemonauth.WorkflowTokenRenewal
	withToken := func(rest string) string {
		return `{"daemon_id":"laptop-7","token_id":"` + validTokenID + `"` + rest + `}`
	}
	return []badInput{
		{name: "malformed JSON", workflowType: startup, input: `{"daemon_id": "laptop-7",`, want: "input #1 is not valid JSON", rejectedByCLI: true},
		{name: "empty object", workflowType: startup, input: `{}`, want: "daemon_id is missing\ntoken_id is missing"},
		{name: "null", workflowType: startup, input: `null`, want: "daemon_id is missing\ntoken_id is missing"},
		{name: "missing daemon_id", workflowType: startup, input: `{"token_id":"` + validTokenID + `"}`, want: "daemon_id is missing"},
		{name: "missing token_id", workflowType: startup, input: `{"daemon_id":"laptop-7"}`, want: "token_id is missing"},
		{name: "token_id not a UUID", workflowType: startup, input: `{"daemon_id":"laptop-7","token_id":"laptop-7-token"}`,
			want: `token_id "laptop-7-token" is not a UUID such as "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"`},
		{name: "daemon_id with a space", workflowType: startup, input: `{"daemon_id":"laptop 7","token_id":"` + validTokenID + `"}`,
			want: `daemon_id "laptop 7" is invalid: use 1 to 128 letters`},
		{name: "unknown field", workflowType: startup, input: withToken(`,"tokn":"x"`), want: `json: unknown field "tokn"`},
		{name: "wrong type", workflowType: startup, input: `{"daemon_id":7,"token_id":"` + validTokenID + `"}`,
			want: "daemon_id must be a JSON string, got a JSON number"},
		{name: "array instead of object", workflowType: startup, input: `["laptop-7","` + validTokenID + `"]`,
			want: "must be a JSON object, got a JSON array"},
		{name: "huge daemon_id (1 MiB)", workflowType: startup,
			input: `{"daemon_id":"` + strings.Repeat("a", 1<<20) + `","token_id":"` + validTokenID + `"}`,
			want:  `daemon_id "` + strings.Repeat("a", 40) + `"… (1048576 bytes) is invalid`},
		{name: "huge unknown field name (1 MiB)", workflowType: startup,
			input: withToken(`,"` + strings.Repeat("b", 1<<20) + `":1`),
			want:  `json: unknown field "bbbb`},
		{name: "malformed JSON as binary/plain", workflowType: startup, input: `{"daemon_id": "laptop-7",`, encoding: "binary/plain",
			want: "unable to decode the workflow function input payload"},
		{name: "interval not a duration", workflowType: renewal, input: withToken(`,"interval":"weekly"`),
			want: `interval "weekly" is not a duration such as "72h"`},
		{name: "zero interval", workflowType: renewal, input: withToken(`,"interval":"0s"`), want: `interval "0s" must be positive`},
		{name: "negative cycles_per_run", workflowType: renewal, input: withToken(`,"cycles_per_run":-1`),
			want: "cycles_per_run -1 must not be negative"},
		{name: "cycles_per_run as a string", workflowType: renewal, input: withToken(`,"cycles_per_run":"100"`),
			want: "cycles_per_run must be a JSON number, got a JSON string"},
		{name: "min_interval above interval", workflowType: renewal, input: withToken(`,"interval":"1h","min_interval":"2h"`),
			want: "min_interval 2h0m0s must not be longer than interval 1h0m0s"},
		{name: "jitter beyond the window", workflowType: renewal, input: withToken(`,"jitter":"200h"`),
			want: "jitter 200h0m0s must be shorter than threshold 168h0m0s"},
		{name: "malformed state", workflowType: renewal, input: withToken(`,"state":{"expires_at":"tomorrow"}`),
			want: `malformed JSON: parsing time "tomorrow"`},
	}
}

// TestBadInputThroughCLI types malformed inputs on the temporal CLI, as an
// operator would, against the real worker binary. Every input the CLI
// accepts must fail its workflow in the first workflow task, with a
// non-retryable InvalidInput error that names the problem.
func TestBadInputThroughCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := server.Client()
	_, databaseURL := testenv.NewDatabase(t)
	taskQueue := uniqueName("bad-input")
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		env:             []string{spareMetricsPort},
	})
	waitForPolling(t, ctx, c, taskQueue, worker)

	inputs := badInputs()
	asExpected := 0
	for _, tc := range inputs {
		t.Run(tc.name, func(t *testing.T) {
			outcome := "did not end as expected; see the test log"
			// Deferred, so a case that fails still shows in the summary.
			defer func() { recordFigure("bad_input."+tc.workflowType+"."+tc.name, outcome) }()
			outcome = runBadInput(t, ctx, c, taskQueue, uniqueName("bad-input"), tc)
			if !t.Failed() {
				asExpected++
			}
		})
	}
	recordFigure("bad_input.tried", len(inputs))
	recordFigure("bad_input.ended_as_expected", fmt.Sprintf("%d of %d", asExpected, len(inputs)))

	started := 0
	for _, tc := range inputs {
		if !tc.rejectedByCLI {
			started++
		}
	}
	// Visibility lags the histories a little, so poll until it lists every
	// workflow the CLI started.
	var listed, running int
	require.Eventually(t, func() bool {
		listed = countWorkflows(t, ctx, c, fmt.Sprintf("TaskQueue = %q", taskQueue))
		running = countWorkflows(t, ctx, c, fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", taskQueue))
		return listed == started && running == 0
	}, 10*time.Second, 100*time.Millisecond, "the CLI started %d workflows on %s and none still runs", started, taskQueue)
	recordFigure("bad_input.left_running", running)
}

// countWorkflows returns how many workflow runs match a visibility query.
func countWorkflows(t *testing.T, ctx context.Context, c client.Client, query string) int {
	t.Helper()
	response, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	require.NoError(t, err, "count workflows: %s", query)
	return int(response.GetCount())
}

// runBadInput starts one workflow with the CLI, checks how it ended and
// returns that for the summary.
func runBadInput(t *testing.T, ctx context.Context, c client.Client, taskQueue, workflowID string, tc badInput) string {
	args := []string{"workflow", "start", "--address", server.FrontendHostPort(),
		"--type", tc.workflowType, "--task-queue", taskQueue, "--workflow-id", workflowID}
	switch {
	case tc.encoding != "":
		args = append(args, "--input-meta", "encoding="+tc.encoding, "--input", tc.input)
	case len(tc.input) > 100_000:
		path := filepath.Join(t.TempDir(), "input.json")
		require.NoError(t, os.WriteFile(path, []byte(tc.input), 0o600))
		args = append(args, "--input-file", path)
	default:
		args = append(args, "--input", tc.input)
	}
	_, stderr, err := runTemporalCLI(t, args...)

	if tc.rejectedByCLI {
		require.Error(t, err, "the CLI rejects the input")
		assert.Contains(t, stderr, tc.want, "the CLI names the problem")
		_, describeErr := c.DescribeWorkflowExecution(ctx, workflowID, "")
		var notFound *serviceerror.NotFound
		assert.ErrorAs(t, describeErr, &notFound, "no workflow was created")
		return "rejected by the temporal CLI (" + firstLine(stderrMessage(stderr)) + "); no workflow created"
	}
	require.NoError(t, err, "the CLI starts the workflow:\n%s", stderr)

	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	runErr := c.GetWorkflow(waitCtx, workflowID, "").Get(waitCtx, nil)
	require.Error(t, runErr, "the workflow fails")
	if errors.Is(runErr, context.DeadlineExceeded) {
		events := historyEventTypes(t, ctx, c, workflowID)
		t.Fatalf("the workflow had not ended after 30 s; its history: %v", events)
	}

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, runErr, &appErr, "the failure is an application error")
	assert.Contains(t, appErr.Message(), tc.want, "the failure names the problem")
	if tc.encoding == "" {
		assert.Equal(t, daemonauth.ErrTypeInvalidInput, appErr.Type(), "failure type")
		assert.True(t, appErr.NonRetryable(), "the failure is non-retryable")
	}

	history := historyEvents(t, ctx, c, workflowID)
	types := make([]enumspb.EventType, 0, len(history))
	for _, event := range history {
		types = append(types, event.GetEventType())
	}
	assert.Equal(t, failedAtOnce, types, "the first workflow task fails the workflow; no task fails and retries")
	failure := history[len(history)-1].GetWorkflowExecutionFailedEventAttributes().GetFailure()
	elapsed := history[len(history)-1].GetEventTime().AsTime().Sub(history[0].GetEventTime().AsTime())

	describe, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err, "describe %s", workflowID)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, describe.GetWorkflowExecutionInfo().GetStatus(), "status")

	return fmt.Sprintf("failed %s (non-retryable: %t, %d events, %s): %s",
		failureType(failure), appErr.NonRetryable(), len(history), elapsed.Round(time.Millisecond), summarizeMessage(appErr.Message()))
}

// runTemporalCLI runs the temporal CLI that the Makefile builds.
func runTemporalCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cli, err := devenv.FindTemporalCLI()
	require.NoError(t, err)
	cmd := exec.Command(cli, args...)
	cmd.Env = inheritedEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

// historyEvents returns every event of the workflow's latest run.
func historyEvents(t *testing.T, ctx context.Context, c client.Client, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err, "read the history of %s", workflowID)
		events = append(events, event)
	}
	return events
}

func historyEventTypes(t *testing.T, ctx context.Context, c client.Client, workflowID string) []string {
	t.Helper()
	var names []string
	for _, event := range historyEvents(t, ctx, c, workflowID) {
		names = append(names, event.GetEventType().String())
	}
	return names
}

func failureType(failure *failurepb.Failure) string {
	if info := failure.GetApplicationFailureInfo(); info != nil {
		return info.GetType()
	}
	return "(not an application failure)"
}

// summarizeMessage drops the "invalid <workflow> input: " prefix, joins
// the lines of the message and shortens it for the summary table.
func summarizeMessage(message string) string {
	if _, rest, ok := strings.Cut(message, " input: "); ok {
		message = rest
	}
	message = strings.ReplaceAll(message, "\n", "; ")
	const maxLen = 160
	if len(message) > maxLen {
		return fmt.Sprintf("%s… (message %d bytes)", message[:maxLen], len(message))
	}
	return message
}

// stderrMessage returns the msg of the CLI's log line on stderr.
func stderrMessage(stderr string) string {
	if _, rest, ok := strings.Cut(stderr, `msg="`); ok {
		message, _, _ := strings.Cut(rest, `"`)
		return message
	}
	return strings.TrimSpace(stderr)
}

func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return line
}

// tableState is what a start-up could have written: the rows of the
// worker's own tables and the token's row.
type tableState struct {
	daemons, daemonWorkspaces, extensions int
	// token is the token's row as JSON, or empty when there is none.
	token string
}

func readTableState(t *testing.T, ctx context.Context, pool *pgxpool.Pool, tokenID string) tableState {
	t.Helper()
	var state tableState
	require.NoError(t, pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM daemon),
       (SELECT count(*) FROM daemon_workspace),
       (SELECT count(*) FROM token_extension),
       COALESCE((SELECT row_to_json(t)::text FROM personal_access_token AS t WHERE t.id = $1), '')`, tokenID).
		Scan(&state.daemons, &state.daemonWorkspaces, &state.extensions, &state.token), "read the tables")
	return state
}

// TestRejectedStartupWritesNothing starts daemons whose token can no longer
// be used, through the real worker binary and database, and checks that
// the start-up fails with TokenRejected and writes no row.
func TestRejectedStartupWritesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := server.Client()
	pool, databaseURL := testenv.NewDatabase(t)
	taskQueue := uniqueName("rejected")
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		env:             []string{spareMetricsPort},
	})
	waitForPolling(t, ctx, c, taskQueue, worker)
	ownerID := seedUser(t, ctx, pool, "owner@example.com")

	for _, tc := range []struct {
		name string
		// token returns the id of the token to start with.
		token  func(t *testing.T) string
		reason string
		want   string
	}{
		{
			name:   "unknown token",
			token:  randomUUID,
			reason: daemonauth.RejectUnknown,
			want:   "is unknown: it does not exist or its user was deleted",
		},
		{
			name: "user deleted",
			token: func(t *testing.T) string {
				userID := seedUser(t, ctx, pool, "deleted@example.com")
				token := issueTokens(t, ctx, pool, userID, 1, inWindow)[0]
				_, err := pool.Exec(ctx, `DELETE FROM "user" WHERE id = $1`, userID)
				require.NoError(t, err, "delete the user")
				return token.ID
			},
			reason: daemonauth.RejectUnknown,
			want:   "is unknown: it does not exist or its user was deleted",
		},
		{
			name: "revoked token",
			token: func(t *testing.T) string {
				token, err := seed.IssueToken(ctx, pool, seed.TokenSpec{UserID: ownerID, Name: "revoked", ExpiresIn: seed.Days(3), Revoked: true})
				require.NoError(t, err)
				return token.ID
			},
			reason: daemonauth.RejectRevoked,
			want:   "is revoked",
		},
		{
			name: "expired token",
			token: func(t *testing.T) string {
				token, err := seed.IssueToken(ctx, pool, seed.TokenSpec{UserID: ownerID, Name: "expired", ExpiresIn: seed.Days(-1)})
				require.NoError(t, err)
				return token.ID
			},
			reason: daemonauth.RejectExpired,
			want:   "is expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenID := tc.token(t)
			daemonID := uniqueName("rejected")
			t.Cleanup(func() { terminateRenewal(t, c, daemonID) })
			before := readTableState(t, ctx, pool, tokenID)

			result, err := daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: tokenID})

			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr, "the start-up fails")
			assert.Equal(t, daemonauth.ErrTypeTokenRejected, appErr.Type(), "failure type")
			assert.True(t, appErr.NonRetryable(), "the failure is non-retryable")
			assert.Contains(t, appErr.Message(), "token "+tokenID+" "+tc.want, "the failure names the token and the reason")
			assert.Contains(t, appErr.Message(), "run `multica login` to log in again", "the failure names the fix")
			assert.Equal(t, daemonauth.OutcomeRejected, result.Renewal.Outcome, "renewal outcome in the partial result")
			assert.Equal(t, tc.reason, result.Renewal.Error, "reason in the partial result")
			assert.True(t, result.NeedsRelogin, "needs_relogin")

			after := readTableState(t, ctx, pool, tokenID)
			assert.Equal(t, 0, after.daemons, "daemon rows")
			assert.Equal(t, 0, after.daemonWorkspaces, "daemon_workspace rows")
			assert.Equal(t, 0, after.extensions, "token_extension rows")
			assert.Equal(t, before.token, after.token, "the token row is unchanged")

			status := waitForRejectedRenewal(t, ctx, c, daemonID)
			recordFigure("rejection."+tc.name, fmt.Sprintf(
				"TokenRejected (%s); rows written: daemon %d, daemon_workspace %d, token_extension %d; token row unchanged: %t; "+
					"a TokenRenewal still runs for it with needs_relogin=%t",
				result.Renewal.Error, after.daemons, after.daemonWorkspaces, after.extensions, before.token == after.token, status.NeedsRelogin))
		})
	}
}

// randomUUID returns a random version 4 UUID, which no token has.
func randomUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// waitForRejectedRenewal waits for the TokenRenewal that a rejected
// start-up leaves running to report the rejection.
func waitForRejectedRenewal(t *testing.T, ctx context.Context, c client.Client, daemonID string) daemonauth.RenewalStatus {
	t.Helper()
	var status daemonauth.RenewalStatus
	require.Eventually(t, func() bool {
		var err error
		status, err = daemonclient.RenewalStatus(ctx, c, daemonID)
		return err == nil && status.NeedsRelogin
	}, 30*time.Second, 100*time.Millisecond, "the renewal of %s reports needs_relogin", daemonID)
	return status
}

// TestRejectedStartupAfterUserDeleted starts a daemon, deletes its user and
// starts it again. The rejected sync writes nothing, so it also removes
// nothing: the test records what the tables keep.
func TestRejectedStartupAfterUserDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := server.Client()
	pool, databaseURL := testenv.NewDatabase(t)
	taskQueue := uniqueName("rejected-later")
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		env:             []string{spareMetricsPort},
	})
	waitForPolling(t, ctx, c, taskQueue, worker)
	userID := seedUser(t, ctx, pool, "leaver@example.com")
	token := issueTokens(t, ctx, pool, userID, 1, inWindow)[0]
	daemonID := uniqueName("rejected-later")
	t.Cleanup(func() { terminateRenewal(t, c, daemonID) })

	first, err := daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: token.ID})
	require.NoError(t, err, "first start-up")
	require.Equal(t, daemonauth.OutcomeRenewed, first.Renewal.Outcome, "the first start-up renews the token")
	require.Equal(t, 2, registeredWorkspaces(t, ctx, pool, daemonID), "the first start-up registers both workspaces")

	_, err = pool.Exec(ctx, `DELETE FROM "user" WHERE id = $1`, userID)
	require.NoError(t, err, "delete the user")
	_, err = daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: token.ID})

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "the second start-up fails")
	assert.Equal(t, daemonauth.ErrTypeTokenRejected, appErr.Type(), "failure type")
	state := readTableState(t, ctx, pool, token.ID)
	var daemonTokenID *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT token_id::text FROM daemon WHERE id = $1`, daemonID).Scan(&daemonTokenID))

	assert.Equal(t, 1, state.daemons, "the daemon row stays")
	assert.Nil(t, daemonTokenID, "daemon.token_id is set to NULL by the foreign key")
	assert.Equal(t, 2, state.daemonWorkspaces, "the daemon stays registered for the workspaces of the deleted user")
	assert.Equal(t, 1, state.extensions, "the audit row of the first renewal outlives the token")
	assert.Empty(t, state.token, "the token row is deleted with the user")
	recordFigure("rejection.user deleted after a start-up", fmt.Sprintf(
		"TokenRejected; daemon row kept with token_id NULL, %d daemon_workspace rows kept, token_extension rows %d (kept as the audit trail)",
		state.daemonWorkspaces, state.extensions))
}

// TestTokenOfAnotherUserNotRejected starts a daemon with user A's token,
// then with user B's. Nothing ties a daemon to a user, so today the second
// start-up moves the daemon to B's workspaces and its renewal to B's
// token. The test pins that behaviour and records it.
func TestTokenOfAnotherUserNotRejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := server.Client()
	pool, databaseURL := testenv.NewDatabase(t)
	taskQueue := uniqueName("other-user")
	worker := startWorker(t, workerSettings{
		temporalAddress: server.FrontendHostPort(),
		databaseURL:     databaseURL,
		taskQueue:       taskQueue,
		env:             []string{spareMetricsPort},
	})
	waitForPolling(t, ctx, c, taskQueue, worker)
	userA := seedUser(t, ctx, pool, "a@example.com")
	userB := seedUser(t, ctx, pool, "b@example.com")
	tokenA := issueTokens(t, ctx, pool, userA, 1, notDue)[0]
	tokenB := issueTokens(t, ctx, pool, userB, 1, notDue)[0]
	daemonID := uniqueName("other-user")
	t.Cleanup(func() { terminateRenewal(t, c, daemonID) })

	first, err := daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: tokenA.ID})
	require.NoError(t, err, "start-up with A's token")
	require.Equal(t, 2, first.WorkspacesAdded, "A's two workspaces")
	tokenABefore := readTableState(t, ctx, pool, tokenA.ID).token

	second, err := daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: tokenB.ID})

	require.NoError(t, err, "start-up with B's token succeeds")
	assert.Equal(t, 2, second.WorkspacesAdded, "B's workspaces are added")
	assert.Equal(t, 2, second.WorkspacesRemoved, "A's workspaces are removed")
	assert.False(t, second.NeedsRelogin, "needs_relogin")
	var daemonTokenID string
	require.NoError(t, pool.QueryRow(ctx, `SELECT token_id::text FROM daemon WHERE id = $1`, daemonID).Scan(&daemonTokenID))
	assert.Equal(t, tokenB.ID, daemonTokenID, "the daemon row now names B's token")
	var workspacesOfB int
	require.NoError(t, pool.QueryRow(ctx, `
SELECT count(*) FROM daemon_workspace AS d
JOIN member AS m ON m.workspace_id = d.workspace_id AND m.user_id = $2
WHERE d.daemon_id = $1`, daemonID, userB).Scan(&workspacesOfB))
	assert.Equal(t, 2, workspacesOfB, "every registration is one of B's workspaces")
	assert.Equal(t, 2, registeredWorkspaces(t, ctx, pool, daemonID), "no registration of A's is left")
	assert.Equal(t, tokenABefore, readTableState(t, ctx, pool, tokenA.ID).token, "A's token row is unchanged")

	var status daemonauth.RenewalStatus
	require.Eventually(t, func() bool {
		status, err = daemonclient.RenewalStatus(ctx, c, daemonID)
		return err == nil && status.TokenID == tokenB.ID
	}, 30*time.Second, 100*time.Millisecond, "the renewal follows B's token")

	warnings := strings.Count(worker.logTail(1<<20), `"level":"WARN"`)
	assert.Equal(t, 0, warnings, "the change of owner is not logged as a warning")
	recordFigure("rejection.token of another user", fmt.Sprintf(
		"accepted: daemon moved from A's to B's workspaces (added %d, removed %d), daemon.token_id and the renewal now follow B's token; "+
			"%d warnings logged", second.WorkspacesAdded, second.WorkspacesRemoved, warnings))
}
