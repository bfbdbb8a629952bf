"""One module per step of a plan: load, dataset, train, merge, sample, eval, export.

Each module exposes `OUTPUT` (the name of what it writes inside the run directory), optionally
`SIDE_FILES` (extra files it writes to `ctx.side_dir`, such as a training log), and
`run(ctx: StepContext)`, which writes only those and returns the step's typed result
(`steps.results`; the train step's is `training.result.TrainResult`). Later steps read the results
from `ctx.results`, and the report is built from them. The executor keeps a step's output, and
its result's JSON, in the step cache (or the output in the run folder) when the step succeeds,
and never otherwise. Optional hooks: `reusable(result, warn)`, consulted on a cache hit (is
what the entry relies on outside the cache still there?), and `verdict(result, recipe)`, a
reason the result fails the run (an eval gate), consulted after the step, cached or not.
"""
