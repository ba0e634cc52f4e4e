-- Leases: work that one server at a time should do (a retention pass, the
-- bulk jobs' walk) is done by the server holding its named lease. A lease
-- that is not renewed runs out, so a server that stopped hands its work on.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
