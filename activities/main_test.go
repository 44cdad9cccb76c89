package activities_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/activities"
	"daemonauth/internal/seed"
	"daemonauth/internal/testenv"
)

// TestMain runs the package's tests against a throwaway PostgreSQL cluster.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithPostgres(m))
}

// testPolicy equals the production default, which extends a token with 7
// days or less left to 90 days from now.
var testPolicy = activities.Policy{Extension: 90 * 24 * time.Hour, Threshold: 7 * 24 * time.Hour}

// clockTolerance bounds the gap between the database's now() inside a
// statement under test and the now() a test reads right after it.
const clockTolerance = 5 * time.Second

// newStore creates a fresh database and a Store on it with testPolicy.
func newStore(t *testing.T) (*activities.Store, *pgxpool.Pool) {
	t.Helper()
	pool, _ := testenv.NewDatabase(t)
	store, err := activities.NewStore(pool, testPolicy)
	require.NoError(t, err, "NewStore must accept the default policy")
	return store, pool
}

// newUser creates a user and returns its id.
func newUser(t *testing.T, pool *pgxpool.Pool, email string) string {
	t.Helper()
	userID, err := seed.EnsureUser(t.Context(), pool, "Test User", email)
	require.NoError(t, err, "seed user %s", email)
	return userID
}

// newWorkspace creates a workspace, makes the user a member with role and
// returns the workspace id.
func newWorkspace(t *testing.T, pool *pgxpool.Pool, userID, slug, role string) string {
	t.Helper()
	workspaceID, err := seed.EnsureWorkspace(t.Context(), pool, "Workspace "+slug, slug)
	require.NoError(t, err, "seed workspace %s", slug)
	require.NoError(t, seed.AddMember(t.Context(), pool, workspaceID, userID, role), "seed membership in %s", slug)
	return workspaceID
}

// issueToken stores a token for the user and returns its id. expiresIn is
// counted from the database's now(), and nil issues a token that never
// expires.
func issueToken(t *testing.T, pool *pgxpool.Pool, userID string, expiresIn *time.Duration, revoked bool) string {
	t.Helper()
	token, err := seed.IssueToken(t.Context(), pool, seed.TokenSpec{
		UserID:    userID,
		Name:      "test daemon",
		ExpiresIn: expiresIn,
		Revoked:   revoked,
	})
	require.NoError(t, err, "seed token")
	return token.ID
}

// randomUUID returns a UUID that no row uses.
func randomUUID(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT gen_random_uuid()::text`).Scan(&id), "generate a UUID")
	return id
}

// dbNow returns the database clock, which every expiry is computed from.
func dbNow(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT now()`).Scan(&now), "read the database clock")
	return now
}

// tokenRow is the part of a personal_access_token row that renewal touches.
type tokenRow struct {
	ExpiresAt *time.Time
	Revoked   bool
}

// readToken returns the token's row, and false when there is none.
func readToken(t *testing.T, pool *pgxpool.Pool, tokenID string) (tokenRow, bool) {
	t.Helper()
	var row tokenRow
	err := pool.QueryRow(t.Context(),
		`SELECT expires_at, revoked FROM personal_access_token WHERE id = $1`, tokenID,
	).Scan(&row.ExpiresAt, &row.Revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return tokenRow{}, false
	}
	require.NoError(t, err, "read token %s", tokenID)
	return row, true
}

// mustReadToken returns the token's row and fails the test when it is missing.
func mustReadToken(t *testing.T, pool *pgxpool.Pool, tokenID string) tokenRow {
	t.Helper()
	row, found := readToken(t, pool, tokenID)
	require.True(t, found, "token %s must exist", tokenID)
	return row
}

// extensionRow is one token_extension audit row.
type extensionRow struct {
	TokenID      string
	OldExpiresAt time.Time
	NewExpiresAt time.Time
	WorkflowID   string
	RunID        string
	ActivityID   string
}

// readExtensions returns every audit row of the test's database, oldest
// first. Each test has its own database, so these are the test's rows.
func readExtensions(t *testing.T, pool *pgxpool.Pool) []extensionRow {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
SELECT token_id::text, old_expires_at, new_expires_at, workflow_id, run_id, activity_id
FROM token_extension
ORDER BY id`)
	require.NoError(t, err, "read token_extension")
	extensions, err := pgx.CollectRows(rows, pgx.RowToStructByPos[extensionRow])
	require.NoError(t, err, "read token_extension")
	return extensions
}

// assertSameTime asserts that two timestamps are the same instant,
// whatever their location.
func assertSameTime(t *testing.T, expected, actual time.Time, msgAndArgs ...any) {
	t.Helper()
	assert.Equal(t, expected.UTC(), actual.UTC(), msgAndArgs...)
}
