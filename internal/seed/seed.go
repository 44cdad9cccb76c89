// Package seed writes users, workspaces, memberships and personal access
// tokens, as the upstream application does, for the demo and the tests.
package seed

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Raw tokens are "mul_" followed by 40 hex characters (20 random bytes).
const (
	TokenPrefix    = "mul_"
	tokenRandBytes = 20
	// storedPrefixLen is how much of the raw token is kept in token_prefix
	// so a user can recognise a token in a list without the secret.
	storedPrefixLen = len(TokenPrefix) + 8
)

// Token is a newly issued token. Raw is the secret, shown once to the
// issuer and never stored or logged.
type Token struct {
	ID     string `json:"token_id"`
	Raw    string `json:"token"`
	Prefix string `json:"token_prefix"`
}

// NewRawToken returns a new random raw token.
func NewRawToken() (string, error) {
	buf := make([]byte, tokenRandBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return TokenPrefix + hex.EncodeToString(buf), nil
}

// HashToken returns the SHA-256 hex digest stored in token_hash.
func HashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// EnsureUser returns the id of the user with email, creating the user if
// there is none.
func EnsureUser(ctx context.Context, pool *pgxpool.Pool, name, email string) (string, error) {
	var id string
	err := pool.QueryRow(ctx, `
INSERT INTO "user" (name, email) VALUES ($1, $2)
ON CONFLICT (email) DO UPDATE SET updated_at = now()
RETURNING id::text`, name, email).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create user %s: %w", email, err)
	}
	return id, nil
}

// EnsureWorkspace returns the id of the workspace with slug, creating it
// if there is none.
func EnsureWorkspace(ctx context.Context, pool *pgxpool.Pool, name, slug string) (string, error) {
	var id string
	err := pool.QueryRow(ctx, `
INSERT INTO workspace (name, slug) VALUES ($1, $2)
ON CONFLICT (slug) DO UPDATE SET updated_at = now()
RETURNING id::text`, name, slug).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("create workspace %s: %w", slug, err)
	}
	return id, nil
}

// AddMember makes the user a member of the workspace with role, or
// changes the role of an existing member.
func AddMember(ctx context.Context, pool *pgxpool.Pool, workspaceID, userID, role string) error {
	_, err := pool.Exec(ctx, `
INSERT INTO member (workspace_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role`, workspaceID, userID, role)
	if err != nil {
		return fmt.Errorf("add member to workspace %s: %w", workspaceID, err)
	}
	return nil
}

// TokenSpec describes a token to issue.
type TokenSpec struct {
	UserID string
	Name   string
	// ExpiresIn is the lifetime from the database's now(); negative issues
	// an already expired token. Nil issues a token that never expires.
	ExpiresIn *time.Duration
	Revoked   bool
}

// IssueToken stores a new token for the user and returns it with its raw
// secret.
func IssueToken(ctx context.Context, pool *pgxpool.Pool, spec TokenSpec) (Token, error) {
	raw, err := NewRawToken()
	if err != nil {
		return Token{}, err
	}
	var expiresInSeconds *float64
	if spec.ExpiresIn != nil {
		seconds := spec.ExpiresIn.Seconds()
		expiresInSeconds = &seconds
	}

	token := Token{Raw: raw, Prefix: raw[:storedPrefixLen]}
	err = pool.QueryRow(ctx, `
INSERT INTO personal_access_token (user_id, name, token_hash, token_prefix, expires_at, revoked)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)
RETURNING id::text`,
		spec.UserID, spec.Name, HashToken(raw), token.Prefix, expiresInSeconds, spec.Revoked,
	).Scan(&token.ID)
	if err != nil {
		return Token{}, fmt.Errorf("issue token %q: %w", spec.Name, err)
	}
	return token, nil
}

// Days returns a pointer to a duration of n days, for TokenSpec.ExpiresIn.
func Days(n float64) *time.Duration {
	d := time.Duration(n * float64(24*time.Hour))
	return &d
}
