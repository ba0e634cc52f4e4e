-- Leases (SQLite's 0019): work that one server at a time should do is done
-- by the server holding its named lease.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
