// Command bench measures the cost of a renewal and a start-up against the
// engine's floor, on its own throwaway PostgreSQL and Temporal dev server,
// and prints a Markdown table of ratios with their targets. BENCHMARKS.md
// records a run.
//
// Usage:
//
//	make bench
//	go run ./bench --tiny
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"daemonauth/internal/bench"
)

func main() {
	tiny := pflag.Bool("tiny", false, "run every measure once at a tiny size, to check the harness")
	pflag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := bench.Full
	if *tiny {
		opts = bench.Tiny
	}
	started := time.Now()
	rows, err := bench.Run(ctx, opts, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}

	host, _ := os.Hostname()
	fmt.Printf("\nRun on %s: %d CPUs, %s, %s, %s, took %s.\n\n", started.UTC().Format("2006-01-02"), runtime.NumCPU(),
		runtime.GOOS+"/"+runtime.GOARCH, runtime.Version(), host, time.Since(started).Round(time.Second))
	bench.WriteTable(os.Stdout, rows)
}
