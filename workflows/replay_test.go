package workflows_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/workflows"
)

// historiesDir holds histories recorded from real runs by `make
// record-histories`, and older ones kept after a versioned change.
const historiesDir = "testdata/histories"

// recordedPaths are the outcome paths that must each have a history, so a
// deleted file cannot silently shrink what the replay test guards.
var recordedPaths = []string{
	"daemon-startup-renewed",
	"daemon-startup-not-due",
	"daemon-startup-transient-renewal-failure",
	"daemon-startup-token-rejected",
	"daemon-startup-invalid-input",
	"daemon-startup-renewal-already-running",
	"daemon-startup-new-token",
	"token-renewal-cycles-retry-continue-as-new",
	"token-renewal-stopped",
	"token-renewal-rejected",
	"token-renewal-switch-token",
	"token-renewal-renew-now",
}

// quietLogger drops the replayer's own log: a replay that is expected to
// fail logs a long panic report.
var quietLogger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))

func historyFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(historiesDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	return files
}

func TestRecordedHistoriesCoverEveryPath(t *testing.T) {
	for _, name := range recordedPaths {
		assert.FileExists(t, filepath.Join(historiesDir, name+".json"), "history of the %s path", name)
	}
}

// TestReplayRecordedHistories replays every committed history against the
// workflows exactly as the worker registers them. A failure means the
// change would break workflows already running: put it behind
// workflow.GetVersion (see CONTRIBUTING.md).
func TestReplayRecordedHistories(t *testing.T) {
	files := historyFiles(t)
	require.NotEmpty(t, files, "no recorded histories under %s", historiesDir)

	for _, file := range files {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			workflows.Register(replayer)
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(quietLogger, file))
		})
	}
}

// syncBeforeRenew is DaemonStartup with its first two steps swapped and no
// versioning: the change that caused the original outage. It exists only
// to prove that the replay test catches such a change.
func syncBeforeRenew(ctx workflow.Context, in daemonauth.DaemonStartupInput) (daemonauth.DaemonStartupResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.DaemonStartupResult{}, err
	}
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})

	var synced daemonauth.SyncWorkspacesResult
	syncErr := workflow.ExecuteActivity(ctx, a.SyncWorkspaces,
		daemonauth.SyncWorkspacesInput{DaemonID: in.DaemonID, TokenID: in.TokenID}).Get(ctx, &synced)
	var renewed daemonauth.RenewTokenResult
	renewErr := workflow.ExecuteActivity(ctx, a.RenewToken,
		daemonauth.RenewTokenInput{TokenID: in.TokenID}).Get(ctx, &renewed)
	var ensured daemonauth.EnsureTokenRenewalResult
	ensureErr := workflow.ExecuteActivity(ctx, a.EnsureTokenRenewal,
		daemonauth.EnsureTokenRenewalInput{DaemonID: in.DaemonID, TokenID: in.TokenID}).Get(ctx, &ensured)
	return daemonauth.DaemonStartupResult{DaemonID: in.DaemonID}, errors.Join(syncErr, renewErr, ensureErr)
}

func TestReplayRejectsSyncBeforeRenew(t *testing.T) {
	var checked int
	for _, file := range historyFiles(t) {
		base := filepath.Base(file)
		// The invalid-input history schedules no activity, so the order of
		// activities cannot matter to it.
		if !strings.HasPrefix(base, "daemon-startup-") || strings.Contains(base, "invalid-input") {
			continue
		}
		t.Run(base, func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(syncBeforeRenew, workflow.RegisterOptions{Name: daemonauth.WorkflowDaemonStartup})

			err := replayer.ReplayWorkflowHistoryFromJSONFile(quietLogger, file)

			require.Error(t, err, "replaying a sync-first DaemonStartup must fail")
			assert.Contains(t, err.Error(), "nondeterministic", "the failure is a non-determinism error")
		})
		checked++
	}
	assert.GreaterOrEqual(t, checked, 6, "every start-up history that schedules activities was checked")
}

// countEvents returns how many events of a recorded history have the type.
func countEvents(t *testing.T, file string, eventType enumspb.EventType) int {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err, "parse %s", file)
	var n int
	for _, event := range history.GetEvents() {
		if event.GetEventType() == eventType {
			n++
		}
	}
	return n
}

// The skip-renewal-of-rejected-token change is guarded by GetVersion, so a
// run recorded before it (three rejected cycles, three RenewToken calls)
// and one recorded after it (one call, then a version marker) both replay
// in TestReplayRecordedHistories. This test pins down that the two files
// really are the two versions.
func TestRejectedRenewalHistoriesCoverBothVersions(t *testing.T) {
	before := filepath.Join(historiesDir, "before-skip-renewal-of-rejected-token", "token-renewal-rejected.json")
	after := filepath.Join(historiesDir, "token-renewal-rejected.json")

	assert.Equal(t, 3, countEvents(t, before, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), "before the change every rejected cycle calls RenewToken")
	assert.Equal(t, 0, countEvents(t, before, enumspb.EVENT_TYPE_MARKER_RECORDED), "before the change there is no version marker")
	assert.Equal(t, 1, countEvents(t, after, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), "after the change only the first rejected cycle calls RenewToken")
	assert.GreaterOrEqual(t, countEvents(t, after, enumspb.EVENT_TYPE_MARKER_RECORDED), 1, "after the change the version marker is recorded")
}
