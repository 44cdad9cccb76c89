-- Keep the audit trail of token extensions when a token, or the user who
-- owned it, is deleted. The foreign key deleted the audit rows with the
-- token, which lost the record of who kept the token alive.

-- +goose Up
ALTER TABLE token_extension DROP CONSTRAINT token_extension_token_id_fkey;

-- +goose Down
-- Fails while audit rows of deleted tokens exist; delete them first if
-- rolling back is worth losing them.
ALTER TABLE token_extension
    ADD CONSTRAINT token_extension_token_id_fkey
    FOREIGN KEY (token_id) REFERENCES personal_access_token(id) ON DELETE CASCADE;
