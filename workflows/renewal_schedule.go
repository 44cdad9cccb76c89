package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"daemonauth"
)

// jitterStream names the workflow's deterministic random source for
// jitter. Draws are not recorded in history but repeat on replay.
const jitterStream = "daemonauth/renewal-jitter"

// scheduleNext sets nextRenewalAt from what the last cycle learned:
//   - a failed renewal is retried after the minimum interval;
//   - a rejected token, one that never expires, or one whose expiry is not
//     known yet is checked again after the maximum interval;
//   - otherwise the token is due when its renewal window opens, at
//     expires_at - threshold, plus up to Jitter so that tokens issued
//     together are not renewed together.
//
// The wait is clamped between the minimum and the maximum interval.
func (r *renewal) scheduleNext(ctx workflow.Context) {
	now := workflow.Now(ctx)
	r.nextRenewalAt = now.Add(nextWait(now, r.state, r.schedule, r.drawJitter(ctx)))
}

// nextWait is the arithmetic of scheduleNext, kept free of workflow state so
// it can be tested directly.
func nextWait(now time.Time, state daemonauth.RenewalState, schedule daemonauth.RenewalSchedule, jitter time.Duration) time.Duration {
	var wait time.Duration
	switch {
	case state.LastOutcome == daemonauth.OutcomeFailed:
		wait = schedule.MinInterval
	case state.NeedsRelogin || state.NeverExpires || state.ExpiresAt == nil:
		wait = schedule.MaxInterval
	default:
		due := state.ExpiresAt.Add(-schedule.Threshold)
		wait = due.Sub(now) + jitter
	}
	return min(max(wait, schedule.MinInterval), schedule.MaxInterval)
}

// drawJitter returns a duration in [0, Jitter) from the workflow's
// deterministic random source.
func (r *renewal) drawJitter(ctx workflow.Context) time.Duration {
	if r.schedule.Jitter <= 0 {
		return 0
	}
	return time.Duration(workflow.GetRandomStream(ctx, jitterStream).Uint64() % uint64(r.schedule.Jitter))
}

// renewSoon moves the next renewal to RenewSoonDelay from now, or the
// minimum interval if that is shorter, unless it is already due sooner.
func (r *renewal) renewSoon(ctx workflow.Context) {
	delay := min(daemonauth.RenewSoonDelay, r.schedule.MinInterval)
	soon := workflow.Now(ctx).Add(delay)
	if soon.Before(r.nextRenewalAt) {
		r.nextRenewalAt = soon
		workflow.GetLogger(ctx).Info("Renewal moved forward", "daemon_id", r.input.DaemonID, "next_renewal_at", soon)
	}
}
