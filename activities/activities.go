package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
)

// RenewalSettings are the worker's settings for the TokenRenewal workflows
// that EnsureTokenRenewal starts. They are copied into the workflow input,
// so a running workflow keeps the values it started with.
type RenewalSettings struct {
	// Interval is the maximum time between two checks of a token.
	Interval    time.Duration
	MinInterval time.Duration
	// Threshold must be the renewal window of the Store's Policy.
	Threshold    time.Duration
	Jitter       time.Duration
	MaxRejected  time.Duration
	MaxIdle      time.Duration
	CyclesPerRun int
}

// durationField formats an optional duration for a workflow input; zero
// leaves the field empty, which turns the rule off or takes the default.
func durationField(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// Activities holds the dependencies of the daemon-auth activities. Register
// one instance on the worker; each exported method is an activity named
// after it.
type Activities struct {
	store    *Store
	temporal client.Client
	renewal  RenewalSettings
	// metrics is nil unless WithMetrics set it; use recorder.
	metrics Metrics
}

// New returns the activities. The Temporal client is used only by
// EnsureTokenRenewal.
func New(store *Store, temporalClient client.Client, renewal RenewalSettings) *Activities {
	return &Activities{store: store, temporal: temporalClient, renewal: renewal}
}

// RenewToken extends the token when it is inside the renewal window; see
// Store.RenewToken. It is safe to run twice and to run concurrently.
func (a *Activities) RenewToken(ctx context.Context, in daemonauth.RenewTokenInput) (daemonauth.RenewTokenResult, error) {
	if err := in.Validate(); err != nil {
		a.recorder().TokenRenewal(daemonauth.OutcomeFailed)
		return daemonauth.RenewTokenResult{}, invalidInput(err)
	}

	info := activity.GetInfo(ctx)
	by := Extender{
		WorkflowID: info.WorkflowExecution.ID,
		RunID:      info.WorkflowExecution.RunID,
		ActivityID: info.ActivityID,
	}
	maxIdle, _ := in.IdleLimit()
	result, err := a.store.RenewTokenUnlessIdle(ctx, in.TokenID, by, maxIdle)
	if err != nil {
		a.recordRenewalError(ctx, err)
		return daemonauth.RenewTokenResult{}, toApplicationError(err)
	}
	a.recordRenewal(ctx, result)

	logger := activity.GetLogger(ctx)
	switch {
	case result.Idle:
		logger.Info("Token idle; not renewed", "token_id", in.TokenID, "last_used_at", result.LastUsedAt, "max_idle", in.MaxIdle)
	case result.Renewed:
		logger.Info("Token renewed", "token_id", in.TokenID, "expires_at", result.ExpiresAt)
	case result.NeverExpires:
		logger.Debug("Token never expires; nothing to renew", "token_id", in.TokenID)
	default:
		logger.Debug("Token renewal not due", "token_id", in.TokenID, "expires_at", result.ExpiresAt)
	}
	return result, nil
}

// SyncWorkspaces registers the daemon for its token owner's workspaces; see
// Store.SyncWorkspaces.
func (a *Activities) SyncWorkspaces(ctx context.Context, in daemonauth.SyncWorkspacesInput) (daemonauth.SyncWorkspacesResult, error) {
	if err := in.Validate(); err != nil {
		a.recorder().WorkspacesSynced(SyncFailed, 0, 0)
		return daemonauth.SyncWorkspacesResult{}, invalidInput(err)
	}

	result, err := a.store.SyncWorkspaces(ctx, in.DaemonID, in.TokenID)
	if err != nil {
		a.recorder().WorkspacesSynced(syncErrorOutcome(err), 0, 0)
		return daemonauth.SyncWorkspacesResult{}, toApplicationError(err)
	}
	a.recorder().WorkspacesSynced(SyncSynced, result.Added, result.Removed)

	logger := activity.GetLogger(ctx)
	if result.Added > 0 || result.Removed > 0 {
		logger.Info("Workspaces synced", "daemon_id", in.DaemonID, "added", result.Added, "removed", result.Removed, "workspaces", len(result.Workspaces))
	} else {
		logger.Debug("Workspaces unchanged", "daemon_id", in.DaemonID, "workspaces", len(result.Workspaces))
	}
	return result, nil
}

// EnsureTokenRenewal makes sure exactly one TokenRenewal runs for the daemon
// and follows the given token. Signal-with-start does this atomically: it
// starts the workflow when none runs under the daemon's workflow ID, and
// otherwise delivers a switch-token signal, which the running workflow
// ignores when the token is the one it already follows. Running it twice
// is therefore harmless.
func (a *Activities) EnsureTokenRenewal(ctx context.Context, in daemonauth.EnsureTokenRenewalInput) (daemonauth.EnsureTokenRenewalResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.EnsureTokenRenewalResult{}, invalidInput(err)
	}

	workflowID := daemonauth.RenewalWorkflowID(in.DaemonID)
	options := client.StartWorkflowOptions{
		ID:        workflowID,
		TaskQueue: activity.GetInfo(ctx).TaskQueue,
		// A renewal that was stopped or failed may be started again by the
		// daemon's next start-up.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("Keep the token of daemon %s alive", in.DaemonID),
		// Set at start so a new renewal is listed by daemon at once; the
		// workflow keeps them up to date from then on.
		TypedSearchAttributes: temporal.NewSearchAttributes(
			daemonauth.SearchAttrDaemonID.ValueSet(in.DaemonID),
			daemonauth.SearchAttrNeedsRelogin.ValueSet(in.NeedsRelogin),
		),
	}
	signal := daemonauth.SwitchTokenInput{
		TokenID:      in.TokenID,
		Profile:      in.Profile,
		RenewSoon:    in.RenewSoon,
		ExpiresAt:    in.ExpiresAt,
		NeedsRelogin: in.NeedsRelogin,
	}
	state := daemonauth.RenewalState{ExpiresAt: in.ExpiresAt, NeverExpires: in.NeverExpires, NeedsRelogin: in.NeedsRelogin}
	if in.NeedsRelogin {
		state.LastOutcome = daemonauth.OutcomeRejected
	}
	input := daemonauth.TokenRenewalInput{
		DaemonID:     in.DaemonID,
		TokenID:      in.TokenID,
		Profile:      in.Profile,
		LoginCommand: in.LoginCommand,
		Interval:     durationField(a.renewal.Interval),
		MinInterval:  durationField(a.renewal.MinInterval),
		Threshold:    durationField(a.renewal.Threshold),
		Jitter:       a.renewal.Jitter.String(),
		MaxRejected:  durationField(a.renewal.MaxRejected),
		MaxIdle:      durationField(a.renewal.MaxIdle),
		CyclesPerRun: a.renewal.CyclesPerRun,
		RenewSoon:    in.RenewSoon,
		State:        state,
	}
	run, err := a.temporal.SignalWithStartWorkflow(ctx, workflowID, daemonauth.SignalSwitchToken, signal, options, daemonauth.WorkflowTokenRenewal, input)
	if err != nil {
		return daemonauth.EnsureTokenRenewalResult{}, fmt.Errorf("signal-with-start %s: %w", workflowID, err)
	}
	faultPoint("ensure-renewal:after-signal")

	a.recordStartupExpiry(in)

	activity.GetLogger(ctx).Debug("Token renewal running", "daemon_id", in.DaemonID, "workflow_id", run.GetID(), "run_id", run.GetRunID())
	return daemonauth.EnsureTokenRenewalResult{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
}

// toApplicationError turns a TokenRejectedError into the non-retryable
// TokenRejected application error and leaves every other error retryable.
func toApplicationError(err error) error {
	var rejected *TokenRejectedError
	if errors.As(err, &rejected) {
		details := daemonauth.TokenRejectedDetails{TokenID: rejected.TokenID, Reason: rejected.Reason}
		return temporal.NewNonRetryableApplicationError(rejected.Error(), daemonauth.ErrTypeTokenRejected, nil, details)
	}
	return err
}

func invalidInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), daemonauth.ErrTypeInvalidInput, nil)
}

