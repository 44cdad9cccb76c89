package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"daemonauth"
)

// Default renewal policy: a token is extended to 90 days from now once it
// has 7 days or less left.
const (
	DefaultExtension = 90 * 24 * time.Hour
	DefaultThreshold = 7 * 24 * time.Hour
)

// Policy sets when a token is renewed and by how much.
type Policy struct {
	// Extension is how far from now a renewal moves expires_at.
	Extension time.Duration
	// Threshold is the renewal window: a token is renewed only while it
	// expires within this duration from now.
	Threshold time.Duration
}

// Validate rejects a policy under which renewing would not take the token
// out of the renewal window. With Extension <= Threshold every call would
// renew again, and the compare-and-swap would no longer stop concurrent
// writers.
func (p Policy) Validate() error {
	if p.Threshold <= 0 {
		return fmt.Errorf("renewal threshold %s must be positive", p.Threshold)
	}
	if p.Extension <= p.Threshold {
		return fmt.Errorf("renewal extension %s must be longer than the threshold %s, or every renewal would leave the token inside the renewal window", p.Extension, p.Threshold)
	}
	return nil
}

// Extender identifies the activity attempt that extends a token. It is
// written to the audit row, and a retry of the same activity uses it to
// recognise an extension its earlier attempt committed.
type Extender struct {
	WorkflowID string
	RunID      string
	ActivityID string
}

// TokenRejectedError reports a token that cannot be renewed or used: it is
// unknown, revoked or expired.
type TokenRejectedError struct {
	TokenID string
	// Reason is daemonauth.RejectUnknown, RejectRevoked or RejectExpired.
	Reason string
}

func (e *TokenRejectedError) Error() string {
	switch e.Reason {
	case daemonauth.RejectUnknown:
		return fmt.Sprintf("token %s is unknown: it does not exist or its user was deleted", e.TokenID)
	case daemonauth.RejectRevoked:
		return fmt.Sprintf("token %s is revoked", e.TokenID)
	case daemonauth.RejectExpired:
		return fmt.Sprintf("token %s is expired", e.TokenID)
	default:
		return fmt.Sprintf("token %s is rejected: %s", e.TokenID, e.Reason)
	}
}

// Store runs the daemon-auth statements on a PostgreSQL pool.
type Store struct {
	pool   *pgxpool.Pool
	policy Policy
}

// NewStore returns a Store, or an error if the policy is invalid.
func NewStore(pool *pgxpool.Pool, policy Policy) (*Store, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &Store{pool: pool, policy: policy}, nil
}

// renewTokenSQL is the compare-and-swap. The candidate CTE locks the row
// only while the token is still renewable: not revoked, not expired, and
// expiring within the threshold. Under READ COMMITTED a writer that waited
// for the lock re-checks that predicate against the row the winner wrote.
// The winner moved expires_at out of the window, so every later writer
// matches no row. The audit row is written by the same statement, so an
// extension and its audit row commit together or not at all. Every time
// comes from the database clock. With an idle limit ($7), a token that has
// not been used for that long is not renewed either.
const renewTokenSQL = `
WITH candidate AS (
    SELECT id, expires_at AS old_expires_at
    FROM personal_access_token
    WHERE id = $1
      AND NOT revoked
      AND expires_at > now()
      AND expires_at <= now() + make_interval(secs => $2)
      AND ($7::float8 IS NULL OR COALESCE(last_used_at, created_at) > now() - make_interval(secs => $7))
    FOR UPDATE
), renewed AS (
    UPDATE personal_access_token AS t
    SET expires_at = now() + make_interval(secs => $3)
    FROM candidate AS c
    WHERE t.id = c.id
    RETURNING t.id, c.old_expires_at, t.expires_at, t.last_used_at
), audit AS (
    INSERT INTO token_extension (token_id, old_expires_at, new_expires_at, workflow_id, run_id, activity_id)
    SELECT id, old_expires_at, expires_at, $4, $5, $6
    FROM renewed
)
SELECT expires_at, last_used_at FROM renewed`

