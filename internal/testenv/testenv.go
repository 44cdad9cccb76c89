// Package testenv gives tests a real PostgreSQL: one throwaway cluster per
// test binary and a fresh, migrated database per test.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"daemonauth/internal/devenv"
	"daemonauth/migrations"
)

const templateDatabase = "daemonauth_template"

var (
	cluster       *devenv.Postgres
	databaseCount atomic.Int64
)

// RunWithPostgres starts the cluster and a migrated template database,
// runs the tests, and stops the cluster. Call it from TestMain. A cluster
// that cannot start fails the run: these tests never fall back to a mock.
func RunWithPostgres(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Database: templateDatabase})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start PostgreSQL for the tests: %v\n", err)
		return 1
	}
	defer pg.Stop()
	cluster = pg

	if err := migrateTemplate(ctx, pg.URL(templateDatabase)); err != nil {
		fmt.Fprintf(os.Stderr, "migrate the template database: %v\n", err)
		return 1
	}
	return m.Run()
}

func migrateTemplate(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	// A template must have no open connections when it is copied.
	defer pool.Close()
	return migrations.Up(ctx, pool, slog.New(slog.DiscardHandler))
}

// Postgres returns the running cluster.
func Postgres() *devenv.Postgres { return cluster }

// NewDatabase creates a fresh migrated database for one test and returns
// a pool on it and its URL. The pool is closed when the test ends.
func NewDatabase(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if cluster == nil {
		t.Fatal("testenv.NewDatabase needs TestMain to call testenv.RunWithPostgres")
	}
	ctx := context.Background()

	name := fmt.Sprintf("test_%d_%d", os.Getpid(), databaseCount.Add(1))
	if err := cluster.CreateDatabase(ctx, name, templateDatabase); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	url := cluster.URL(name)
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	config.MaxConns = 80
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}
