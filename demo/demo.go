package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/seed"
	"daemonauth/migrations"
)

// outcome is one demo daemon's start-up, as printed in the table.
type outcome struct {
	daemon seed.DemoDaemon
	result daemonauth.DaemonStartupResult
	err    error
}

// runDemo brings the services up, runs the start-ups, prints the table and
// tears everything down. It returns whether every outcome was expected.
func runDemo(ctx context.Context, opts options, out io.Writer) (bool, error) {
	if _, err := os.Stat(opts.workerBin); err != nil {
		return false, fmt.Errorf("worker binary %s not found: run `make build` first", opts.workerBin)
	}
	logDir, err := os.MkdirTemp("", "daemonauth-demo-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(logDir)

	step(out, "Starting a throwaway PostgreSQL on 127.0.0.1")
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Database: "daemonauth"})
	if err != nil {
		return false, err
	}
	defer pg.Stop()
	databaseURL := pg.URL("daemonauth")

	step(out, "Starting the Temporal dev server on 127.0.0.1:%d, Web UI on 127.0.0.1:%d", opts.temporalPort, opts.uiPort)
	serverLog, err := os.Create(filepath.Join(logDir, "temporal.log"))
	if err != nil {
		return false, err
	}
	defer serverLog.Close()
	server, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{Port: opts.temporalPort, UIPort: opts.uiPort, Output: serverLog})
	if err != nil {
		return false, fmt.Errorf("%w (is another server using port %d? pick others with --temporal-port and --ui-port)", err, opts.temporalPort)
	}
	defer server.Stop()
	temporalAddress := server.FrontendHostPort()

	step(out, "Applying migrations and creating demo data")
	daemons, err := prepareDatabase(ctx, databaseURL)
	if err != nil {
		return false, err
	}

	step(out, "Starting the worker (log: %s)", filepath.Join(logDir, "worker.log"))
	workerLog := filepath.Join(logDir, "worker.log")
	worker, err := startWorker(opts.workerBin, workerLog, temporalAddress, databaseURL)
	if err != nil {
		return false, err
	}
	defer stopWorker(worker)

	step(out, "Running DaemonStartup for %d daemons", len(daemons))
	outcomes := startDaemons(ctx, server.Client(), daemons)

	fmt.Fprintln(out)
	writeOutcomes(out, outcomes)
	writeWarnings(out, workerLog)
	cli := relativeToWorkingDir(mustFindCLI())
	writeNeedsRelogin(ctx, out, cli, temporalAddress, daemonauth.RenewalWorkflowID(daemons[len(daemons)-1].DaemonID))

	fmt.Fprintf(out, "\nWeb UI:   http://127.0.0.1:%d/namespaces/default/workflows\n", opts.uiPort)
	fmt.Fprintf(out, "History:  %s workflow show --address %s --workflow-id %s --output json\n",
		cli, temporalAddress, daemonauth.StartupWorkflowID(daemons[len(daemons)-1].DaemonID))
	fmt.Fprintf(out, "Database: %s\n", databaseURL)
	fmt.Fprintf(out, "Starter:  DAEMONAUTH_DATABASE_URL='%s' TEMPORAL_ADDRESS=%s bin/starter status --daemon-id %s\n",
		databaseURL, temporalAddress, daemons[0].DaemonID)

	ok := allExpected(outcomes)
	if !ok {
		fmt.Fprintln(out, "\nSome outcomes were not the expected ones; see the worker log above.")
		printFile(out, workerLog)
	}
	if opts.once {
		return ok, nil
	}

	fmt.Fprintln(out, "\nEverything stays up until Ctrl-C.")
	<-ctx.Done()
	step(out, "Stopping the worker, the Temporal dev server and PostgreSQL")
	return ok, nil
}

func prepareDatabase(ctx context.Context, databaseURL string) ([]seed.DemoDaemon, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	if err := migrations.Up(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	return seed.Demo(ctx, pool)
}

// workerProcess is the worker binary running as a child process.
type workerProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startWorker(workerBin, logPath, temporalAddress, databaseURL string) (*workerProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+temporalAddress,
		"TEMPORAL_NAMESPACE=default",
		"DAEMONAUTH_DATABASE_URL="+databaseURL,
		// Any free port, so a demo never collides with a worker already
		// serving metrics on the default one.
		"DAEMONAUTH_METRICS_ADDRESS=127.0.0.1:0",
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The worker must not outlive the demo, even if the demo is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}

	worker := &workerProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(worker.exited)
	}()
	return worker, nil
}

// stopWorker sends the worker SIGTERM and kills it if it has not exited
// within 15 seconds.
func stopWorker(worker *workerProcess) {
	worker.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-worker.exited:
	case <-time.After(15 * time.Second):
		worker.cmd.Process.Kill()
		<-worker.exited
	}
}

