package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"daemonauth/internal/config"
	"daemonauth/internal/logging"
	"daemonauth/internal/workerapp"
)

// environment opens the database and Temporal connections a command needs,
// on first use, and closes them when the command ends.
type environment struct {
	cfg      config.Config
	stdout   io.Writer
	stderr   io.Writer
	pool     *pgxpool.Pool
	temporal client.Client
}

func (e *environment) logger() *slog.Logger {
	return logging.New(e.stderr, e.cfg.Log.Format, e.cfg.LogLevel())
}

func (e *environment) database(ctx context.Context) (*pgxpool.Pool, error) {
	if e.pool == nil {
		pool, err := workerapp.Connect(ctx, e.cfg)
		if err != nil {
			return nil, err
		}
		e.pool = pool
	}
	return e.pool, nil
}

func (e *environment) temporalClient(ctx context.Context) (client.Client, error) {
	if e.temporal == nil {
		// The SDK logs at Info on every connection; a one-off command only
		// wants its warnings.
		quiet := logging.New(e.stderr, e.cfg.Log.Format, slog.LevelWarn)
		c, err := workerapp.DialTemporal(ctx, e.cfg, logging.Temporal(quiet))
		if err != nil {
			return nil, err
		}
		e.temporal = c
	}
	return e.temporal, nil
}

func (e *environment) close() {
	if e.temporal != nil {
		e.temporal.Close()
	}
	if e.pool != nil {
		e.pool.Close()
	}
}
