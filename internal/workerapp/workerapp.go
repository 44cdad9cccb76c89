// Package workerapp assembles the daemon-auth worker from its
// configuration. The worker binary and the end-to-end tests both use it,
// so the tests run exactly what production runs.
package workerapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"daemonauth/activities"
	"daemonauth/internal/config"
	"daemonauth/internal/metrics"
	"daemonauth/migrations"
	"daemonauth/workflows"
)

// Option changes how New and DialTemporal assemble the worker.
type Option func(*settings)

type settings struct {
	metrics *metrics.Metrics
}

// WithMetrics records in m the SDK's metrics of the client that
// DialTemporal returns and the activities' metrics of the worker that New
// returns.
func WithMetrics(m *metrics.Metrics) Option {
	return func(s *settings) { s.metrics = m }
}

func apply(options []Option) settings {
	var s settings
	for _, option := range options {
		option(&s)
	}
	return s
}

// New returns a worker on cfg's task queue with every workflow and
// activity registered. It fails when the schema has pending migrations or
// the namespace lacks the search attributes, because workflows and
// activities would then fail on every call.
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, temporalClient client.Client, options ...Option) (worker.Worker, error) {
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
	if s := apply(options); s.metrics != nil {
		activities.WithMetrics(acts, s.metrics)
	}

	// The SDK's cache is shared by every worker in the process and can only
	// be sized before the first worker starts; later calls do nothing.
	cacheSize := cfg.Temporal.WorkflowCacheSize
	if cacheSize == 0 {
		cacheSize = 1000
	}
	worker.SetStickyWorkflowCacheSize(cacheSize)
	w := worker.New(temporalClient, cfg.Temporal.TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return w, nil
}

// Connect opens the PostgreSQL pool and pings the server.
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
