"""Running a plan: the executor (cache lookups, timings, progress), the run's state, building
report.json, and `preview`."""
