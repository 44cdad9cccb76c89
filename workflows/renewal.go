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
// exponential backoff. An hour is far shorter than the 72-hour interval, so
// a cycle never overlaps the next one, and far shorter than the 7-day
// renewal window, so a failed cycle leaves room for the next ones.
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
const stopReasonSignal = "stop signal"

// TokenRenewal keeps one daemon's token alive: it sleeps for the interval,
// renews, and repeats. A rejected token logs the login warning every cycle
// and the workflow keeps running, waiting for a switch-token signal. It
// continues as new after CyclesPerRun cycles, or sooner when the server
// suggests it, so its history stays bounded. The stop signal ends it.
func TokenRenewal(ctx workflow.Context, in daemonauth.TokenRenewalInput) (daemonauth.TokenRenewalResult, error) {
	if err := in.Validate(); err != nil {
		return daemonauth.TokenRenewalResult{}, invalidInput(daemonauth.WorkflowTokenRenewal, err)
	}

	r := &renewal{input: in, state: in.State}
	if err := workflow.SetQueryHandler(ctx, daemonauth.QueryStatus, r.status); err != nil {
		return daemonauth.TokenRenewalResult{}, fmt.Errorf("register status query: %w", err)
	}
	return r.run(ctx)
}

// renewal is the state of one TokenRenewal run.
type renewal struct {
	input         daemonauth.TokenRenewalInput
	state         daemonauth.RenewalState
	nextRenewalAt time.Time
	stopReason    string
}

func (r *renewal) status() (daemonauth.RenewalStatus, error) {
	status := daemonauth.RenewalStatus{
		DaemonID:     r.input.DaemonID,
		TokenID:      r.input.TokenID,
		Profile:      r.input.Profile,
		RenewalState: r.state,
	}
	if !r.nextRenewalAt.IsZero() {
		next := r.nextRenewalAt
		status.NextRenewalAt = &next
	}
	return status, nil
}

func (r *renewal) run(ctx workflow.Context) (daemonauth.TokenRenewalResult, error) {
	switchTokens := workflow.GetSignalChannel(ctx, daemonauth.SignalSwitchToken)
	stops := workflow.GetSignalChannel(ctx, daemonauth.SignalStop)
	interval := r.input.RenewalInterval()
	cyclesPerRun := r.input.CyclesPerRun
	if cyclesPerRun == 0 {
		cyclesPerRun = daemonauth.DefaultCyclesPerRun
	}

	// The first cycle waits: whoever started this workflow (a start-up) has
	// just renewed the token, unless it asked for a renewal soon.
	r.nextRenewalAt = workflow.Now(ctx).Add(interval)
	if r.input.RenewSoon {
		r.renewSoon(ctx)
	}
	for cyclesThisRun := 0; ; {
		renewNow, err := r.waitForRenewal(ctx, switchTokens, stops)
		if err != nil {
			return daemonauth.TokenRenewalResult{}, err
		}
		if r.stopReason != "" {
			return r.result(), nil
		}
		if !renewNow {
			continue
		}

		r.renewOnce(ctx)
		r.nextRenewalAt = workflow.Now(ctx).Add(interval)
		cyclesThisRun++

		if cyclesThisRun >= cyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return r.continueAsNew(ctx, switchTokens, stops)
		}
	}
}

// waitForRenewal blocks until the next renewal is due, a signal arrives,
// or the workflow is cancelled. It returns true when a renewal should run
// now: the timer fired, or the daemon switched to another token.
func (r *renewal) waitForRenewal(ctx workflow.Context, switchTokens, stops workflow.ReceiveChannel) (bool, error) {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()

	wait := r.nextRenewalAt.Sub(workflow.Now(ctx))
	if wait < 0 {
		wait = 0
	}
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
	selector.Select(ctx)

	if timerErr != nil {
		// The timer fails only when the workflow itself is cancelled.
		return false, timerErr
	}
	return renewNow, nil
}

