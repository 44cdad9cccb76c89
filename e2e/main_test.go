package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"daemonauth/internal/config"
	"daemonauth/internal/devenv"
	"daemonauth/internal/logging"
	"daemonauth/internal/seed"
	"daemonauth/internal/testenv"
	"daemonauth/internal/workerapp"
)

// server is the Temporal dev server shared by every test in the package,
// with its Web UI on uiPort.
var (
	server *testsuite.DevServer
	uiPort int
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every worker binary a test starts would otherwise serve metrics on
	// the default 127.0.0.1:9464, and two at once would collide. Tests that
	// scrape metrics set their own address.
	os.Setenv("DAEMONAUTH_METRICS_ADDRESS", "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	if uiPort, err = devenv.FreePort(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	server, err = devenv.StartTemporal(ctx, devenv.TemporalOptions{UIPort: uiPort})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start Temporal for the tests: %v\n", err)
		return 1
	}
	defer server.Stop()
	return testenv.RunWithPostgres(m)
}

// lockedBuffer is a bytes.Buffer safe for the worker's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stack is one test's worker, database and client.
type stack struct {
	cfg    config.Config
	pool   *pgxpool.Pool
	dbURL  string
	client client.Client
	logs   *lockedBuffer
}

// startStack gives the test its own database and task queue and runs the
// real worker on them until the test ends.
func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, nil)
}

// startStackWith is startStack with the renewal settings replaced, when
// renewal is not nil.
func startStackWith(t *testing.T, renewal *config.Renewal) *stack {
	t.Helper()
	pool, dbURL := testenv.NewDatabase(t)
	cfg := config.Config{
		Temporal: config.Temporal{
			Address:   server.FrontendHostPort(),
			Namespace: "default",
			TaskQueue: "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
		},
		Database: config.Database{URL: dbURL},
		Renewal: config.Renewal{
			Extension:    90 * 24 * time.Hour,
			Threshold:    7 * 24 * time.Hour,
			Interval:     7 * 24 * time.Hour,
			MinInterval:  time.Hour,
			Jitter:       6 * time.Hour,
			MaxRejected:  14 * 24 * time.Hour,
			MaxIdle:      30 * 24 * time.Hour,
			CyclesPerRun: 100,
		},
		Log:          config.Log{Level: "debug", Format: "json"},
		LoginCommand: "multica login",
	}
	if renewal != nil {
		cfg.Renewal = *renewal
	}
	require.NoError(t, cfg.Validate(), "test configuration")

	logs := &lockedBuffer{}
	logger := logging.New(logs, "json", slog.LevelDebug)
	ctx := context.Background()
	c, err := workerapp.DialTemporal(ctx, cfg, logging.Temporal(logger))
	require.NoError(t, err, "connect to the dev server")
	t.Cleanup(c.Close)

	w, err := workerapp.New(ctx, cfg, pool, c)
	require.NoError(t, err, "create the worker")
	require.NoError(t, w.Start(), "start the worker")
	t.Cleanup(w.Stop)

	return &stack{cfg: cfg, pool: pool, dbURL: dbURL, client: c, logs: logs}
}

// seedUser creates a user who is a member of two workspaces.
func (s *stack) seedUser(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	userID, err := seed.EnsureUser(ctx, s.pool, "Ada", "ada@example.com")
	require.NoError(t, err)
	for _, slug := range []string{"alpha", "beta"} {
		workspaceID, err := seed.EnsureWorkspace(ctx, s.pool, strings.ToUpper(slug), slug)
		require.NoError(t, err)
		require.NoError(t, seed.AddMember(ctx, s.pool, workspaceID, userID, "member"))
	}
	return userID
}

func (s *stack) issueToken(t *testing.T, userID string, spec seed.TokenSpec) seed.Token {
	t.Helper()
	spec.UserID = userID
	if spec.Name == "" {
		spec.Name = "e2e"
	}
	token, err := seed.IssueToken(context.Background(), s.pool, spec)
	require.NoError(t, err)
	return token
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
