// Command recorder re-records the workflow histories that the replay tests
// replay: it runs every outcome path on a throwaway Temporal dev server and
// PostgreSQL and writes one JSON history per path.
//
// Usage:
//
//	make record-histories
//	go run ./recorder --out workflows/testdata/histories
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"daemonauth/internal/record"
)

func main() {
	out := pflag.String("out", "workflows/testdata/histories", "folder to write the histories to")
	pflag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	files, err := record.Run(ctx, *out, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "recorder: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("Recorded %d histories into %s.\n", len(files), *out)
}
