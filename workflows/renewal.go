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

// renewalActivityOptions give each renewal cycle an hour of retries with
// exponential backoff, about ten attempts. An hour is the default minimum
// interval, so a failed cycle never overlaps the next one, and a 7-day
// renewal window holds over eighty such cycles.
var renewalActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    10 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Minute,
	},
}

// Stop reasons reported in TokenRenewalResult.StopReason.
const (
	stopReasonSignal   = "stop signal"
	stopReasonIdle     = "token idle"
	stopReasonRejected = "token rejected"
)

// TokenRenewal keeps one daemon's token alive. It sleeps until the token
// is due for renewal (the start of the renewal window, plus jitter, within
// the minimum and maximum interval), renews it, and repeats.
//
// A rejected token logs the login warning once per cycle and the workflow
// waits for a switch-token signal. It ends, with the reason in its result,
// on the stop signal, when the token has stayed rejected for MaxRejected,
// or when the token has not been used for MaxIdle, because renewing a token
// for a machine that no longer runs keeps an unused credential alive.
// It continues as new after CyclesPerRun cycles, or sooner when the server
// suggests it, so its history stays bounded.
func TokenRenewal(ctx workflow.Context, in daemonauth.TokenRenewalInput) (daemonauth.TokenRenewalResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.TokenRenewalResult{}, invalidInput(daemonauth.WorkflowTokenRenewal, err)
	}

	r := &renewal{
		input:    in,
		schedule: in.Schedule(),
		state:    in.State,
		wake:     workflow.NewBufferedChannel(ctx, 1),
	}
	if err := r.registerHandlers(ctx); err != nil {
		return daemonauth.TokenRenewalResult{}, err
	}
	return r.run(ctx)
}

// renewal is the state of one TokenRenewal run.
type renewal struct {
	input    daemonauth.TokenRenewalInput
	schedule daemonauth.RenewalSchedule
	state    daemonauth.RenewalState

	nextRenewalAt time.Time
	stopReason    string
	// renewing is true while a RenewToken activity is in flight, so the
	// renew-now update never runs a second one beside it.
	renewing bool
	// wake signals the main loop that renew-now changed nextRenewalAt.
	wake workflow.Channel

	// searchAttributes is true for runs that keep the search attributes up
	// to date; lastUpsert holds the values last written.
	searchAttributes bool
	lastUpsert       *searchAttributeValues
}

func (r *renewal) run(ctx workflow.Context) (daemonauth.TokenRenewalResult, error) {
	switchTokens := workflow.GetSignalChannel(ctx, daemonauth.SignalSwitchToken)
	stops := workflow.GetSignalChannel(ctx, daemonauth.SignalStop)
	cyclesPerRun := r.input.CyclesPerRun
	if cyclesPerRun == 0 {
		cyclesPerRun = daemonauth.DefaultCyclesPerRun
	}

	if r.state.NeedsRelogin && r.state.RejectedSince == nil {
		now := workflow.Now(ctx)
		r.state.RejectedSince = &now
	}
	r.searchAttributes = workflow.GetVersion(ctx, changeSearchAttributes, workflow.DefaultVersion, 1) == 1
	r.upsertSearchAttributes(ctx)

	// The first cycle waits, because the start-up that started this
	// workflow has just renewed the token, unless it requested a renewal
	// soon.
	r.scheduleNext(ctx)
	if r.input.RenewSoon {
		r.renewSoon(ctx)
	}
	cyclesAtStart := r.state.Cycles
	for {
		renewNow, err := r.waitForRenewal(ctx, switchTokens, stops)
		if err != nil {
			return daemonauth.TokenRenewalResult{}, err
		}
		if r.stopReason != "" {
			return r.result(), nil
		}

		if renewNow {
			r.renewCycle(ctx)
			if r.stopReason != "" {
				return r.result(), nil
			}
		}

		// Checked after every wake-up, not only after timer-driven cycles:
		// renew-now updates and signals also grow the history.
		if r.state.Cycles-cyclesAtStart >= cyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return r.continueAsNew(ctx, switchTokens, stops)
		}
	}
}

// waitForRenewal blocks until the next renewal is due, a signal or a
// renew-now update arrives, or the workflow is cancelled. It returns true
// when a renewal should run now: the timer fired, or the daemon switched
// to another token.
func (r *renewal) waitForRenewal(ctx workflow.Context, switchTokens, stops workflow.ReceiveChannel) (bool, error) {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()

	wait := max(r.nextRenewalAt.Sub(workflow.Now(ctx)), 0)
	timer := workflow.NewTimerWithOptions(timerCtx, wait, workflow.TimerOptions{Summary: "wait for the next renewal"})

	renewNow := false
	var timerErr error
	selector := workflow.NewSelector(ctx)
	selector.AddFuture(timer, func(f workflow.Future) {
		timerErr = f.Get(ctx, nil)
		renewNow = true
	})
	selector.AddReceive(switchTokens, func(c workflow.ReceiveChannel, _ bool) {
		renewNow = r.receiveSwitchToken(ctx, c)
	})
	selector.AddReceive(stops, func(c workflow.ReceiveChannel, _ bool) {
		r.receiveStop(ctx, c)
	})
	selector.AddReceive(r.wake, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
	})
	selector.Select(ctx)

	if timerErr != nil {
		// The timer context is cancelled only after Select returns, so a
		// failed timer here means the workflow itself was cancelled.
		return false, timerErr
	}
	return renewNow, nil
}

