// Command demo runs the whole system on throwaway local services: a
// PostgreSQL cluster, the temporal CLI's dev server with its Web UI, and
// the worker. It starts DaemonStartup for three demo daemons, prints their
// outcomes, and keeps everything up until Ctrl-C. With DEMO_ONCE=1 it
// exits after printing, with status 0 only when every outcome is the
// expected one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"
)

const usage = `Usage: demo [flags]

Starts a throwaway PostgreSQL, a Temporal dev server with its Web UI and
the worker, runs DaemonStartup for three demo daemons and prints the
outcomes. Everything listens on 127.0.0.1 and is removed on exit.

Examples:
  make demo
  DEMO_ONCE=1 make demo
  bin/demo --temporal-port 17233 --ui-port 18233 --once

Flags:
`

type options struct {
	temporalPort int
	uiPort       int
	once         bool
	workerBin    string
	temporalCLI  string
}

func main() {
	os.Exit(run())
}

func run() int {
	var opts options
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	fs.IntVar(&opts.temporalPort, "temporal-port", 7233, "port of the Temporal frontend on 127.0.0.1")
	fs.IntVar(&opts.uiPort, "ui-port", 8233, "port of the Temporal Web UI on 127.0.0.1")
	fs.BoolVar(&opts.once, "once", os.Getenv("DEMO_ONCE") == "1", "exit after printing the outcomes (env DEMO_ONCE=1)")
	fs.StringVar(&opts.workerBin, "worker", siblingBinary("worker"), "path of the worker binary")
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

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ok, err := runDemo(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

// siblingBinary returns the path of a binary built next to this one.
func siblingBinary(name string) string {
	self, err := os.Executable()
	if err != nil {
		return name
	}
	return filepath.Join(filepath.Dir(self), name)
}

func step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "==> "+format+"\n", args...)
}
