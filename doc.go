// Package daemonauth is the contract between the daemon-auth worker and its
// callers: workflow, activity, signal and query names, the task queue, the
// application error types, and one input and result struct per workflow and
// activity.
//
// The structs are encoded as JSON in workflow histories, so their field names
// are part of the contract: a caller using the temporal CLI writes the same
// names. Add fields freely; never rename or remove one that a running or
// recorded workflow may still carry.
package daemonauth
