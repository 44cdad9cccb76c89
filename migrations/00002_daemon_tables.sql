-- Create this worker's own tables: the daemons, the workspaces each daemon
-- is registered for, and an audit row for every extension of a token.

-- +goose Up
CREATE TABLE daemon (
    id             TEXT PRIMARY KEY,
    token_id       UUID REFERENCES personal_access_token(id) ON DELETE SET NULL,
    last_synced_at TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE daemon_workspace (
    daemon_id     TEXT NOT NULL REFERENCES daemon(id) ON DELETE CASCADE,
    workspace_id  UUID NOT NULL REFERENCES workspace(id) ON DELETE CASCADE,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (daemon_id, workspace_id)
);

-- One row per extension, written in the same statement as the extension
-- itself. activity_id stays the same across retries of one activity, which
-- lets a retry recognise an extension its earlier attempt committed.
CREATE TABLE token_extension (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id       UUID NOT NULL REFERENCES personal_access_token(id) ON DELETE CASCADE,
    old_expires_at TIMESTAMPTZ NOT NULL,
    new_expires_at TIMESTAMPTZ NOT NULL,
    workflow_id    TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    activity_id    TEXT NOT NULL,
    extended_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_token_extension_token_id ON token_extension (token_id);

-- +goose Down
-- Drops the audit trail along with the daemons; export token_extension
-- first if it must be kept.
DROP TABLE token_extension;
DROP TABLE daemon_workspace;
DROP TABLE daemon;
