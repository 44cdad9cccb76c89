package record

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

type scenario struct {
	name string
	run  func(ctx context.Context, r *Recorder) error
}

// scenarios lists every recorded path. Each file name names the workflow
// and the path its history covers.
var scenarios = []scenario{
	{"DaemonStartup: token renewed", func(ctx context.Context, r *Recorder) error {
		return r.recordStartup(ctx, "daemon-startup-renewed", "renewed", seed.TokenSpec{ExpiresIn: seed.Days(3)}, "", daemonauth.OutcomeRenewed)
	}},
	{"DaemonStartup: renewal not due", func(ctx context.Context, r *Recorder) error {
		return r.recordStartup(ctx, "daemon-startup-not-due", "healthy", seed.TokenSpec{ExpiresIn: seed.Days(60)}, "", daemonauth.OutcomeNotDue)
	}},
	{"DaemonStartup: renewal fails transiently, start-up goes on", recordTransientFailure},
	{"DaemonStartup: token rejected", recordRejectedStartup},
	{"DaemonStartup: invalid input", recordInvalidInput},
	{"DaemonStartup: renewal already running", recordSecondStartup},
	{"DaemonStartup: new token after a login; TokenRenewal: switch-token", recordNewToken},
	{"TokenRenewal: cycles with a retry, continue-as-new, stop", recordRenewalCycles},
	{"TokenRenewal: token rejected every cycle", recordRenewalRejected},
	{"TokenRenewal: renew-now update, renewed then served from cache", recordRenewNow},
}

func (r *Recorder) recordStartup(ctx context.Context, file, daemonID string, spec seed.TokenSpec, profile, want string) error {
	token, err := r.issueToken(ctx, spec)
	if err != nil {
		return err
	}
	result, runID, err := r.startDaemon(ctx, daemonID, token.ID, profile)
	if err != nil {
		return err
	}
	if result.Renewal.Outcome != want {
		return fmt.Errorf("renewal outcome %q, want %q", result.Renewal.Outcome, want)
	}
	if err := r.export(ctx, file, daemonauth.StartupWorkflowID(daemonID), runID); err != nil {
		return err
	}
	return r.stopRenewal(ctx, daemonID)
}

