// Package workerapp assembles the daemon-auth worker from its
// configuration. The worker binary and the end-to-end tests both use it,
// so the tests run exactly what production runs.
package workerapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"daemonauth/activities"
	"daemonauth/internal/config"
	"daemonauth/migrations"
	"daemonauth/workflows"
)

// New returns a worker on cfg's task queue with every workflow and
// activity registered. It fails when the schema has pending migrations or
// the namespace lacks the search attributes, because workflows and
// activities would then fail on every call.
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, temporalClient client.Client) (worker.Worker, error) {
	if err := CheckSearchAttributes(ctx, temporalClient, cfg.Temporal.Namespace); err != nil {
		return nil, err
	}

	pending, err := migrations.Pending(ctx, pool)
	if err != nil {
		return nil, err
	}
	if pending {
		return nil, fmt.Errorf("the database schema is not up to date: run `starter migrate` or start the worker with --migrate")
	}

	store, err := activities.NewStore(pool, cfg.Policy())
	if err != nil {
		return nil, err
	}
	acts := activities.New(store, temporalClient, activities.RenewalSettings{
		Interval:     cfg.Renewal.Interval,
		MinInterval:  cfg.Renewal.MinInterval,
		Threshold:    cfg.Renewal.Threshold,
		Jitter:       cfg.Renewal.Jitter,
		MaxRejected:  cfg.Renewal.MaxRejected,
		MaxIdle:      cfg.Renewal.MaxIdle,
		CyclesPerRun: cfg.Renewal.CyclesPerRun,
	})

	w := worker.New(temporalClient, cfg.Temporal.TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return w, nil
}

// Connect opens the PostgreSQL pool and checks that the server answers.
func Connect(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %s", config.RedactURL(cfg.Database.URL), config.RedactError(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %s", config.RedactURL(cfg.Database.URL), config.RedactError(err))
	}
	return pool, nil
}

// DialTemporal connects to the Temporal frontend and namespace in cfg.
func DialTemporal(ctx context.Context, cfg config.Config, logger log.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (temporal.address), namespace %s: %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
	}
	return c, nil
}