// Metrics records what the activities do, for the worker's Prometheus
// endpoint. The activities that New returns record nothing; WithMetrics
// sets a recorder.
type Metrics interface {
	// TokenRenewal counts one RenewToken attempt by its outcome, one of
	// the daemonauth.Outcome* values. OutcomeFailed covers every error
	// other than a rejected token.
	TokenRenewal(outcome string)
	// TokenExpiry records when the daemon's token expires. A nil expiresAt
	// removes the daemon's expiry, because the token never expires or was
	// rejected.
	TokenExpiry(daemonID string, expiresAt *time.Time)
	// WorkspacesSynced counts one SyncWorkspaces attempt by its outcome
	// (SyncSynced, SyncRejected or SyncFailed) and the workspace
	// registrations it added and removed.
	WorkspacesSynced(outcome string, added, removed int)
}

// Outcomes of a SyncWorkspaces attempt, as Metrics.WorkspacesSynced
// receives them.
const (
	SyncSynced = "synced"
	// SyncRejected means the token was unknown, revoked or expired.
	SyncRejected = "rejected"
	SyncFailed   = "failed"
)

// WithMetrics makes a record its activities in m and returns a. It is a
// function and not a method because the worker registers every exported
// method of Activities as an activity.
func WithMetrics(a *Activities, m Metrics) *Activities {
	a.metrics = m
	return a
}

