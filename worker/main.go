// Command worker runs the daemon-auth Temporal worker: it polls the task
// queue for DaemonStartup and TokenRenewal workflows and their activities.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"daemonauth/internal/config"
	"daemonauth/internal/logging"
	"daemonauth/internal/metrics"
	"daemonauth/internal/workerapp"
	"daemonauth/migrations"
)

const usage = `Usage: worker [flags]

Runs the daemon-auth Temporal worker until SIGINT or SIGTERM, and serves
Prometheus metrics at http://127.0.0.1:9464/metrics unless told otherwise.

The Temporal connection is read as the temporal CLI reads it: the profile
named by TEMPORAL_PROFILE (default "default") in the file named by
TEMPORAL_CONFIG_FILE (default ~/.config/temporalio/temporal.toml), with
TEMPORAL_API_KEY and TEMPORAL_TLS_* on top. The config file, TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, --temporal-address and --namespace override the
profile's address and namespace.

Examples:
  TEMPORAL_ADDRESS=127.0.0.1:7233 \
  DAEMONAUTH_DATABASE_URL='postgres://app@127.0.0.1:5432/app?sslmode=disable' \
  worker --migrate --register-search-attributes

  # a namespace with mTLS, from a profile written by "temporal config set"
  TEMPORAL_PROFILE=prod worker --metrics-address 127.0.0.1:9464

Flags:
`

// helpHint ends every usage error.
const helpHint = "Run \"worker --help\" for usage.\n"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the worker with the command line args and returns the exit
// status: 0 after a clean stop, 1 when the worker failed, 2 for a usage
// error. Requested help goes to stdout. Errors and logs go to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	// pflag calls Usage on --help and -h, and its default writes to
	// stderr. run prints the requested help itself, to stdout.
	fs.Usage = func() {}
	config.AddFlags(fs)
	migrate := fs.Bool("migrate", false, "apply pending database migrations before starting")
	registerSearchAttributes := fs.Bool("register-search-attributes", false,
		"add the DaemonId, TokenExpiresAt and NeedsRelogin search attributes to the namespace if missing")
	fs.String("metrics-address", "", "host:port to serve Prometheus metrics on, at /metrics; an empty value serves none "+
		"(env DAEMONAUTH_METRICS_ADDRESS; default 127.0.0.1:9464)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage, fs.FlagUsages())
			return 0
		}
		fmt.Fprintf(stderr, "worker: %v\n%s", err, helpHint)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "worker: unexpected argument %q\n%s", fs.Arg(0), helpHint)
		return 2
	}

	cfg, err := config.Load(fs)
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	logger := logging.New(stderr, cfg.Log.Format, cfg.LogLevel())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var appOptions []workerapp.Option
	if cfg.Metrics.Address != "" {
		m, stopMetrics, err := serveMetrics(ctx, cfg.Metrics.Address, logger)
		if err != nil {
			logger.Error("Worker not started", "error", err)
			return 1
		}
		defer stopMetrics()
		appOptions = append(appOptions, workerapp.WithMetrics(m))
	}

	pool, err := workerapp.Connect(ctx, cfg)
	if err != nil {
		logger.Error("Worker not started", "error", err)
		return 1
	}
	defer pool.Close()

	if *migrate {
		if err := migrations.Up(ctx, pool, logger); err != nil {
			logger.Error("Worker not started", "error", err)
			return 1
		}
	}

	temporalClient, err := workerapp.DialTemporal(ctx, cfg, logging.Temporal(logger), appOptions...)
	if err != nil {
		logger.Error("Worker not started", "error", err)
		return 1
	}
	defer temporalClient.Close()

	if *registerSearchAttributes {
		added, err := workerapp.RegisterSearchAttributes(ctx, temporalClient, cfg.Temporal.Namespace)
		if err != nil {
			logger.Error("Worker not started", "error", err)
			return 1
		}
		if len(added) > 0 {
			logger.Info("Search attributes registered", "namespace", cfg.Temporal.Namespace, "added", added)
		}
	}

	w, err := workerapp.New(ctx, cfg, pool, temporalClient, appOptions...)
	if err != nil {
		logger.Error("Worker not started", "error", err)
		return 1
	}

	logger.Info("Worker starting",
		"temporal_address", cfg.Temporal.Address,
		"namespace", cfg.Temporal.Namespace,
		"temporal_tls", workerapp.UsesTLS(cfg),
		"temporal_api_key_set", cfg.Temporal.Profile.Client.APIKey != "",
		"task_queue", cfg.Temporal.TaskQueue,
		"database", config.RedactURL(cfg.Database.URL),
		"renewal_extension", cfg.Renewal.Extension.String(),
		"renewal_threshold", cfg.Renewal.Threshold.String(),
		"renewal_interval", cfg.Renewal.Interval.String(),
		"metrics_address", cfg.Metrics.Address,
	)
	// Run stops polling when ctx is done and waits for running activities
	// up to the worker's stop timeout.
	interrupted := make(chan any)
	go func() {
		<-ctx.Done()
		close(interrupted)
	}()
	if err := w.Run(interrupted); err != nil {
		logger.Error("Worker stopped with an error", "error", err)
		return 1
	}
	logger.Info("Worker stopped")
	return 0
}

// serveMetrics listens on address and serves the metrics there until ctx
// is done or the returned function is called. That function stops the
// server and then the OpenTelemetry meter provider. A port already in use
// is an error, before the worker connects anywhere.
func serveMetrics(ctx context.Context, address string, logger *slog.Logger) (*metrics.Metrics, func(), error) {
	m, err := metrics.New(logger)
	if err != nil {
		return nil, nil, err
	}
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for metrics on %s (metrics.address): %w", address, err)
	}

	serveCtx, cancelServe := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		// The worker goes on without metrics: its renewals matter more.
		if err := m.Serve(serveCtx, listener); err != nil {
			logger.Error("Metrics server stopped; the worker runs on without metrics", "error", err)
		}
	}()
	logger.Info("Serving metrics", "url", "http://"+listener.Addr().String()+"/metrics")

	stopMetrics := func() {
		cancelServe()
		<-served
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.Close(closeCtx); err != nil {
			logger.Warn("Metrics provider not stopped cleanly", "error", err)
		}
	}
	return m, stopMetrics, nil
}

// printErrors prints err with the "worker: " prefix. An error made by
// errors.Join gets one line per joined error, each with the prefix.
func printErrors(w io.Writer, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintf(w, "worker: %v\n", err)
}
