// Package record re-records the workflow histories that the replay tests
// replay. It runs every outcome path of DaemonStartup and TokenRenewal on a
// throwaway Temporal dev server and PostgreSQL with the real worker, then
// exports each history as `temporal workflow show --output json` prints it.
//
// Every path is driven through configuration and the database, never by
// changing code: a 2-second renewal interval, three cycles per run, and a
// 1-second statement timeout that turns a held table lock into a transient
// database failure.
package record

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"daemonauth"
	"daemonauth/internal/config"
	"daemonauth/internal/devenv"
	"daemonauth/internal/logging"
	"daemonauth/internal/seed"
	"daemonauth/internal/workerapp"
	"daemonauth/migrations"
)

// Settings of the recording worker. The statement timeout bounds how long a
// statement waits for a lock the recorder holds.
const (
	renewalInterval  = 2 * time.Second
	cyclesPerRun     = 3
	statementTimeout = "1000"
	taskQueue        = daemonauth.DefaultTaskQueue
)

// Recorder drives the scenarios and exports their histories.
type Recorder struct {
	outDir   string
	log      io.Writer
	cli      string
	server   *testsuite.DevServer
	pool     *pgxpool.Pool
	client   client.Client
	userID   string
	exported []string
}

// Run records every scenario into outDir and returns the files written.
// Progress goes to log.
func Run(ctx context.Context, outDir string, log io.Writer) ([]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	cli, err := devenv.FindTemporalCLI()
	if err != nil {
		return nil, err
	}
	r := &Recorder{outDir: outDir, log: log, cli: cli}

	fmt.Fprintln(log, "==> Starting PostgreSQL and the Temporal dev server")
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Database: "daemonauth"})
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	r.server, err = devenv.StartTemporal(ctx, devenv.TemporalOptions{})
	if err != nil {
		return nil, err
	}
	defer r.server.Stop()

	databaseURL := pg.URL("daemonauth") + "&statement_timeout=" + url.QueryEscape(statementTimeout)
	r.pool, err = pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer r.pool.Close()
	if err := migrations.Up(ctx, r.pool, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	if err := r.seedUser(ctx); err != nil {
		return nil, err
	}

	stopWorker, err := r.startWorker(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer stopWorker()

	for _, scenario := range scenarios {
		fmt.Fprintf(log, "==> %s\n", scenario.name)
		if err := scenario.run(ctx, r); err != nil {
			return r.exported, fmt.Errorf("scenario %q: %w", scenario.name, err)
		}
	}
	return r.exported, nil
}

func (r *Recorder) seedUser(ctx context.Context) error {
	userID, err := seed.EnsureUser(ctx, r.pool, "Recorder", "recorder@example.com")
	if err != nil {
		return err
	}
	for _, slug := range []string{"alpha", "beta"} {
		workspaceID, err := seed.EnsureWorkspace(ctx, r.pool, "Workspace "+slug, slug)
		if err != nil {
			return err
		}
		if err := seed.AddMember(ctx, r.pool, workspaceID, userID, "member"); err != nil {
			return err
		}
	}
	r.userID = userID
	return nil
}

func (r *Recorder) startWorker(ctx context.Context, databaseURL string) (func(), error) {
	cfg := config.Config{
		Temporal: config.Temporal{Address: r.server.FrontendHostPort(), Namespace: "default", TaskQueue: taskQueue},
		Database: config.Database{URL: databaseURL},
		Renewal: config.Renewal{
			Extension:    activitiesExtension,
			Threshold:    activitiesThreshold,
			Interval:     renewalInterval,
			MinInterval:  renewalInterval / 2,
			CyclesPerRun: cyclesPerRun,
		},
		Log:          config.Log{Level: "warn", Format: "text"},
		LoginCommand: daemonauth.DefaultLoginCommand,
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := logging.New(r.log, "text", slog.LevelError)
	// A fixed identity keeps the host name and process id out of the
	// committed histories.
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Identity:  "history-recorder",
		Logger:    logging.Temporal(logger),
	})
	if err != nil {
		return nil, err
	}
	r.client = c

	w, err := workerapp.New(ctx, cfg, r.pool, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := w.Start(); err != nil {
		c.Close()
		return nil, err
	}
	return func() {
		w.Stop()
		c.Close()
	}, nil
}

// issueToken issues a token for the recorder's user.
func (r *Recorder) issueToken(ctx context.Context, spec seed.TokenSpec) (seed.Token, error) {
	spec.UserID = r.userID
	if spec.Name == "" {
		spec.Name = "recorded"
	}
	return seed.IssueToken(ctx, r.pool, spec)
}

// export writes one run's history to outDir/name.json.
func (r *Recorder) export(ctx context.Context, name, workflowID, runID string) error {
	path := filepath.Join(r.outDir, name+".json")
	if err := exportHistory(ctx, r.cli, r.server.FrontendHostPort(), workflowID, runID, path); err != nil {
		return err
	}
	r.exported = append(r.exported, path)
	fmt.Fprintf(r.log, "    wrote %s\n", path)
	return nil
}