func (a *Activities) recorder() Metrics {
	if a.metrics == nil {
		return nopMetrics{}
	}
	return a.metrics
}

type nopMetrics struct{}

func (nopMetrics) TokenRenewal(string)               {}
func (nopMetrics) TokenExpiry(string, *time.Time)    {}
func (nopMetrics) WorkspacesSynced(string, int, int) {}

// recordRenewal counts a RenewToken result, classified as the workflows
// classify it, and records the token's expiry.
func (a *Activities) recordRenewal(ctx context.Context, result daemonauth.RenewTokenResult) {
	outcome := daemonauth.OutcomeNotDue
	switch {
	case result.Idle:
		outcome = daemonauth.OutcomeIdle
	case result.Renewed:
		outcome = daemonauth.OutcomeRenewed
	case result.NeverExpires:
		outcome = daemonauth.OutcomeNeverExpires
	}
	a.recorder().TokenRenewal(outcome)

	// ExpiresAt is nil for a token that never expires, which removes the
	// daemon's expiry.
	if daemonID := daemonOfWorkflow(ctx); daemonID != "" {
		a.recorder().TokenExpiry(daemonID, result.ExpiresAt)
	}
}

// recordRenewalError counts a RenewToken error. A rejected token can no
// longer be used, so its daemon's expiry is removed.
func (a *Activities) recordRenewalError(ctx context.Context, err error) {
	var rejected *TokenRejectedError
	if !errors.As(err, &rejected) {
		a.recorder().TokenRenewal(daemonauth.OutcomeFailed)
		return
	}
	a.recorder().TokenRenewal(daemonauth.OutcomeRejected)
	if daemonID := daemonOfWorkflow(ctx); daemonID != "" {
		a.recorder().TokenExpiry(daemonID, nil)
	}
}

// recordStartupExpiry records the expiry that a start-up's renewal
// reported. RenewToken has recorded it already when the start-up runs under
// its usual workflow ID; this covers start-ups under any other ID. A
// renewal that failed reported no expiry and changes nothing.
func (a *Activities) recordStartupExpiry(in daemonauth.EnsureTokenRenewalInput) {
	switch {
	case in.NeedsRelogin || in.NeverExpires:
		a.recorder().TokenExpiry(in.DaemonID, nil)
	case in.ExpiresAt != nil:
		a.recorder().TokenExpiry(in.DaemonID, in.ExpiresAt)
	}
}

func syncErrorOutcome(err error) string {
	var rejected *TokenRejectedError
	if errors.As(err, &rejected) {
		return SyncRejected
	}
	return SyncFailed
}

// daemonOfWorkflow returns the daemon whose DaemonStartup or TokenRenewal
// runs the activity, read from the workflow ID, because RenewTokenInput
// carries no daemon ID. The starter and EnsureTokenRenewal build these IDs
// with daemonauth.StartupWorkflowID and RenewalWorkflowID. It returns ""
// for a workflow started under another ID.
func daemonOfWorkflow(ctx context.Context) string {
	info := activity.GetInfo(ctx)
	if info.WorkflowType == nil {
		return ""
	}
	var prefix string
	switch info.WorkflowType.Name {
	case daemonauth.WorkflowDaemonStartup:
		prefix = daemonauth.StartupWorkflowID("")
	case daemonauth.WorkflowTokenRenewal:
		prefix = daemonauth.RenewalWorkflowID("")
	default:
		return ""
	}
	daemonID, _ := strings.CutPrefix(info.WorkflowExecution.ID, prefix)
	if daemonID == info.WorkflowExecution.ID {
		return ""
	}
	return daemonID
}