// receiveSwitchToken applies one switch-token signal and returns true when
// the daemon now follows a different token, which is then renewed at once.
// Every start-up sends this signal, usually with the token already
// followed, so the repeat is a no-op.
func (r *renewal) receiveSwitchToken(ctx workflow.Context, c workflow.ReceiveChannel) bool {
	var signal daemonauth.SwitchTokenInput
	c.Receive(ctx, &signal)
	logger := workflow.GetLogger(ctx)

	if err := signal.Validate(); err != nil {
		logger.Error("Ignoring malformed switch-token signal", "daemon_id", r.input.DaemonID, "error", err)
		return false
	}
	if signal.TokenID == r.input.TokenID && signal.Profile == r.input.Profile {
		if signal.RenewSoon {
			r.renewSoon(ctx)
		}
		return false
	}

	logger.Info("Switching to a new token", "daemon_id", r.input.DaemonID, "old_token_id", r.input.TokenID, "token_id", signal.TokenID)
	r.input.TokenID = signal.TokenID
	r.input.Profile = signal.Profile
	r.state.NeedsRelogin = false
	return true
}

// renewSoon moves the next renewal to RenewSoonDelay from now, or the
// interval if that is shorter, unless it is already due sooner.
func (r *renewal) renewSoon(ctx workflow.Context) {
	delay := min(daemonauth.RenewSoonDelay, r.input.RenewalInterval())
	soon := workflow.Now(ctx).Add(delay)
	if soon.Before(r.nextRenewalAt) {
		r.nextRenewalAt = soon
		workflow.GetLogger(ctx).Info("Renewal moved forward", "daemon_id", r.input.DaemonID, "next_renewal_at", soon)
	}
}

func (r *renewal) receiveStop(ctx workflow.Context, c workflow.ReceiveChannel) {
	var signal daemonauth.StopInput
	c.Receive(ctx, &signal)
	r.stopReason = stopReasonSignal
	if signal.Reason != "" {
		r.stopReason = stopReasonSignal + ": " + signal.Reason
	}
	workflow.GetLogger(ctx).Info("Token renewal stopped", "daemon_id", r.input.DaemonID, "reason", r.stopReason)
}

// changeSkipRejectedRenewal is the GetVersion change ID of version 1 of
// TokenRenewal, which stops calling RenewToken once the token has been
// rejected. Revocation, expiry and deletion are final, so every further
// call would fail the same way; only a switch-token signal brings the
// daemon back. Runs started before the change (DefaultVersion) keep
// calling it, which their histories record.
const changeSkipRejectedRenewal = "skip-renewal-of-rejected-token"

// renewOnce runs one renewal cycle and records its outcome.
func (r *renewal) renewOnce(ctx workflow.Context) {
	logger := log.With(workflow.GetLogger(ctx), "daemon_id", r.input.DaemonID, "token_id", r.input.TokenID)

	var outcome daemonauth.RenewalOutcome
	if r.state.NeedsRelogin && workflow.GetVersion(ctx, changeSkipRejectedRenewal, workflow.DefaultVersion, 1) == 1 {
		outcome = daemonauth.RenewalOutcome{Outcome: daemonauth.OutcomeRejected, Error: r.state.LastError}
	} else {
		outcome = r.runRenewToken(ctx, logger)
	}

	now := workflow.Now(ctx)
	r.state.Cycles++
	r.state.LastOutcome = outcome.Outcome
	r.state.LastOutcomeAt = &now
	r.state.LastError = outcome.Error
	if outcome.ExpiresAt != nil || outcome.NeverExpires {
		r.state.ExpiresAt = outcome.ExpiresAt
	}
	r.state.NeedsRelogin = outcome.Outcome == daemonauth.OutcomeRejected
	if r.state.NeedsRelogin {
		logger.Warn("Token rejected; log in again to get a new token", "reason", outcome.Error,
			"command", daemonauth.LoginHint(r.input.LoginCommand, r.input.Profile))
	}
}

func (r *renewal) runRenewToken(ctx workflow.Context, logger log.Logger) daemonauth.RenewalOutcome {
	var a *activities.Activities
	options := withSummary(renewalActivityOptions,
		fmt.Sprintf("renew token %s… for daemon %s", daemonauth.ShortID(r.input.TokenID), r.input.DaemonID))
	var renewed daemonauth.RenewTokenResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, options), a.RenewToken,
		daemonauth.RenewTokenInput{TokenID: r.input.TokenID}).Get(ctx, &renewed)
	return renewalOutcome(renewed, err, logger)
}

// continueAsNew applies the signals already delivered to this run, so none
// is lost, and then continues as new with the state carried over.
func (r *renewal) continueAsNew(ctx workflow.Context, switchTokens, stops workflow.ReceiveChannel) (daemonauth.TokenRenewalResult, error) {
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
