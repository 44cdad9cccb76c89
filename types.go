package daemonauth

import "time"

// DaemonStartupInput starts a daemon: renew its token, then sync its
// workspaces, then make sure its TokenRenewal runs.
type DaemonStartupInput struct {
	// DaemonID names the daemon, for example "laptop-7".
	DaemonID string `json:"daemon_id"`
	// TokenID is the id of the daemon's personal_access_token row. The raw
	// token never travels through Temporal.
	TokenID string `json:"token_id"`
	// Profile is the CLI profile the daemon logged in with, if any. It is
	// added to the login command shown when the token is rejected.
	Profile string `json:"profile,omitempty"`
	// LoginCommand overrides DefaultLoginCommand in that hint.
	LoginCommand string `json:"login_command,omitempty"`

	decodeErr error
}

// DaemonStartupResult reports what a start-up did.
type DaemonStartupResult struct {
	DaemonID string         `json:"daemon_id"`
	Renewal  RenewalOutcome `json:"renewal"`
	// NeedsRelogin is true when the token was rejected and only a new login
	// brings the daemon back; LoginHint then holds the command to run.
	NeedsRelogin      bool        `json:"needs_relogin"`
	LoginHint         string      `json:"login_hint,omitempty"`
	Workspaces        []Workspace `json:"workspaces"`
	WorkspacesAdded   int         `json:"workspaces_added"`
	WorkspacesRemoved int         `json:"workspaces_removed"`
	// RenewalWorkflowID is the TokenRenewal that now follows this daemon.
	RenewalWorkflowID string `json:"renewal_workflow_id"`
}

// Renewal outcomes, as reported in RenewalOutcome.Outcome.
const (
	OutcomeRenewed      = "renewed"
	OutcomeNotDue       = "not_due"
	OutcomeNeverExpires = "never_expires"
	OutcomeRejected     = "rejected"
	// OutcomeIdle means the token was not renewed because it has not been
	// used for longer than the idle limit.
	OutcomeIdle = "idle"
	// OutcomeFailed means the renewal could not run, for example because the
	// database was unreachable through every retry. The token is unchanged.
	OutcomeFailed = "failed"
)

