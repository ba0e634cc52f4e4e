-- The text query the store builds for SQLite's FTS5 (each word or phrase a
-- double-quoted unit, a quote inside doubled: store::db::filter::fts_match) as
-- a tsquery over the `simple` configuration: every unit must match, a phrase's
-- words adjacent and in order. The same text then searches both databases.
CREATE FUNCTION fts5_tsquery(query text) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    unit text;
    result tsquery;
BEGIN
    FOR unit IN
        SELECT replace(m[1], '""', '"') FROM regexp_matches(query, '"((?:[^"]|"")*)"', 'g') AS m
    LOOP
        IF result IS NULL THEN
            result := phraseto_tsquery('simple', unit);
        ELSE
            result := result && phraseto_tsquery('simple', unit);
        END IF;
    END LOOP;
    RETURN coalesce(result, ''::tsquery);
END
$$;
