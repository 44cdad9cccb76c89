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
}

// RenewTokenResult is the result of the RenewToken activity.
type RenewTokenResult struct {
	// Renewed is true when this activity extended the token, including a
	// retry that finds the extension its own earlier attempt committed.
	Renewed bool `json:"renewed"`
	// ExpiresAt is the token's expiry after the call, whoever wrote it. It is
	// nil when the token never expires.
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	NeverExpires bool       `json:"never_expires"`
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
	DaemonID     string `json:"daemon_id"`
	TokenID      string `json:"token_id"`
	Profile      string `json:"profile,omitempty"`
	LoginCommand string `json:"login_command,omitempty"`
	// RenewSoon asks the renewal to run after RenewSoonDelay instead of a
	// full interval, because the start-up could not renew the token.
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
	// Interval is the time between renewals as a Go duration ("72h").
	// Empty means DefaultRenewalInterval.
	Interval string `json:"interval,omitempty"`
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
	// DefaultRenewalInterval is short enough that a 7-day renewal window
	// always contains at least two attempts.
	DefaultRenewalInterval = 72 * time.Hour
	DefaultCyclesPerRun    = 100
	// RenewSoonDelay is how long a renewal asked to run soon waits: long
	// enough for a brief database outage to pass, short against the 7-day
	// renewal window. A shorter Interval takes precedence.
	RenewSoonDelay = 5 * time.Minute
)

// RenewalState is what a TokenRenewal knows about its token, carried across
// continue-as-new and returned by the status query.
type RenewalState struct {
	Cycles             int        `json:"cycles"`
	ContinueAsNewCount int        `json:"continue_as_new_count"`
	LastOutcome        string     `json:"last_outcome,omitempty"`
	LastOutcomeAt      *time.Time `json:"last_outcome_at,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	ExpiresAt          *time.Time `json:"expires_at,omitempty"`
	NeedsRelogin       bool       `json:"needs_relogin"`
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