// classifyTokenSQL reads a token that the compare-and-swap did not extend.
// own_extension is the expiry this same activity wrote in an earlier
// attempt whose result never reached Temporal.
const classifyTokenSQL = `
SELECT t.revoked,
       t.expires_at,
       t.expires_at IS NOT NULL AND t.expires_at <= now() AS expired,
       t.last_used_at,
       $5::float8 IS NOT NULL AND COALESCE(t.last_used_at, t.created_at) <= now() - make_interval(secs => $5) AS idle,
       (SELECT e.new_expires_at
        FROM token_extension AS e
        WHERE e.token_id = t.id
          AND e.workflow_id = $2 AND e.run_id = $3 AND e.activity_id = $4
        ORDER BY e.id DESC
        LIMIT 1) AS own_extension
FROM personal_access_token AS t
WHERE t.id = $1`

// RenewToken extends the token if it is inside the renewal window, and
// otherwise reports its current expiry. Losing the race to another writer
// is a normal outcome: Renewed is false and ExpiresAt is the winner's value.
// It returns a *TokenRejectedError for an unknown, revoked or expired token.
func (s *Store) RenewToken(ctx context.Context, tokenID string, by Extender) (daemonauth.RenewTokenResult, error) {
	return s.RenewTokenUnlessIdle(ctx, tokenID, by, 0)
}

// RenewTokenUnlessIdle is RenewToken that also leaves alone a token that
// has not been used for maxIdle, reporting it as Idle. A zero maxIdle
// turns the check off.
func (s *Store) RenewTokenUnlessIdle(ctx context.Context, tokenID string, by Extender, maxIdle time.Duration) (daemonauth.RenewTokenResult, error) {
	var idleSeconds *float64
	if maxIdle > 0 {
		seconds := maxIdle.Seconds()
		idleSeconds = &seconds
	}

	var (
		expiresAt  time.Time
		lastUsedAt *time.Time
	)
	err := s.pool.QueryRow(ctx, renewTokenSQL,
		tokenID, s.policy.Threshold.Seconds(), s.policy.Extension.Seconds(),
		by.WorkflowID, by.RunID, by.ActivityID, idleSeconds,
	).Scan(&expiresAt, &lastUsedAt)
	if err == nil {
		faultPoint("renew-token:after-commit")
		return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: &expiresAt, LastUsedAt: lastUsedAt}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return daemonauth.RenewTokenResult{}, fmt.Errorf("renew token %s: %w", tokenID, err)
	}

	return s.classifyUnrenewed(ctx, tokenID, by, idleSeconds)
}

// classifyUnrenewed is the one place where "the compare-and-swap matched no
// row" becomes a domain outcome.
func (s *Store) classifyUnrenewed(ctx context.Context, tokenID string, by Extender, idleSeconds *float64) (daemonauth.RenewTokenResult, error) {
	var (
		revoked      bool
		expiresAt    *time.Time
		expired      bool
		lastUsedAt   *time.Time
		idle         bool
		ownExtension *time.Time
	)
	err := s.pool.QueryRow(ctx, classifyTokenSQL, tokenID, by.WorkflowID, by.RunID, by.ActivityID, idleSeconds).
		Scan(&revoked, &expiresAt, &expired, &lastUsedAt, &idle, &ownExtension)
	if errors.Is(err, pgx.ErrNoRows) {
		return daemonauth.RenewTokenResult{}, &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectUnknown}
	}
	if err != nil {
		return daemonauth.RenewTokenResult{}, fmt.Errorf("read token %s: %w", tokenID, err)
	}

	switch {
	case revoked:
		return daemonauth.RenewTokenResult{}, &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectRevoked}
	case ownExtension != nil:
		// An earlier attempt of this activity committed the extension but
		// its result was lost (a worker crash, a timeout). Report what
		// really happened rather than a lost race.
		return daemonauth.RenewTokenResult{Renewed: true, ExpiresAt: expiresAt, LastUsedAt: lastUsedAt}, nil
	case expired:
		return daemonauth.RenewTokenResult{}, &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectExpired}
	default:
		return daemonauth.RenewTokenResult{
			ExpiresAt:    expiresAt,
			NeverExpires: expiresAt == nil,
			Idle:         idle,
			LastUsedAt:   lastUsedAt,
		}, nil
	}
}
