-- Teams: the per-user epoch that ends sessions, API JWTs and live streams when a
-- user's password or role changes, invitations for users added without a
-- password, and the audit log of what people did.

-- Raised by a password change, a role change and a removal; sessions and JWTs
-- carry the epoch they were issued under and are refused once it moved on.
ALTER TABLE users ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0;

-- One-time links that let a user added without a password set one. Only a
-- SHA-256 of the link's secret is stored.
CREATE TABLE invites (
    pk         INTEGER PRIMARY KEY,
    user_pk    INTEGER NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX invites_user ON invites (user_pk);

-- Every mutation by a person or an API token, written in the transaction of the
-- change. `actor` keeps the email of the time, so entries outlive their users.
CREATE TABLE audit_log (
    pk            INTEGER PRIMARY KEY,
    account_pk    INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    actor_user_pk INTEGER REFERENCES users (pk) ON DELETE SET NULL,
    actor         TEXT    NOT NULL,
    via           TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target_type   TEXT,
    target_id     TEXT,
    detail        TEXT,
    ip            TEXT
);
CREATE INDEX audit_log_account ON audit_log (account_pk, pk);
CREATE INDEX audit_log_account_action ON audit_log (account_pk, action, pk);
CREATE INDEX audit_log_account_actor ON audit_log (account_pk, actor, pk);

-- API tokens may expire.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
CREATE INDEX api_tokens_user ON api_tokens (user_pk, created_at);
