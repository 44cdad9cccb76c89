package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
)

// changeSearchAttributes is the GetVersion change ID of the runs that keep
// the DaemonId, TokenExpiresAt and NeedsRelogin search attributes up to
// date. Upserts are commands, so runs recorded before them must not make
// them on replay.
const changeSearchAttributes = "search-attributes"

func (r *renewal) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, daemonauth.QueryStatus, r.status); err != nil {
		return fmt.Errorf("register status query: %w", err)
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, daemonauth.UpdateRenewNow, r.renewNow,
		workflow.UpdateHandlerOptions{Validator: r.validateRenewNow})
	if err != nil {
		return fmt.Errorf("register renew-now update: %w", err)
	}
	return nil
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

// validateRenewNow rejects a renew-now update before it is written to
// history when the workflow is ending anyway.
func (r *renewal) validateRenewNow(daemonauth.RenewNowInput) error {
	if r.stopReason != "" {
		return fmt.Errorf("token renewal of daemon %s is ending (%s)", r.input.DaemonID, r.stopReason)
	}
	return nil
}

// renewNow renews the token at once and returns the outcome. An outcome
// from the last RenewNowCacheFor is returned without a database call, so a
// script that loops on the update cannot hammer the database. A renewal
// already in flight is waited for and reported.
func (r *renewal) renewNow(ctx workflow.Context, _ daemonauth.RenewNowInput) (daemonauth.RenewNowResult, error) {
	if err := workflow.Await(ctx, func() bool { return !r.renewing }); err != nil {
		return daemonauth.RenewNowResult{}, err
	}
	if r.stopReason != "" {
		return daemonauth.RenewNowResult{}, errors.New("token renewal is ending: " + r.stopReason)
	}

	now := workflow.Now(ctx)
	if last := r.state.LastOutcomeAt; last != nil && now.Sub(*last) < daemonauth.RenewNowCacheFor &&
		r.state.LastOutcome != daemonauth.OutcomeFailed {
		return r.renewNowResult(r.lastOutcome(), true), nil
	}

	outcome := r.renewCycle(ctx)
	// Let the main loop restart its timer for the new nextRenewalAt, or
	// end if this renewal triggered an end rule.
	r.wake.SendAsync(struct{}{})
	return r.renewNowResult(outcome, false), nil
}

func (r *renewal) lastOutcome() daemonauth.RenewalOutcome {
	return daemonauth.RenewalOutcome{
		Outcome:      r.state.LastOutcome,
		ExpiresAt:    r.state.ExpiresAt,
		NeverExpires: r.state.NeverExpires,
		Error:        r.state.LastError,
		LastUsedAt:   r.state.LastUsedAt,
	}
}

func (r *renewal) renewNowResult(outcome daemonauth.RenewalOutcome, fromCache bool) daemonauth.RenewNowResult {
	next := r.nextRenewalAt
	return daemonauth.RenewNowResult{Renewal: outcome, FromCache: fromCache, NextRenewalAt: &next}
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
		if signal.NeedsRelogin && !r.state.NeedsRelogin {
			now := workflow.Now(ctx)
			r.state.NeedsRelogin = true
			r.state.RejectedSince = &now
			r.upsertSearchAttributes(ctx)
		}
		return false
	}

	if signal.NeedsRelogin {
		// The sender found the new token rejected, for example a mistyped
		// id. Following it would stop renewing a token that may still
		// work, so the renewal keeps the one it has.
		logger.Warn("Ignoring a switch to a rejected token", "daemon_id", r.input.DaemonID,
			"token_id", r.input.TokenID, "rejected_token_id", signal.TokenID)
		return false
	}

	logger.Info("Switching to a new token", "daemon_id", r.input.DaemonID, "old_token_id", r.input.TokenID, "token_id", signal.TokenID)
	r.input.TokenID = signal.TokenID
	r.input.Profile = signal.Profile
	r.state.NeedsRelogin = false
	r.state.RejectedSince = nil
	return true
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

// searchAttributeValues are the search attribute values of a run.
type searchAttributeValues struct {
	daemonID     string
	expiresAt    time.Time
	needsRelogin bool
}

// upsertSearchAttributes writes the search attributes when they changed,
// for runs that keep them.
func (r *renewal) upsertSearchAttributes(ctx workflow.Context) {
	if !r.searchAttributes {
		return
	}
	values := searchAttributeValues{daemonID: r.input.DaemonID, needsRelogin: r.state.NeedsRelogin}
	if r.state.ExpiresAt != nil && !r.state.NeverExpires {
		values.expiresAt = r.state.ExpiresAt.UTC()
	}
	if r.lastUpsert != nil && *r.lastUpsert == values {
		return
	}

	updates := []temporal.SearchAttributeUpdate{
		daemonauth.SearchAttrDaemonID.ValueSet(values.daemonID),
		daemonauth.SearchAttrNeedsRelogin.ValueSet(values.needsRelogin),
	}
	if values.expiresAt.IsZero() {
		updates = append(updates, daemonauth.SearchAttrTokenExpiresAt.ValueUnset())
	} else {
		updates = append(updates, daemonauth.SearchAttrTokenExpiresAt.ValueSet(values.expiresAt))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Error("Search attributes not updated", "daemon_id", r.input.DaemonID, "error", err)
		return
	}
	r.lastUpsert = &values
}
