//go:build reliability

package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

var nameCount atomic.Int64

// uniqueName returns prefix with a suffix that no other call in this run
// returns. Task queues and daemon ids take it, so runs with -count above 1
// never meet the workflows of an earlier iteration on the shared server.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameCount.Add(1))
}

// seedUser creates a user who is a member of two workspaces and returns
// the user's id. The email must be unique in the database.
func seedUser(t *testing.T, ctx context.Context, pool *pgxpool.Pool, email string) string {
	t.Helper()
	userID, err := seed.EnsureUser(ctx, pool, "Reliability", email)
	require.NoError(t, err, "create user %s", email)
	for _, slug := range []string{"alpha", "beta"} {
		workspaceSlug := fmt.Sprintf("%s-%s", slug, userID[:8])
		workspaceID, err := seed.EnsureWorkspace(ctx, pool, workspaceSlug, workspaceSlug)
		require.NoError(t, err, "create workspace %s", workspaceSlug)
		require.NoError(t, seed.AddMember(ctx, pool, workspaceID, userID, "member"), "add %s to %s", email, workspaceSlug)
	}
	return userID
}

// issueTokens issues count tokens of the user that expire after expiresIn,
// eight at a time.
func issueTokens(t *testing.T, ctx context.Context, pool *pgxpool.Pool, userID string, count int, expiresIn time.Duration) []seed.Token {
	t.Helper()
	tokens := make([]seed.Token, count)
	errs := make([]error, count)
	limit := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range count {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			tokens[i], errs[i] = seed.IssueToken(ctx, pool, seed.TokenSpec{
				UserID: userID, Name: fmt.Sprintf("reliability-%d", i), ExpiresIn: &expiresIn,
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "issue token %d", i)
	}
	return tokens
}

// inWindow is a token lifetime inside the default 7-day renewal window, so
// a start-up renews the token.
const inWindow = 3 * 24 * time.Hour

// notDue is a token lifetime outside the renewal window.
const notDue = 60 * 24 * time.Hour

// extension is one token_extension row.
type extension struct {
	TokenID      string
	WorkflowID   string
	ActivityID   string
	NewExpiresAt time.Time
	// ExtendedAt is the database's now() in the extending transaction.
	ExtendedAt time.Time
}

// readExtensions returns every token_extension row, grouped by token id.
func readExtensions(t *testing.T, ctx context.Context, pool *pgxpool.Pool) map[string][]extension {
	t.Helper()
	rows, err := pool.Query(ctx, `
SELECT token_id::text, workflow_id, activity_id, new_expires_at, extended_at
FROM token_extension
ORDER BY id`)
	require.NoError(t, err, "read token_extension")
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[extension])
	require.NoError(t, err, "read token_extension")
	byToken := map[string][]extension{}
	for _, row := range list {
		byToken[row.TokenID] = append(byToken[row.TokenID], row)
	}
	return byToken
}

// tokenExpiresAt returns the token's expires_at.
func tokenExpiresAt(t *testing.T, ctx context.Context, pool *pgxpool.Pool, tokenID string) time.Time {
	t.Helper()
	var expiresAt time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT expires_at FROM personal_access_token WHERE id = $1`, tokenID).Scan(&expiresAt),
		"read expires_at of token %s", tokenID)
	return expiresAt
}

// registeredWorkspaces returns how many workspaces the daemon is
// registered for.
func registeredWorkspaces(t *testing.T, ctx context.Context, pool *pgxpool.Pool, daemonID string) int {
	t.Helper()
	var count int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM daemon_workspace WHERE daemon_id = $1`, daemonID).Scan(&count),
		"count the workspaces of daemon %s", daemonID)
	return count
}

// startupOutcome is how one DaemonStartup ended.
type startupOutcome struct {
	Input  daemonauth.DaemonStartupInput
	Result daemonauth.DaemonStartupResult
	Err    error
	// Finished is when the result arrived.
	Finished time.Time
	// RequestRetries counts the requests repeated after the request
	// itself, not the workflow, failed.
	RequestRetries int
}

// runStartups runs every start-up at once, each in its own goroutine, and
// returns their outcomes in input order once all have ended.
func runStartups(ctx context.Context, c client.Client, taskQueue string, inputs []daemonauth.DaemonStartupInput) []startupOutcome {
	outcomes := make([]startupOutcome, len(inputs))
	var wg sync.WaitGroup
	for i, input := range inputs {
		wg.Go(func() { outcomes[i] = runStartup(ctx, c, taskQueue, input) })
	}
	wg.Wait()
	return outcomes
}

// maxRequestAttempts bounds runStartup's attempts at a request that fails.
const maxRequestAttempts = 3

// runStartup runs one start-up as a daemon that retries would. A request
// can fail while the workflow does not, for example when the SDK's
// 10-second limit on the start call passes while the dev server is
// saturated. runStartup then waits for the workflow if the server has it,
// and requests the start-up again if not.
func runStartup(ctx context.Context, c client.Client, taskQueue string, input daemonauth.DaemonStartupInput) startupOutcome {
	outcome := startupOutcome{Input: input}
	workflowID := daemonauth.StartupWorkflowID(input.DaemonID)
	for attempt := 1; ; attempt++ {
		if attempt == 1 || !workflowExists(ctx, c, workflowID) {
			outcome.Result, outcome.Err = daemonclient.StartDaemon(ctx, c, taskQueue, input)
		} else {
			outcome.Err = c.GetWorkflow(ctx, workflowID, "").Get(ctx, &outcome.Result)
		}
		var workflowErr *temporal.WorkflowExecutionError
		if outcome.Err == nil || errors.As(outcome.Err, &workflowErr) || attempt == maxRequestAttempts || ctx.Err() != nil {
			outcome.Finished = time.Now()
			return outcome
		}
		outcome.RequestRetries++
	}
}

// workflowExists reports whether the server has a run of workflowID.
func workflowExists(ctx context.Context, c client.Client, workflowID string) bool {
	_, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	return err == nil
}
