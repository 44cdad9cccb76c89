// Package workflows implements the DaemonStartup and TokenRenewal workflows.
//
// Workflow code here must stay deterministic: no clocks, randomness, I/O or
// goroutines except through the workflow package. Any change to the order
// or kind of commands a workflow issues must go through workflow.GetVersion,
// and the replay tests prove that recorded histories still replay.
package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
)

// Register registers every workflow under its public name. The worker and
// the replay tests both call it, so a replay test checks exactly what the
// worker runs.
func Register(registry worker.WorkflowRegistry) {
	registry.RegisterWorkflowWithOptions(DaemonStartup, workflow.RegisterOptions{Name: daemonauth.WorkflowDaemonStartup})
	registry.RegisterWorkflowWithOptions(TokenRenewal, workflow.RegisterOptions{Name: daemonauth.WorkflowTokenRenewal})
}