// changeSkipRejectedRenewal is the GetVersion change ID of version 1 of
// TokenRenewal, which stops calling RenewToken once the token has been
// rejected. Revocation, expiry and deletion are final, so every further
// call would fail the same way; only a switch-token signal brings the
// daemon back. Runs started before the change (DefaultVersion) keep
// calling it, which their histories record.
const changeSkipRejectedRenewal = "skip-renewal-of-rejected-token"

// renewCycle runs one renewal, records its outcome, applies the end rules
// and schedules the next check.
func (r *renewal) renewCycle(ctx workflow.Context) daemonauth.RenewalOutcome {
	logger := log.With(workflow.GetLogger(ctx), "daemon_id", r.input.DaemonID, "token_id", r.input.TokenID)

	var outcome daemonauth.RenewalOutcome
	if r.state.NeedsRelogin && workflow.GetVersion(ctx, changeSkipRejectedRenewal, workflow.DefaultVersion, 1) == 1 {
		outcome = daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeRejected, Error: r.state.LastError}
	} else {
		r.renewing = true
		outcome = r.runRenewToken(ctx, logger)
		r.renewing = false
	}
	r.recordOutcome(ctx, outcome)

	switch {
	case outcome.Outcome == daemonauth.OutcomeIdle:
		r.stopReason = fmt.Sprintf("%s: not used since %s, longer than max_idle %s",
			stopReasonIdle, formatTime(r.state.LastUsedAt), r.schedule.MaxIdle)
		logger.Warn("Token idle; renewal ended", "last_used_at", r.state.LastUsedAt, "max_idle", r.schedule.MaxIdle.String())
	case r.state.NeedsRelogin:
		logger.Warn("Token rejected; log in again to get a new token", "reason", outcome.Error,
			"command", daemonauth.LoginHint(r.input.LoginCommand, r.input.Profile))
		rejectedFor := workflow.Now(ctx).Sub(*r.state.RejectedSince)
		if r.schedule.MaxRejected > 0 && rejectedFor >= r.schedule.MaxRejected {
			r.stopReason = fmt.Sprintf("%s since %s, longer than max_rejected %s",
				stopReasonRejected, formatTime(r.state.RejectedSince), r.schedule.MaxRejected)
			logger.Warn("Token stayed rejected; renewal ended", "rejected_since", r.state.RejectedSince)
		}
	}

	r.upsertSearchAttributes(ctx)
	r.scheduleNext(ctx)
	return outcome
}

func (r *renewal) runRenewToken(ctx workflow.Context, logger log.Logger) daemonauth.RenewalOutcome {
	var a *activities.Activities
	options := withSummary(renewalActivityOptions,
		fmt.Sprintf("renew token %s… for daemon %s", daemonauth.ShortID(r.input.TokenID), r.input.DaemonID))
	input := daemonauth.RenewTokenInput{TokenID: r.input.TokenID, MaxIdle: r.input.MaxIdle}
	var renewed daemonauth.RenewTokenResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, options), a.RenewToken, input).Get(ctx, &renewed)
	return renewalOutcome(renewed, err, logger)
}

// recordOutcome stores a cycle's outcome in the state.
func (r *renewal) recordOutcome(ctx workflow.Context, outcome daemonauth.RenewalOutcome) {
	now := workflow.Now(ctx)
	r.state.Cycles++
	r.state.LastOutcome = outcome.Outcome
	r.state.LastOutcomeAt = &now
	r.state.LastError = outcome.Error
	if outcome.ExpiresAt != nil || outcome.NeverExpires {
		r.state.ExpiresAt = outcome.ExpiresAt
		r.state.NeverExpires = outcome.NeverExpires
	}
	if outcome.LastUsedAt != nil {
		r.state.LastUsedAt = outcome.LastUsedAt
	}

	r.state.NeedsRelogin = outcome.Outcome == daemonauth.OutcomeRejected
	switch {
	case !r.state.NeedsRelogin:
		r.state.RejectedSince = nil
	case r.state.RejectedSince == nil:
		r.state.RejectedSince = &now
	}
}

// continueAsNew waits for running update handlers, applies the signals
// already delivered to this run, so none is lost, and then continues as new
// with the state carried over.
func (r *renewal) continueAsNew(ctx workflow.Context, switchTokens, stops workflow.ReceiveChannel) (daemonauth.TokenRenewalResult, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return daemonauth.TokenRenewalResult{}, err
	}

	var stop daemonauth.StopInput
	for stops.ReceiveAsync(&stop) {
		r.stopReason = stopReasonSignal
	}
	if r.stopReason != "" {
		return r.result(), nil
	}
	for {
		var signal daemonauth.SwitchTokenInput
		if !switchTokens.ReceiveAsync(&signal) {
			break
		}
		if signal.Validate() == nil && (signal.TokenID != r.input.TokenID || signal.Profile != r.input.Profile) {
			r.input.TokenID = signal.TokenID
			r.input.Profile = signal.Profile
			r.state.NeedsRelogin = false
			r.state.RejectedSince = nil
		}
	}

	next := r.input
	next.RenewSoon = false
	next.State = r.state
	next.State.ContinueAsNewCount++
	return daemonauth.TokenRenewalResult{}, workflow.NewContinueAsNewError(ctx, daemonauth.WorkflowTokenRenewal, next)
}

func (r *renewal) result() daemonauth.TokenRenewalResult {
	return daemonauth.TokenRenewalResult{
		DaemonID:     r.input.DaemonID,
		TokenID:      r.input.TokenID,
		StopReason:   r.stopReason,
		RenewalState: r.state,
	}
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
