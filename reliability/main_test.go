//go:build reliability

package reliability

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"daemonauth/internal/devenv"
	"daemonauth/internal/testenv"
)

// server is the Temporal dev server shared by the tests that do not stop
// or restart it. Each test uses its own task queue and database.
var server *testsuite.DevServer

// binDir holds the worker binary that buildWorker builds once per run.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// defaultParallel replaces go test's default -parallel of GOMAXPROCS. The
// tests spend their time waiting for timeouts and for processes they
// started, not computing, and the kill points alone are 20 parallel
// subtests: at 2 at a time they would take minutes longer.
const defaultParallel = 32

func run(m *testing.M) int {
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", fmt.Sprint(defaultParallel))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	if binDir, err = os.MkdirTemp("", "daemonauth-reliability-"); err != nil {
		fmt.Fprintf(os.Stderr, "create the folder for the worker binary: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)

	server, err = devenv.StartTemporal(ctx, devenv.TemporalOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start Temporal for the tests: %v\n", err)
		return 1
	}
	defer server.Stop()

	code := testenv.RunWithPostgres(m)
	printSummary(os.Stdout)
	return code
}

var buildOnce = sync.OnceValues(func() (string, error) {
	root, err := devenv.ModuleRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(binDir, "worker")
	cmd := exec.Command("go", "build", "-o", path, "./worker")
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./worker: %w\n%s", err, output)
	}
	return path, nil
})

// buildWorker returns the path of the worker binary, built from this
// checkout on the first call. Every test runs this one binary, the program
// that production runs.
func buildWorker(t *testing.T) string {
	t.Helper()
	path, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return path
}
