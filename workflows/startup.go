package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
	"daemonauth/activities"
)

// Activity options of a start-up. The daemon is waiting, so the renewal
// gets a short, bounded retry. A renewal that still fails is retried by
// TokenRenewal later, and the daemon starts in the meantime.
var (
	startupRenewOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    4 * time.Second,
			MaximumAttempts:    3,
		},
	}
	startupSyncOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    5,
		},
	}
	startupEnsureRenewalOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    5,
		},
	}
)

// DaemonStartup renews the daemon's token, then syncs its workspaces, then
// makes sure one TokenRenewal follows the token.
//
// The renewal comes first, always. A daemon whose token was revoked or has
// expired would otherwise fail the sync with a bare authorisation error and
// never learn that it must log in again. A rejected token therefore logs a
// warning with the login command and sets NeedsRelogin. The sync still
// runs, and if it rejects the token too, the workflow fails with the same
// hint. Any other renewal failure does not block start-up.
func DaemonStartup(ctx workflow.Context, in daemonauth.DaemonStartupInput) (daemonauth.DaemonStartupResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.DaemonStartupResult{}, invalidInput(daemonauth.WorkflowDaemonStartup, err)
	}

	logger := log.With(workflow.GetLogger(ctx), "daemon_id", in.DaemonID, "token_id", in.TokenID)
	var a *activities.Activities
	result := daemonauth.DaemonStartupResult{DaemonID: in.DaemonID, Workspaces: []daemonauth.Workspace{}}

	result.Renewal = renewAtStartup(ctx, a, in, logger)
	if result.Renewal.Outcome == daemonauth.OutcomeRejected {
		result.NeedsRelogin = true
		result.LoginHint = daemonauth.LoginHint(in.LoginCommand, in.Profile)
		logger.Warn("Token rejected; log in again to get a new token", "reason", result.Renewal.Error, "command", result.LoginHint)
	}

	syncCtx := workflow.WithActivityOptions(ctx, withSummary(startupSyncOptions,
		fmt.Sprintf("sync workspaces of daemon %s", in.DaemonID)))
	var synced daemonauth.SyncWorkspacesResult
	syncErr := workflow.ExecuteActivity(syncCtx, a.SyncWorkspaces, daemonauth.SyncWorkspacesInput{
		DaemonID: in.DaemonID,
		TokenID:  in.TokenID,
	}).Get(ctx, &synced)
	if syncErr == nil {
		result.Workspaces = synced.Workspaces
		result.WorkspacesAdded = synced.Added
		result.WorkspacesRemoved = synced.Removed
	}

	// The renewal workflow is started even when the sync failed: it keeps
	// reporting a rejected token until the operator logs in again, and it
	// keeps retrying a token that only failed transiently.
	ensureCtx := workflow.WithActivityOptions(ctx, withSummary(startupEnsureRenewalOptions,
		fmt.Sprintf("start or re-point the token renewal of daemon %s", in.DaemonID)))
	var ensured daemonauth.EnsureTokenRenewalResult
	ensureErr := workflow.ExecuteActivity(ensureCtx, a.EnsureTokenRenewal, daemonauth.EnsureTokenRenewalInput{
		DaemonID:     in.DaemonID,
		TokenID:      in.TokenID,
		Profile:      in.Profile,
		LoginCommand: in.LoginCommand,
		// Without this, a token whose renewal failed here would wait a
		// full interval, and might expire first.
		RenewSoon:    result.Renewal.Outcome == daemonauth.OutcomeFailed,
		ExpiresAt:    result.Renewal.ExpiresAt,
		NeverExpires: result.Renewal.NeverExpires,
		NeedsRelogin: result.NeedsRelogin,
	}).Get(ctx, &ensured)
	result.RenewalWorkflowID = ensured.WorkflowID

	if rejected := rejectedToken(syncErr); rejected != nil {
		hint := daemonauth.LoginHint(in.LoginCommand, in.Profile)
		result.NeedsRelogin = true
		result.LoginHint = hint
		message := fmt.Sprintf("sync workspaces of daemon %s: %s; run `%s` to log in again", in.DaemonID, rejected.Message(), hint)
		return daemonauth.DaemonStartupResult{}, temporal.NewNonRetryableApplicationError(message, daemonauth.ErrTypeTokenRejected, syncErr, result)
	}
	if syncErr != nil {
		return daemonauth.DaemonStartupResult{}, fmt.Errorf("sync workspaces of daemon %s: %w", in.DaemonID, syncErr)
	}
	if ensureErr != nil {
		return daemonauth.DaemonStartupResult{}, fmt.Errorf("start token renewal of daemon %s: %w", in.DaemonID, ensureErr)
	}

	logger.Info("Daemon started", "renewal", result.Renewal.Outcome, "workspaces", len(result.Workspaces),
		"added", result.WorkspacesAdded, "removed", result.WorkspacesRemoved)
	return result, nil
}

// renewAtStartup runs RenewToken and turns every way it can end into an
// outcome, so that no renewal failure stops the start-up.
func renewAtStartup(ctx workflow.Context, a *activities.Activities, in daemonauth.DaemonStartupInput, logger log.Logger) daemonauth.RenewalOutcome {
	renewCtx := workflow.WithActivityOptions(ctx, withSummary(startupRenewOptions,
		fmt.Sprintf("renew token %s… for daemon %s", daemonauth.ShortID(in.TokenID), in.DaemonID)))
	var renewed daemonauth.RenewTokenResult
	err := workflow.ExecuteActivity(renewCtx, a.RenewToken, daemonauth.RenewTokenInput{TokenID: in.TokenID}).Get(ctx, &renewed)
	return renewalOutcome(renewed, err, logger)
}

// renewalOutcome classifies a RenewToken result and logs it at the level
// an operator needs, except for a rejection, whose warning each caller
// words itself.
func renewalOutcome(renewed daemonauth.RenewTokenResult, err error, logger log.Logger) daemonauth.RenewalOutcome {
	if rejected := rejectedToken(err); rejected != nil {
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeRejected, Error: rejectReason(rejected)}
	}
	if err != nil {
		// Not a warning: nothing is wrong with the token that an operator
		// could fix, and the next renewal retries by itself.
		logger.Info("Token renewal failed; the next renewal cycle retries it", "error", err)
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeFailed, Error: err.Error()}
	}

	switch {
	case renewed.Idle:
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeIdle, ExpiresAt: renewed.ExpiresAt,
			NeverExpires: renewed.NeverExpires, LastUsedAt: renewed.LastUsedAt}
	case renewed.Renewed:
		logger.Info("Token renewed", "expires_at", renewed.ExpiresAt)
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeRenewed, ExpiresAt: renewed.ExpiresAt, LastUsedAt: renewed.LastUsedAt}
	case renewed.NeverExpires:
		logger.Debug("Token never expires")
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeNeverExpires, NeverExpires: true, LastUsedAt: renewed.LastUsedAt}
	default:
		logger.Debug("Token renewal not due yet", "expires_at", renewed.ExpiresAt)
		return daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeNotDue, ExpiresAt: renewed.ExpiresAt, LastUsedAt: renewed.LastUsedAt}
	}
}

// withSummary returns options with the one-line summary the Web UI shows
// for the activity.
func withSummary(options workflow.ActivityOptions, summary string) workflow.ActivityOptions {
	options.Summary = summary
	return options
}
