// Package daemonclient starts and controls the daemon-auth workflows from
// outside Temporal. The starter and the demo use it; the temporal CLI can
// do the same by hand (see the README).
package daemonclient

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
)

// StartDaemon runs DaemonStartup for the daemon and waits for its result.
//
// A start-up whose token was rejected fails with a TokenRejected error.
// Its details carry the partial result, which is returned together with
// the error so the caller can show needs_relogin and the login hint.
//
// The workflow ID is fixed per daemon. A second call while a start-up of
// the same daemon runs waits for that one instead of starting another.
func StartDaemon(ctx context.Context, c client.Client, taskQueue string, in daemonauth.DaemonStartupInput) (daemonauth.DaemonStartupResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.DaemonStartupResult{}, fmt.Errorf("invalid start-up: %w", err)
	}
	options := client.StartWorkflowOptions{
		ID:                       daemonauth.StartupWorkflowID(in.DaemonID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            fmt.Sprintf("Start daemon %s: renew its token, then sync its workspaces", in.DaemonID),
	}
	run, err := c.ExecuteWorkflow(ctx, options, daemonauth.WorkflowDaemonStartup, in)
	if err != nil {
		return daemonauth.DaemonStartupResult{}, fmt.Errorf("start %s: %w", options.ID, err)
	}

	var result daemonauth.DaemonStartupResult
	err = run.Get(ctx, &result)
	if err == nil {
		return result, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == daemonauth.ErrTypeTokenRejected && appErr.HasDetails() {
		if detailsErr := appErr.Details(&result); detailsErr == nil {
			return result, err
		}
	}
	return daemonauth.DaemonStartupResult{}, err
}

// RenewalStatus queries the daemon's TokenRenewal.
func RenewalStatus(ctx context.Context, c client.Client, daemonID string) (daemonauth.RenewalStatus, error) {
	workflowID := daemonauth.RenewalWorkflowID(daemonID)
	value, err := c.QueryWorkflow(ctx, workflowID, "", daemonauth.QueryStatus)
	if err != nil {
		return daemonauth.RenewalStatus{}, fmt.Errorf("query %s: %w", workflowID, err)
	}
	var status daemonauth.RenewalStatus
	if err := value.Get(&status); err != nil {
		return daemonauth.RenewalStatus{}, fmt.Errorf("decode status of %s: %w", workflowID, err)
	}
	return status, nil
}

// StopRenewal signals the daemon's TokenRenewal to stop and waits until it
// has ended.
func StopRenewal(ctx context.Context, c client.Client, daemonID, reason string) (daemonauth.TokenRenewalResult, error) {
	workflowID := daemonauth.RenewalWorkflowID(daemonID)
	if err := c.SignalWorkflow(ctx, workflowID, "", daemonauth.SignalStop, daemonauth.StopInput{Reason: reason}); err != nil {
		return daemonauth.TokenRenewalResult{}, fmt.Errorf("signal %s to stop: %w", workflowID, err)
	}
	var result daemonauth.TokenRenewalResult
	if err := c.GetWorkflow(ctx, workflowID, "").Get(ctx, &result); err != nil {
		return daemonauth.TokenRenewalResult{}, fmt.Errorf("wait for %s to stop: %w", workflowID, err)
	}
	return result, nil
}
