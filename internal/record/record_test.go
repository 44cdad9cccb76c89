package record_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"daemonauth/internal/record"
	"daemonauth/workflows"
)

// TestRecordThenReplay runs the recorder as `make record-histories` does,
// into a temporary folder, and replays what it wrote, so the recorder
// cannot rot while the committed histories stay untouched.
func TestRecordThenReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("records 11 histories on a dev server, which takes about 30 seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	outDir := t.TempDir()
	var progress strings.Builder

	files, err := record.Run(ctx, outDir, &progress)
	require.NoError(t, err, "recorder output:\n%s", progress.String())

	committed, err := filepath.Glob("../../workflows/testdata/histories/*.json")
	require.NoError(t, err)
	assert.Len(t, files, len(committed), "the recorder writes one file per committed current history")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			workflows.Register(replayer)
			quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
			assert.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(quiet, file))
		})
	}
}
