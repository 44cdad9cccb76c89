-- Create the upstream application's tables that this worker reads and
-- writes, with the upstream names and column types, so the worker can run
-- against an existing deployment's database. IF NOT EXISTS leaves an
-- existing deployment's tables untouched.

-- +goose Up
CREATE TABLE IF NOT EXISTS "user" (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name       TEXT NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS workspace (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS member (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id UUID NOT NULL REFERENCES workspace(id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, user_id)
);

-- token_hash is the SHA-256 hex of the raw token ("mul_" and 40 hex
-- characters); the raw token itself is never stored. expires_at NULL means
-- the token never expires.
CREATE TABLE IF NOT EXISTS personal_access_token (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_personal_access_token_user_id ON personal_access_token (user_id);
CREATE INDEX IF NOT EXISTS idx_member_user_id ON member (user_id);

-- +goose Down
-- Deliberately empty: these tables belong to the upstream application and
-- may hold a real deployment's users and tokens, so rolling back this
-- worker's migrations never drops them. Drop them by hand on a throwaway
-- database.
SELECT 1;
