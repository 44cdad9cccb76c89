package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"daemonauth"
)

// tokenOwnerSQL reads the owner of a usable token. The row lock keeps the
// token from being revoked halfway through a sync.
const tokenOwnerSQL = `
SELECT user_id, revoked, expires_at IS NOT NULL AND expires_at <= now() AS expired
FROM personal_access_token
WHERE id = $1
FOR SHARE`

// upsertDaemonSQL records the daemon, the token it now uses and the sync
// time. Its row lock also serialises concurrent syncs of one daemon.
const upsertDaemonSQL = `
INSERT INTO daemon (id, token_id, last_synced_at)
VALUES ($1, $2, now())
ON CONFLICT (id) DO UPDATE
SET token_id = EXCLUDED.token_id, last_synced_at = EXCLUDED.last_synced_at
RETURNING last_synced_at`

const removeDepartedWorkspacesSQL = `
DELETE FROM daemon_workspace
WHERE daemon_id = $1
  AND workspace_id NOT IN (SELECT workspace_id FROM member WHERE user_id = $2)`

const addNewWorkspacesSQL = `
INSERT INTO daemon_workspace (daemon_id, workspace_id)
SELECT $1, workspace_id FROM member WHERE user_id = $2
ON CONFLICT (daemon_id, workspace_id) DO NOTHING`

const memberWorkspacesSQL = `
SELECT w.id::text, w.name, w.slug, m.role
FROM member AS m
JOIN workspace AS w ON w.id = m.workspace_id
WHERE m.user_id = $1
ORDER BY w.slug`

// SyncWorkspaces registers the daemon for exactly the workspaces the
// token's owner is a member of, in one transaction. A second call with no
// membership change in between adds and removes nothing. It returns a
// *TokenRejectedError for an unknown, revoked or expired token, and then
// writes nothing.
func (s *Store) SyncWorkspaces(ctx context.Context, daemonID, tokenID string) (daemonauth.SyncWorkspacesResult, error) {
	var result daemonauth.SyncWorkspacesResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			userID  string
			revoked bool
			expired bool
		)
		err := tx.QueryRow(ctx, tokenOwnerSQL, tokenID).Scan(&userID, &revoked, &expired)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectUnknown}
		case err != nil:
			return fmt.Errorf("read token %s: %w", tokenID, err)
		case revoked:
			return &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectRevoked}
		case expired:
			return &TokenRejectedError{TokenID: tokenID, Reason: daemonauth.RejectExpired}
		}

		var syncedAt time.Time
		if err := tx.QueryRow(ctx, upsertDaemonSQL, daemonID, tokenID).Scan(&syncedAt); err != nil {
			return fmt.Errorf("record daemon %s: %w", daemonID, err)
		}

		removed, err := tx.Exec(ctx, removeDepartedWorkspacesSQL, daemonID, userID)
		if err != nil {
			return fmt.Errorf("remove departed workspaces of daemon %s: %w", daemonID, err)
		}

		added, err := tx.Exec(ctx, addNewWorkspacesSQL, daemonID, userID)
		if err != nil {
			return fmt.Errorf("add workspaces of daemon %s: %w", daemonID, err)
		}

		rows, err := tx.Query(ctx, memberWorkspacesSQL, userID)
		if err != nil {
			return fmt.Errorf("list workspaces of daemon %s: %w", daemonID, err)
		}
		// For no rows CollectRows returns an empty, non-nil slice (pgx
		// v5.5.4 and later), so a user in no workspace gets "workspaces": []
		// in the result, not null.
		workspaces, err := pgx.CollectRows(rows, pgx.RowToStructByPos[daemonauth.Workspace])
		if err != nil {
			return fmt.Errorf("list workspaces of daemon %s: %w", daemonID, err)
		}

		result = daemonauth.SyncWorkspacesResult{
			Workspaces: workspaces,
			Added:      int(added.RowsAffected()),
			Removed:    int(removed.RowsAffected()),
			SyncedAt:   syncedAt,
		}
		faultPoint("sync-workspaces:before-commit")
		return nil
	})
	if err != nil {
		return daemonauth.SyncWorkspacesResult{}, err
	}
	faultPoint("sync-workspaces:after-commit")
	return result, nil
}
