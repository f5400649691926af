-- The interrupted-run sweep (every replica, every minute, and every app open) looks for
-- runs still `running`. A partial index keeps that read to the few live rows instead of
-- every run ever recorded.
CREATE INDEX step_runs_running ON step_runs (started_ms) WHERE status = 'running';
