// Package devenv starts the throwaway services of the demo and the tests:
// a PostgreSQL cluster from the system's binaries and the temporal CLI's
// dev server. Both listen on loopback only, and nothing is downloaded. A
// missing binary is an error that names the command that installs it.
package devenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running throwaway PostgreSQL cluster.
type Postgres struct {
	dir    string
	bindir string
	port   int
	asUser string
}

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Port to listen on, on 127.0.0.1. Zero picks a free port.
	Port int
	// Database is created empty after start-up, unless it is "postgres".
	Database string
}

// StartPostgres creates a cluster in a new temporary folder and starts it.
// initdb refuses to run as root, so as root the cluster runs as the
// postgres system user that Debian's postgresql package creates.
func StartPostgres(ctx context.Context, options PostgresOptions) (*Postgres, error) {
	bindir, err := postgresBindir()
	if err != nil {
		return nil, err
	}
	port := options.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}

	dir, err := os.MkdirTemp("", "daemonauth-pg-")
	if err != nil {
		return nil, fmt.Errorf("create PostgreSQL folder: %w", err)
	}
	pg := &Postgres{dir: dir, bindir: bindir, port: port}
	if os.Geteuid() == 0 {
		pg.asUser = "postgres"
		if err := chownToUser(dir, pg.asUser); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}

	if err := pg.run(ctx, "initdb", "--pgdata", pg.dataDir(), "--username", "postgres",
		"--auth", "trust", "--encoding", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := pg.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	if options.Database != "" && options.Database != "postgres" {
		if err := pg.CreateDatabase(ctx, options.Database, ""); err != nil {
			pg.Stop()
			return nil, err
		}
	}
	return pg, nil
}

// URL returns the connection URL of database on this cluster.
func (pg *Postgres) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, database)
}

// Port returns the TCP port the cluster listens on.
func (pg *Postgres) Port() int { return pg.port }

// CreateDatabase creates database, as a copy of template when it is not empty.
func (pg *Postgres) CreateDatabase(ctx context.Context, database, template string) error {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to throwaway PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)

	statement := "CREATE DATABASE " + pgx.Identifier{database}.Sanitize()
	if template != "" {
		statement += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, statement); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}

// Restart stops the server, keeps it down for downtime, and starts it
// again on the same port and data, as a database outage would.
func (pg *Postgres) Restart(ctx context.Context, downtime time.Duration) error {
	if err := pg.run(ctx, "pg_ctl", "--pgdata", pg.dataDir(), "--mode", "fast", "--wait", "stop"); err != nil {
		return err
	}
	select {
	case <-time.After(downtime):
	case <-ctx.Done():
		return ctx.Err()
	}
	return pg.start(ctx)
}

// start starts the server. Its output goes to server.log, so the server
// never holds pg_ctl's output pipe open.
func (pg *Postgres) start(ctx context.Context) error {
	// fsync is off because the cluster is thrown away, and a crash of the
	// host may lose data that no demo or test needs to survive.
	serverOptions := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", pg.port, pg.dir)
	logPath := filepath.Join(pg.dir, "server.log")
	if err := pg.run(ctx, "pg_ctl", "--pgdata", pg.dataDir(), "--log", logPath, "--options", serverOptions, "--wait", "start"); err != nil {
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return nil
}

// Stop stops the server and deletes the cluster.
func (pg *Postgres) Stop() error {
	err := pg.run(context.Background(), "pg_ctl", "--pgdata", pg.dataDir(), "--mode", "immediate", "--wait", "stop")
	return errors.Join(err, os.RemoveAll(pg.dir))
}

func (pg *Postgres) dataDir() string { return filepath.Join(pg.dir, "data") }

func (pg *Postgres) run(ctx context.Context, name string, args ...string) error {
	path := filepath.Join(pg.bindir, name)
	var cmd *exec.Cmd
	if pg.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", pg.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %w\n%s", name, err, output.String())
	}
	return nil
}

// postgresBindir finds the server binaries: $PG_BINDIR, else the newest
// /usr/lib/postgresql/N/bin that Debian's packages install.
func postgresBindir() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir, nil
	}
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(candidates, func(i, j int) bool {
		return versionOf(candidates[i]) > versionOf(candidates[j])
	})
	if len(candidates) > 0 {
		return filepath.Dir(candidates[0]), nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", errors.New("PostgreSQL server binaries not found: run `make tools` (installs Debian's postgresql package) or set PG_BINDIR to the folder holding initdb")
}

func versionOf(initdbPath string) int {
	version, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return version
}

func chownToUser(path, name string) error {
	account, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("look up the %s user, which runs PostgreSQL when started as root: %w", name, err)
	}
	uid, _ := strconv.Atoi(account.Uid)
	gid, _ := strconv.Atoi(account.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("hand %s to the %s user: %w", path, name, err)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}
