-- A campaign's runs by status, for its counts and success rate on the campaigns
-- list and its page: kept by triggers in the statement of every change to a
-- run's status or campaign (creation, the status function, retries, bulk jobs,
-- deletion, pruning), so no writer has to know, and read by primary key.
CREATE TABLE campaign_counts (
    campaign_pk INTEGER NOT NULL REFERENCES campaigns (pk) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (campaign_pk, status)
) WITHOUT ROWID;

INSERT INTO campaign_counts (campaign_pk, status, count)
SELECT campaign_pk, status, count(*) FROM runs WHERE campaign_pk IS NOT NULL
GROUP BY campaign_pk, status;

CREATE TRIGGER campaign_counts_insert AFTER INSERT ON runs WHEN NEW.campaign_pk IS NOT NULL BEGIN
    INSERT INTO campaign_counts (campaign_pk, status, count) VALUES (NEW.campaign_pk, NEW.status, 1)
    ON CONFLICT DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER campaign_counts_delete AFTER DELETE ON runs WHEN OLD.campaign_pk IS NOT NULL BEGIN
    UPDATE campaign_counts SET count = count - 1
    WHERE campaign_pk = OLD.campaign_pk AND status = OLD.status;
END;

CREATE TRIGGER campaign_counts_update AFTER UPDATE OF status, campaign_pk ON runs
WHEN OLD.status IS NOT NEW.status OR OLD.campaign_pk IS NOT NEW.campaign_pk BEGIN
    UPDATE campaign_counts SET count = count - 1
    WHERE OLD.campaign_pk IS NOT NULL AND campaign_pk = OLD.campaign_pk AND status = OLD.status;
    INSERT INTO campaign_counts (campaign_pk, status, count)
    SELECT NEW.campaign_pk, NEW.status, 1 WHERE NEW.campaign_pk IS NOT NULL
    ON CONFLICT DO UPDATE SET count = count + 1;
END;
