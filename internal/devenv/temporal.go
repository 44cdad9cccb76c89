package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"daemonauth"
	"daemonauth/internal/workerapp"
)

// TemporalCLIEnv names the variable that points at a temporal CLI binary.
const TemporalCLIEnv = "DAEMONAUTH_TEMPORAL_CLI"

// FindTemporalCLI returns the temporal CLI to run: $DAEMONAUTH_TEMPORAL_CLI,
// else bin/temporal in the module root, else temporal on PATH.
func FindTemporalCLI() (string, error) {
	if path := os.Getenv(TemporalCLIEnv); path != "" {
		return path, nil
	}
	if root, err := ModuleRoot(); err == nil {
		path := filepath.Join(root, "bin", "temporal")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	if path, err := exec.LookPath("temporal"); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("temporal CLI not found: run `make tools` to build bin/temporal, or set %s", TemporalCLIEnv)
}

// ModuleRoot returns the nearest folder at or above the working directory
// that holds a go.mod file.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// Port of the frontend on 127.0.0.1. Zero picks a free port.
	Port int
	// UIPort of the Web UI; zero runs the server without the UI.
	UIPort int
	// DBFile keeps the server's state in this SQLite file, so it survives a
	// restart. Empty keeps it in memory.
	DBFile string
	// Output receives the server's own log. Nil discards it.
	Output io.Writer
	// Logger receives the SDK client's log. Nil discards it.
	Logger log.Logger
	// ExtraArgs are passed to `temporal server start-dev`.
	ExtraArgs []string
}

// StartTemporal starts `temporal server start-dev` from the binary that
// FindTemporalCLI returns and waits until its frontend accepts requests.
// It never downloads a server.
func StartTemporal(ctx context.Context, options TemporalOptions) (*testsuite.DevServer, error) {
	cli, err := FindTemporalCLI()
	if err != nil {
		return nil, err
	}
	port := options.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	output := options.Output
	if output == nil {
		output = io.Discard
	}
	logger := options.Logger
	if logger == nil {
		logger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	}

	devOptions := testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{
			HostPort:  "127.0.0.1:" + strconv.Itoa(port),
			Namespace: "default",
			Logger:    logger,
		},
		DBFilename: options.DBFile,
		LogLevel:   "warn",
		ExtraArgs:  append(searchAttributeArgs(), options.ExtraArgs...),
		Stdout:     output,
		Stderr:     output,
	}
	if options.UIPort != 0 {
		devOptions.EnableUI = true
		devOptions.UIPort = strconv.Itoa(options.UIPort)
	}
	server, err := testsuite.StartDevServer(ctx, devOptions)
	if err != nil {
		return nil, fmt.Errorf("start temporal dev server (%s): %w", cli, err)
	}
	return server, nil
}

// searchAttributeArgs registers the project's search attributes on the dev
// server, as `temporal operator search-attribute create` does on a cluster.
func searchAttributeArgs() []string {
	var args []string
	for _, key := range daemonauth.SearchAttributes() {
		args = append(args, "--search-attribute", key.GetName()+"="+workerapp.SearchAttributeTypeName(key))
	}
	return args
}
