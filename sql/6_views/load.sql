-- The live load of the database, for admit_when expressions (3_engine/admit_when.sql) and for
-- people: one row of counts, the same for every reader.

CREATE VIEW sched.load AS
SELECT l.active_backends, l.lock_waits, l.replication_lag, l.wal_rate FROM sched._load() l;
COMMENT ON VIEW sched.load IS 'The live load of this database, one row; admit_when expressions name its columns bare.';
COMMENT ON COLUMN sched.load.active_backends IS 'Sessions running a statement now (not counting the one asking, nor WAL senders).';
COMMENT ON COLUMN sched.load.lock_waits IS 'Sessions waiting for a lock now.';
COMMENT ON COLUMN sched.load.replication_lag IS 'Seconds: on a primary the largest write, flush or replay lag of its standbys (0 with none); on a standby how old the last replayed transaction is.';
COMMENT ON COLUMN sched.load.wal_rate IS 'Bytes of WAL written per second, measured between the two latest evaluations of an admit_when (at most a second apart while attempts wait).';
