package daemonauth

import (
	"regexp"
	"time"

	"go.temporal.io/sdk/temporal"
)

// DefaultTaskQueue is the task queue the worker polls unless configured otherwise.
const DefaultTaskQueue = "daemon-auth"

// Workflow type names, as registered by the worker and typed on the temporal CLI.
const (
	WorkflowDaemonStartup = "DaemonStartup"
	WorkflowTokenRenewal  = "TokenRenewal"
)

// Activity type names, as registered by the worker.
const (
	ActivityRenewToken         = "RenewToken"
	ActivitySyncWorkspaces     = "SyncWorkspaces"
	ActivityEnsureTokenRenewal = "EnsureTokenRenewal"
)

// Signal and query names of the TokenRenewal workflow.
const (
	// SignalSwitchToken points a running TokenRenewal at another token, for
	// example after the operator logged in again. Its payload is SwitchTokenInput.
	SignalSwitchToken = "switch-token"
	// SignalStop ends a TokenRenewal cleanly. Its payload is StopInput.
	SignalStop = "stop"
	// QueryStatus returns a RenewalStatus.
	QueryStatus = "status"
	// UpdateRenewNow renews the token at once and returns a RenewNowResult.
	// Calls within RenewNowCacheFor of the last renewal get its outcome
	// without a database call.
	UpdateRenewNow = "renew-now"
)

// RenewNowCacheFor is how long a renewal outcome is returned to renew-now
// calls without another database call.
const RenewNowCacheFor = time.Minute

// Search attributes of TokenRenewal. They must be registered on the
// namespace before the worker starts (see the README). None holds a token
// or its hash.
var (
	// SearchAttrDaemonID is the daemon a TokenRenewal keeps alive.
	SearchAttrDaemonID = temporal.NewSearchAttributeKeyKeyword("DaemonId")
	// SearchAttrTokenExpiresAt is the token's expiry; unset when the token
	// never expires or the expiry is not known yet.
	SearchAttrTokenExpiresAt = temporal.NewSearchAttributeKeyTime("TokenExpiresAt")
	// SearchAttrNeedsRelogin is true while the daemon's token is rejected.
	SearchAttrNeedsRelogin = temporal.NewSearchAttributeKeyBool("NeedsRelogin")
)

// SearchAttributes lists the search attributes above, for registration.
func SearchAttributes() []temporal.SearchAttributeKey {
	return []temporal.SearchAttributeKey{SearchAttrDaemonID, SearchAttrTokenExpiresAt, SearchAttrNeedsRelogin}
}

// Application error types. Workflows and callers tell failures apart by these
// strings, so they never change once released.
const (
	// ErrTypeTokenRejected marks a token that can no longer be used at all: it
	// is unknown, revoked or already expired. Only a new login fixes it, so it
	// is never retried.
	ErrTypeTokenRejected = "TokenRejected"
	// ErrTypeInvalidInput marks a malformed workflow or activity input. It is
	// never retried because the same input would fail the same way.
	ErrTypeInvalidInput = "InvalidInput"
)

// DefaultLoginCommand is the command an operator runs to get a new token
// when the workflow input names none.
const DefaultLoginCommand = "multica login"

// Workflow ID prefixes. One TokenRenewal per daemon is enforced through its
// workflow ID, so the scheme must stay stable.
const (
	startupWorkflowIDPrefix = "daemon-startup-"
	renewalWorkflowIDPrefix = "token-renewal-"
)

// StartupWorkflowID returns the workflow ID of a daemon's start-up.
func StartupWorkflowID(daemonID string) string { return startupWorkflowIDPrefix + daemonID }

// RenewalWorkflowID returns the workflow ID of a daemon's TokenRenewal.
func RenewalWorkflowID(daemonID string) string { return renewalWorkflowIDPrefix + daemonID }

// Daemon IDs and profiles end up in workflow IDs and in a shell command shown
// to operators, so both are restricted to characters that need no quoting.
var (
	daemonIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	profilePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)