// recordTransientFailure holds an exclusive lock on token_extension while
// the start-up runs. Every RenewToken attempt then hits the statement
// timeout, a retryable error, while SyncWorkspaces, which does not touch
// that table, succeeds.
func recordTransientFailure(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(3)})
	if err != nil {
		return err
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE token_extension IN ACCESS EXCLUSIVE MODE`); err != nil {
		return err
	}

	result, runID, err := r.startDaemon(ctx, "flaky-db", token.ID, "")
	if err != nil {
		return err
	}
	if err := tx.Rollback(ctx); err != nil {
		return err
	}
	if result.Renewal.Outcome != daemonauth.OutcomeFailed {
		return fmt.Errorf("renewal outcome %q, want %q", result.Renewal.Outcome, daemonauth.OutcomeFailed)
	}
	if err := r.export(ctx, "daemon-startup-transient-renewal-failure", daemonauth.StartupWorkflowID("flaky-db"), runID); err != nil {
		return err
	}
	return r.stopRenewal(ctx, "flaky-db")
}

func recordRejectedStartup(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(30), Revoked: true})
	if err != nil {
		return err
	}
	input := daemonauth.DaemonStartupInput{DaemonID: "revoked", TokenID: token.ID, Profile: "work"}
	result, err := daemonclient.StartDaemon(ctx, r.client, taskQueue, input)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != daemonauth.ErrTypeTokenRejected {
		return fmt.Errorf("start-up error %v, want a %s error", err, daemonauth.ErrTypeTokenRejected)
	}
	if !result.NeedsRelogin {
		return errors.New("needs_relogin is false for a revoked token")
	}
	runID, err := r.latestRunID(ctx, daemonauth.StartupWorkflowID("revoked"))
	if err != nil {
		return err
	}
	if err := r.export(ctx, "daemon-startup-token-rejected", daemonauth.StartupWorkflowID("revoked"), runID); err != nil {
		return err
	}
	return r.stopRenewal(ctx, "revoked")
}

func recordInvalidInput(ctx context.Context, r *Recorder) error {
	workflowID := daemonauth.StartupWorkflowID("invalid-input")
	run, err := r.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflowID, TaskQueue: taskQueue},
		daemonauth.WorkflowDaemonStartup, map[string]any{"daemon_id": "laptop-7", "token_id": "not-a-uuid"})
	if err != nil {
		return err
	}
	var appErr *temporal.ApplicationError
	if err := run.Get(ctx, nil); !errors.As(err, &appErr) || appErr.Type() != daemonauth.ErrTypeInvalidInput {
		return fmt.Errorf("workflow error %v, want an %s error", err, daemonauth.ErrTypeInvalidInput)
	}
	return r.export(ctx, "daemon-startup-invalid-input", workflowID, run.GetRunID())
}

func recordSecondStartup(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	if err != nil {
		return err
	}
	if _, _, err := r.startDaemon(ctx, "restarted", token.ID, ""); err != nil {
		return err
	}
	_, runID, err := r.startDaemon(ctx, "restarted", token.ID, "")
	if err != nil {
		return err
	}
	if err := r.export(ctx, "daemon-startup-renewal-already-running", daemonauth.StartupWorkflowID("restarted"), runID); err != nil {
		return err
	}
	return r.stopRenewal(ctx, "restarted")
}

// recordNewToken starts a daemon, then starts it again with a second token,
// as after a new login. The second start-up re-points the running
// TokenRenewal through the switch-token signal.
func recordNewToken(ctx context.Context, r *Recorder) error {
	oldToken, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	if err != nil {
		return err
	}
	newToken, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(90)})
	if err != nil {
		return err
	}
	if _, _, err := r.startDaemon(ctx, "relogin", oldToken.ID, ""); err != nil {
		return err
	}
	_, runID, err := r.startDaemon(ctx, "relogin", newToken.ID, "")
	if err != nil {
		return err
	}
	if err := r.export(ctx, "daemon-startup-new-token", daemonauth.StartupWorkflowID("relogin"), runID); err != nil {
		return err
	}

	if err := r.waitForStatus(ctx, "relogin", "the renewal follows the new token", func(s daemonauth.RenewalStatus) bool {
		return s.TokenID == newToken.ID
	}); err != nil {
		return err
	}
	if err := r.stopRenewal(ctx, "relogin"); err != nil {
		return err
	}
	renewalRun, err := r.findRun(ctx, daemonauth.RenewalWorkflowID("relogin"), withEvent(func(e *historypb.HistoryEvent) bool {
		signal := e.GetWorkflowExecutionSignaledEventAttributes()
		return signal != nil && signal.GetSignalName() == daemonauth.SignalSwitchToken &&
			strings.Contains(signal.GetInput().String(), newToken.ID)
	}))
	if err != nil {
		return err
	}
	return r.export(ctx, "token-renewal-switch-token", daemonauth.RenewalWorkflowID("relogin"), renewalRun)
}

// recordRenewalCycles lets a TokenRenewal run its cycles, makes the second
// renewal of the first run fail once by holding a lock on token_extension
// until Temporal schedules the retry, waits for the continue-as-new, and
// stops the next run.
func recordRenewalCycles(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	if err != nil {
		return err
	}
	if _, _, err := r.startDaemon(ctx, "cycler", token.ID, ""); err != nil {
		return err
	}
	workflowID := daemonauth.RenewalWorkflowID("cycler")
	if err := r.waitForStatus(ctx, "cycler", "the first cycle", func(s daemonauth.RenewalStatus) bool {
		return s.Cycles >= 1
	}); err != nil {
		return err
	}

	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE token_extension IN ACCESS EXCLUSIVE MODE`); err != nil {
		return err
	}
	if err := r.waitFor(ctx, "a renewal retry", func() (bool, error) {
		description, err := r.client.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			return false, err
		}
		for _, pending := range description.GetPendingActivities() {
			if pending.GetAttempt() >= 2 {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	if err := tx.Rollback(ctx); err != nil {
		return err
	}

	if err := r.waitForStatus(ctx, "cycler", "a continue-as-new", func(s daemonauth.RenewalStatus) bool {
		return s.ContinueAsNewCount >= 1
	}); err != nil {
		return err
	}
	if err := r.stopRenewal(ctx, "cycler"); err != nil {
		return err
	}

	retryRun, err := r.findRun(ctx, workflowID, withEvent(func(e *historypb.HistoryEvent) bool {
		return e.GetActivityTaskStartedEventAttributes().GetAttempt() >= 2
	}))
	if err != nil {
		return err
	}
	if err := r.export(ctx, "token-renewal-cycles-retry-continue-as-new", workflowID, retryRun); err != nil {
		return err
	}
	stoppedRun, err := r.latestRunID(ctx, workflowID)
	if err != nil {
		return err
	}
	return r.export(ctx, "token-renewal-stopped", workflowID, stoppedRun)
}

// recordRenewalRejected revokes a token after its start-up, so the
// TokenRenewal finds it rejected on every following cycle. It exports the
// first run, whose three cycles all see the rejected token before it
// continues as new.
func recordRenewalRejected(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	if err != nil {
		return err
	}
	if _, _, err := r.startDaemon(ctx, "revoked-later", token.ID, "work"); err != nil {
		return err
	}
	if _, err := r.pool.Exec(ctx, `UPDATE personal_access_token SET revoked = true WHERE id = $1`, token.ID); err != nil {
		return err
	}
	if err := r.waitForStatus(ctx, "revoked-later", "rejected renewals until a continue-as-new", func(s daemonauth.RenewalStatus) bool {
		return s.NeedsRelogin && s.ContinueAsNewCount >= 1
	}); err != nil {
		return err
	}
	if err := r.stopRenewal(ctx, "revoked-later"); err != nil {
		return err
	}
	workflowID := daemonauth.RenewalWorkflowID("revoked-later")
	rejectedRun, err := r.findRun(ctx, workflowID, func(events []*historypb.HistoryEvent) bool {
		return hasEvent(events, func(e *historypb.HistoryEvent) bool {
			failure := e.GetActivityTaskFailedEventAttributes().GetFailure()
			return failure.GetApplicationFailureInfo().GetType() == daemonauth.ErrTypeTokenRejected
		}) && hasEvent(events, func(e *historypb.HistoryEvent) bool {
			return e.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil
		})
	})
	if err != nil {
		return err
	}
	return r.export(ctx, "token-renewal-rejected", workflowID, rejectedRun)
}

// recordRenewNow sends two renew-now updates to a renewal whose token is
// due. The first renews, and the second returns the first's cached outcome.
func recordRenewNow(ctx context.Context, r *Recorder) error {
	token, err := r.issueToken(ctx, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	if err != nil {
		return err
	}
	if _, _, err := r.startDaemon(ctx, "renew-now", token.ID, ""); err != nil {
		return err
	}
	// Due now, but the renewal's next check is seconds away at the
	// earliest, so the update is what renews it.
	if _, err := r.pool.Exec(ctx, `UPDATE personal_access_token SET expires_at = now() + interval '2 days' WHERE id = $1`, token.ID); err != nil {
		return err
	}
	workflowID := daemonauth.RenewalWorkflowID("renew-now")
	for i, wantCache := range []bool{false, true} {
		handle, err := r.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID:   workflowID,
			UpdateName:   daemonauth.UpdateRenewNow,
			Args:         []any{daemonauth.RenewNowInput{}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return err
		}
		var result daemonauth.RenewNowResult
		if err := handle.Get(ctx, &result); err != nil {
			return err
		}
		if result.FromCache != wantCache {
			return fmt.Errorf("renew-now call %d: from_cache %t, want %t", i+1, result.FromCache, wantCache)
		}
	}
	if err := r.stopRenewal(ctx, "renew-now"); err != nil {
		return err
	}
	runID, err := r.findRun(ctx, workflowID, withEvent(func(e *historypb.HistoryEvent) bool {
		return e.GetWorkflowExecutionUpdateCompletedEventAttributes() != nil
	}))
	if err != nil {
		return err
	}
	return r.export(ctx, "token-renewal-renew-now", workflowID, runID)
}

// startDaemon runs a start-up and returns its result and run ID.
func (r *Recorder) startDaemon(ctx context.Context, daemonID, tokenID, profile string) (daemonauth.DaemonStartupResult, string, error) {
	input := daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: tokenID, Profile: profile}
	result, err := daemonclient.StartDaemon(ctx, r.client, taskQueue, input)
	if err != nil {
		return result, "", err
	}
	runID, err := r.latestRunID(ctx, daemonauth.StartupWorkflowID(daemonID))
	return result, runID, err
}

func (r *Recorder) stopRenewal(ctx context.Context, daemonID string) error {
	_, err := daemonclient.StopRenewal(ctx, r.client, daemonID, "recording done")
	return err
}

func (r *Recorder) latestRunID(ctx context.Context, workflowID string) (string, error) {
	description, err := r.client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return "", err
	}
	return description.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
}

// findRun returns the newest run of workflowID whose history matches.
func (r *Recorder) findRun(ctx context.Context, workflowID string, match func([]*historypb.HistoryEvent) bool) (string, error) {
	runs, err := r.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", workflowID),
	})
	if err != nil {
		return "", err
	}
	for _, run := range runs.GetExecutions() {
		runID := run.GetExecution().GetRunId()
		var events []*historypb.HistoryEvent
		iter := r.client.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			event, err := iter.Next()
			if err != nil {
				return "", err
			}
			events = append(events, event)
		}
		if match(events) {
			return runID, nil
		}
	}
	return "", fmt.Errorf("no run of %s has the expected events", workflowID)
}

// withEvent returns a findRun predicate that matches a history with at
// least one event that matches.
func withEvent(match func(*historypb.HistoryEvent) bool) func([]*historypb.HistoryEvent) bool {
	return func(events []*historypb.HistoryEvent) bool { return hasEvent(events, match) }
}

func hasEvent(events []*historypb.HistoryEvent, match func(*historypb.HistoryEvent) bool) bool {
	for _, event := range events {
		if match(event) {
			return true
		}
	}
	return false
}

func (r *Recorder) waitForStatus(ctx context.Context, daemonID, what string, done func(daemonauth.RenewalStatus) bool) error {
	return r.waitFor(ctx, what, func() (bool, error) {
		status, err := daemonclient.RenewalStatus(ctx, r.client, daemonID)
		if err != nil {
			return false, err
		}
		return done(status), nil
	})
}

// waitFor polls check until it returns true, for at most two minutes.
func (r *Recorder) waitFor(ctx context.Context, what string, check func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for {
		ok, err := check()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-ticker.C:
		}
	}
}