// RenewalOutcome summarises one renewal attempt inside a workflow result.
type RenewalOutcome struct {
	Outcome      string     `json:"outcome"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	NeverExpires bool       `json:"never_expires,omitempty"`
	// Error is the failure message for the rejected and failed outcomes.
	Error string `json:"error,omitempty"`
	// LastUsedAt is when the token was last used, if the renewal read it.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Workspace is one workspace a daemon is registered for.
type Workspace struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
	Role string `json:"role"`
}

// RenewTokenInput is the input of the RenewToken activity.
type RenewTokenInput struct {
	TokenID string `json:"token_id"`
	// MaxIdle, a Go duration, makes the renewal skip a token that has not
	// been used for this long and report it as idle. Empty skips the check:
	// a daemon that is starting up is about to use its token.
	MaxIdle string `json:"max_idle,omitempty"`
}

// RenewTokenResult is the result of the RenewToken activity.
type RenewTokenResult struct {
	// Renewed is true when this activity extended the token, including a
	// retry that finds the extension its own earlier attempt committed.
	Renewed bool `json:"renewed"`
	// ExpiresAt is the token's expiry after the call, whichever writer set
	// it. It is nil when the token never expires.
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	NeverExpires bool       `json:"never_expires"`
	// Idle is true when the input set MaxIdle and the token has not been
	// used for that long; such a token is not renewed.
	Idle bool `json:"idle,omitempty"`
	// LastUsedAt is personal_access_token.last_used_at, nil if never used.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Reasons a token is rejected, carried as the details of a TokenRejected error.
const (
	RejectUnknown = "unknown"
	RejectRevoked = "revoked"
	RejectExpired = "expired"
)

// TokenRejectedDetails is the detail payload of a TokenRejected error.
type TokenRejectedDetails struct {
	TokenID string `json:"token_id"`
	Reason  string `json:"reason"`
}

// SyncWorkspacesInput is the input of the SyncWorkspaces activity.
type SyncWorkspacesInput struct {
	DaemonID string `json:"daemon_id"`
	TokenID  string `json:"token_id"`
}

// SyncWorkspacesResult is the result of the SyncWorkspaces activity.
type SyncWorkspacesResult struct {
	Workspaces []Workspace `json:"workspaces"`
	Added      int         `json:"added"`
	Removed    int         `json:"removed"`
	SyncedAt   time.Time   `json:"synced_at"`
}

// EnsureTokenRenewalInput is the input of the EnsureTokenRenewal activity.
type EnsureTokenRenewalInput struct {
	DaemonID string `json:"daemon_id"`
	TokenID  string `json:"token_id"`
	// ExpiresAt is the expiry the start-up's renewal reported, so the
	// renewal workflow can sleep until the token is due.
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	NeverExpires bool       `json:"never_expires,omitempty"`
	// NeedsRelogin is true when the start-up found the token rejected, so
	// the renewal reports it at once instead of at its first check.
	NeedsRelogin bool   `json:"needs_relogin,omitempty"`
	Profile      string `json:"profile,omitempty"`
	LoginCommand string `json:"login_command,omitempty"`
	// RenewSoon requests the renewal after RenewSoonDelay instead of a full
	// interval, because the start-up could not renew the token.
	RenewSoon bool `json:"renew_soon,omitempty"`
}

// EnsureTokenRenewalResult is the result of the EnsureTokenRenewal activity.
type EnsureTokenRenewalResult struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// TokenRenewalInput starts, or continues as new, a daemon's TokenRenewal.
type TokenRenewalInput struct {
	DaemonID     string `json:"daemon_id"`
	TokenID      string `json:"token_id"`
	Profile      string `json:"profile,omitempty"`
	LoginCommand string `json:"login_command,omitempty"`
	// Interval is the maximum time between two checks of the token, as a
	// Go duration ("168h"). The workflow sleeps until the token is due for
	// renewal, but never longer than this. Empty means
	// DefaultRenewalInterval.
	Interval string `json:"interval,omitempty"`
	// MinInterval is the minimum time between two checks, and the wait
	// after a cycle whose renewal failed. Empty means DefaultMinInterval,
	// or Interval if that is shorter.
	MinInterval string `json:"min_interval,omitempty"`
	// Threshold is the renewal window: the token is due this long before
	// it expires. It must match the worker's renewal.threshold. Empty means
	// DefaultThreshold.
	Threshold string `json:"threshold,omitempty"`
	// Jitter is the maximum random delay added to the due time, so tokens
	// issued together are not all renewed at the same moment. Empty means
	// DefaultJitter; "0s" disables it.
	Jitter string `json:"jitter,omitempty"`
	// MaxRejected ends the workflow once the token has stayed rejected this
	// long without a switch-token signal. Empty disables the rule.
	MaxRejected string `json:"max_rejected,omitempty"`
	// MaxIdle ends the workflow once the token has not been used for this
	// long (personal_access_token.last_used_at, or created_at if it was
	// never used). Empty disables the rule.
	MaxIdle string `json:"max_idle,omitempty"`
	// CyclesPerRun is the number of renewal cycles after which the workflow
	// continues as new to keep its history short. Zero means
	// DefaultCyclesPerRun.
	CyclesPerRun int `json:"cycles_per_run,omitempty"`
	// RenewSoon makes the first renewal run after RenewSoonDelay instead of
	// a full interval.
	RenewSoon bool `json:"renew_soon,omitempty"`
	// State is carried across continue-as-new; callers leave it empty.
	State RenewalState `json:"state,omitempty"`

	decodeErr error
}

// Defaults of TokenRenewalInput.
const (
	// DefaultRenewalInterval is the longest sleep: a revoked or idle token
	// is noticed within a week even when its renewal is months away.
	DefaultRenewalInterval = 7 * 24 * time.Hour
	// DefaultMinInterval is the shortest sleep, and the wait after a cycle
	// whose renewal failed through all its retries.
	DefaultMinInterval = time.Hour
	// DefaultThreshold is the renewal window of a 90-day token.
	DefaultThreshold = 7 * 24 * time.Hour
	// DefaultJitter spreads renewals over the first 6 hours of the window.
	DefaultJitter       = 6 * time.Hour
	DefaultCyclesPerRun = 100
	// RenewSoonDelay is how long a renewal asked to run soon waits: long
	// enough for a brief database outage to pass, short against the 7-day
	// renewal window. A shorter Interval takes precedence.
	RenewSoonDelay = 5 * time.Minute
)

// RenewalState is a TokenRenewal's record of its token, carried across
// continue-as-new and returned by the status query.
type RenewalState struct {
	Cycles             int        `json:"cycles"`
	ContinueAsNewCount int        `json:"continue_as_new_count"`
	LastOutcome        string     `json:"last_outcome,omitempty"`
	LastOutcomeAt      *time.Time `json:"last_outcome_at,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	ExpiresAt          *time.Time `json:"expires_at,omitempty"`
	NeverExpires       bool       `json:"never_expires,omitempty"`
	NeedsRelogin       bool       `json:"needs_relogin"`
	// RejectedSince is when the token was first found rejected, while it
	// still is.
	RejectedSince *time.Time `json:"rejected_since,omitempty"`
	// LastUsedAt is when the daemon last used the token, as of the last
	// renewal.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// RenewalStatus is the result of the status query.
type RenewalStatus struct {
	DaemonID      string     `json:"daemon_id"`
	TokenID       string     `json:"token_id"`
	Profile       string     `json:"profile,omitempty"`
	NextRenewalAt *time.Time `json:"next_renewal_at,omitempty"`
	RenewalState
}

// SwitchTokenInput is the payload of the switch-token signal.
type SwitchTokenInput struct {
	TokenID string `json:"token_id"`
	Profile string `json:"profile,omitempty"`
	// RenewSoon moves the next renewal to at most RenewSoonDelay from now.
	RenewSoon bool `json:"renew_soon,omitempty"`
	// ExpiresAt is the token's expiry as the sender last saw it, if known.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// NeedsRelogin is true when the sender found the token rejected.
	NeedsRelogin bool `json:"needs_relogin,omitempty"`
}

// RenewNowInput is the argument of the renew-now update.
type RenewNowInput struct{}

// RenewNowResult is the result of the renew-now update.
type RenewNowResult struct {
	Renewal RenewalOutcome `json:"renewal"`
	// FromCache is true when a renewal had run moments before and its
	// outcome is returned without asking the database again.
	FromCache     bool       `json:"from_cache"`
	NextRenewalAt *time.Time `json:"next_renewal_at,omitempty"`
}

// StopInput is the payload of the stop signal.
type StopInput struct {
	Reason string `json:"reason,omitempty"`
}

// TokenRenewalResult reports why a TokenRenewal ended.
type TokenRenewalResult struct {
	DaemonID   string `json:"daemon_id"`
	TokenID    string `json:"token_id"`
	StopReason string `json:"stop_reason"`
	RenewalState
}
