package daemonclient

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"daemonauth"
)

// WriteStartupResult writes a start-up result for a person to read.
func WriteStartupResult(w io.Writer, result daemonauth.DaemonStartupResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "daemon\t%s\n", result.DaemonID)
	fmt.Fprintf(tw, "renewal\t%s\n", DescribeRenewal(result.Renewal))
	if result.NeedsRelogin {
		fmt.Fprintf(tw, "needs login\tyes: run `%s`\n", result.LoginHint)
	} else {
		fmt.Fprintf(tw, "needs login\tno\n")
	}
	fmt.Fprintf(tw, "workspaces\t%s\n", describeWorkspaces(result))
	if result.RenewalWorkflowID != "" {
		fmt.Fprintf(tw, "renewal workflow\t%s\n", result.RenewalWorkflowID)
	}
	tw.Flush()
}

// DescribeRenewal returns a one-line description of a renewal outcome.
func DescribeRenewal(outcome daemonauth.RenewalOutcome) string {
	switch outcome.Outcome {
	case daemonauth.OutcomeRenewed:
		return "renewed, now expires " + formatTime(outcome.ExpiresAt)
	case daemonauth.OutcomeNotDue:
		return "not due, expires " + formatTime(outcome.ExpiresAt)
	case daemonauth.OutcomeNeverExpires:
		return "never expires"
	case daemonauth.OutcomeRejected:
		return "rejected: token " + outcome.Error
	case daemonauth.OutcomeFailed:
		return "failed: " + outcome.Error
	default:
		return outcome.Outcome
	}
}

func describeWorkspaces(result daemonauth.DaemonStartupResult) string {
	if len(result.Workspaces) == 0 {
		return "none"
	}
	names := make([]string, 0, len(result.Workspaces))
	for _, ws := range result.Workspaces {
		names = append(names, fmt.Sprintf("%s (%s)", ws.Slug, ws.Role))
	}
	return fmt.Sprintf("%s; added %d, removed %d", strings.Join(names, ", "), result.WorkspacesAdded, result.WorkspacesRemoved)
}

// WriteRenewalStatus writes a TokenRenewal status for a person to read.
func WriteRenewalStatus(w io.Writer, status daemonauth.RenewalStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "daemon\t%s\n", status.DaemonID)
	fmt.Fprintf(tw, "token id\t%s\n", status.TokenID)
	if status.Profile != "" {
		fmt.Fprintf(tw, "profile\t%s\n", status.Profile)
	}
	lastOutcome := "none yet"
	if status.LastOutcome != "" {
		lastOutcome = status.LastOutcome + " at " + formatTime(status.LastOutcomeAt)
		if status.LastError != "" {
			lastOutcome += " (" + status.LastError + ")"
		}
	}
	fmt.Fprintf(tw, "last outcome\t%s\n", lastOutcome)
	fmt.Fprintf(tw, "expires at\t%s\n", formatTime(status.ExpiresAt))
	fmt.Fprintf(tw, "next renewal\t%s\n", formatTime(status.NextRenewalAt))
	fmt.Fprintf(tw, "needs login\t%t\n", status.NeedsRelogin)
	fmt.Fprintf(tw, "cycles\t%d (continued as new %d times)\n", status.Cycles, status.ContinueAsNewCount)
	tw.Flush()
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
