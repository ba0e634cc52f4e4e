-- Sessions' expiry in Unix seconds. tower-sessions' SQLite store wrote it as
-- RFC 3339 text into this INTEGER column; Runboard's own store (which serves
-- PostgreSQL too) writes and compares whole seconds. A value that does not
-- parse becomes 0: that session has expired and is deleted with the others.
UPDATE tower_sessions
SET expiry_date = coalesce(unixepoch(expiry_date), 0)
WHERE typeof(expiry_date) = 'text';
