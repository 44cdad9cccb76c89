// Command worker runs the daemon-auth Temporal worker: it polls the task
// queue for DaemonStartup and TokenRenewal workflows and their activities.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"daemonauth/internal/config"
	"daemonauth/internal/logging"
	"daemonauth/internal/workerapp"
	"daemonauth/migrations"
)

const usage = `Usage: worker [flags]

Runs the daemon-auth Temporal worker until SIGINT or SIGTERM.

Example:
  TEMPORAL_ADDRESS=127.0.0.1:7233 \
  DAEMONAUTH_DATABASE_URL='postgres://app@127.0.0.1:5432/app?sslmode=disable' \
  worker --migrate

Flags:
`

func main() {
	os.Exit(run())
}

func run() int {
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	config.AddFlags(fs)
	migrate := fs.Bool("migrate", false, "apply pending database migrations before starting")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}

	cfg, err := config.Load(fs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		return 2
	}
	logger := logging.New(os.Stderr, cfg.Log.Format, cfg.LogLevel())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

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

	temporalClient, err := workerapp.DialTemporal(ctx, cfg, logging.Temporal(logger))
	if err != nil {
		logger.Error("Worker not started", "error", err)
		return 1
	}
	defer temporalClient.Close()

	w, err := workerapp.New(ctx, cfg, pool, temporalClient)
	if err != nil {
		logger.Error("Worker not started", "error", err)
		return 1
	}

	logger.Info("Worker starting",
		"temporal_address", cfg.Temporal.Address,
		"namespace", cfg.Temporal.Namespace,
		"task_queue", cfg.Temporal.TaskQueue,
		"database", config.RedactURL(cfg.Database.URL),
		"renewal_extension", cfg.Renewal.Extension.String(),
		"renewal_threshold", cfg.Renewal.Threshold.String(),
		"renewal_interval", cfg.Renewal.Interval.String(),
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