// startDaemons runs the start-ups concurrently, as a fleet of daemons
// booting at once would.
func startDaemons(ctx context.Context, c client.Client, daemons []seed.DemoDaemon) []outcome {
	outcomes := make([]outcome, len(daemons))
	var wg sync.WaitGroup
	for i, d := range daemons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			input := daemonauth.DaemonStartupInput{DaemonID: d.DaemonID, TokenID: d.Token.ID, Profile: d.Profile}
			result, err := daemonclient.StartDaemon(ctx, c, daemonauth.DefaultTaskQueue, input)
			outcomes[i] = outcome{daemon: d, result: result, err: err}
		}()
	}
	wg.Wait()
	return outcomes
}

func writeOutcomes(out io.Writer, outcomes []outcome) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAEMON\tRENEWAL\tNEEDS LOGIN\tWORKSPACES\tEXPECTED")
	for _, o := range outcomes {
		login := "no"
		if o.result.NeedsRelogin {
			login = "yes: " + o.result.LoginHint
		}
		workspaces := describeWorkspaces(o.result.Workspaces)
		var appErr *temporal.ApplicationError
		switch {
		case errors.As(o.err, &appErr) && appErr.Type() == daemonauth.ErrTypeTokenRejected:
			workspaces = "sync failed: token rejected"
		case o.err != nil:
			workspaces = "start-up failed: " + rootCause(o.err)
		}
		renewal := daemonclient.DescribeRenewal(o.result.Renewal)
		if o.result.DaemonID == "" {
			renewal = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.daemon.DaemonID, renewal, login, workspaces, expectedMark(o))
	}
	tw.Flush()
}

func describeWorkspaces(workspaces []daemonauth.Workspace) string {
	if len(workspaces) == 0 {
		return "none"
	}
	slugs := make([]string, 0, len(workspaces))
	for _, ws := range workspaces {
		slugs = append(slugs, ws.Slug)
	}
	return strings.Join(slugs, ", ")
}

// rootCause returns the innermost message of a workflow failure, which
// describes what went wrong.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func expectedMark(o outcome) string {
	if o.result.Renewal.Outcome == o.daemon.Expected {
		return "yes (" + o.daemon.Expected + ")"
	}
	return "NO, expected " + o.daemon.Expected
}

func allExpected(outcomes []outcome) bool {
	for _, o := range outcomes {
		if o.result.Renewal.Outcome != o.daemon.Expected {
			return false
		}
		// Only the revoked daemon's start-up may fail, and only because
		// its token was rejected.
		if (o.err != nil) != (o.daemon.Expected == daemonauth.OutcomeRejected) {
			return false
		}
	}
	return true
}

// writeWarnings prints the warnings the worker logged, which is where an
// operator learns that a daemon must log in again.
func writeWarnings(out io.Writer, logPath string) {
	file, err := os.Open(logPath)
	if err != nil {
		return
	}
	defer file.Close()

	var warnings []string
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		if strings.Contains(scanner.Text(), "level=WARN") {
			warnings = append(warnings, scanner.Text())
		}
	}
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintln(out, "\nWorker warnings:")
	for _, line := range warnings {
		fmt.Fprintln(out, "  "+line)
	}
}

func printFile(out io.Writer, path string) {
	content, err := os.ReadFile(path)
	if err == nil {
		fmt.Fprintf(out, "\n--- %s ---\n%s", path, content)
	}
}

// needsReloginQuery lists running renewals whose token is rejected. Closed
// runs, such as those that continued as new, keep their last values, so
// the status filter matters.
const needsReloginQuery = `NeedsRelogin = true AND ExecutionStatus = "Running"`

// writeNeedsRelogin runs the list query that finds every daemon whose
// operator must log in again, and prints it with its output. Visibility
// can lag a moment behind the workflow, so it polls until expected shows.
func writeNeedsRelogin(ctx context.Context, out io.Writer, cli, address, expected string) {
	args := []string{"workflow", "list", "--address", address, "--query", needsReloginQuery}
	fmt.Fprintf(out, "\nDaemons that must log in again:\n  $ %s workflow list --address %s --query '%s'\n", cli, address, needsReloginQuery)

	deadline := time.Now().Add(15 * time.Second)
	for {
		output, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		if err == nil && strings.Contains(string(output), expected) || time.Now().After(deadline) || ctx.Err() != nil {
			for _, line := range strings.Split(strings.TrimRight(string(output), "\n"), "\n") {
				fmt.Fprintln(out, "  "+line)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustFindCLI() string {
	path, err := devenv.FindTemporalCLI()
	if err != nil {
		return "temporal"
	}
	return path
}

func relativeToWorkingDir(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
