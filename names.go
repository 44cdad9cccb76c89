package daemonauth

import "regexp"

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
)

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
