"""One module per step of a plan: load, dataset, train, merge, sample.

Each module exposes `OUTPUT` (the name of what it writes inside the run directory), optionally
`SIDE_FILES` (extra files it writes to `ctx.side_dir`, such as a training log), and
`run(ctx: StepContext) -> dict` returning the metrics it contributes to the report. Steps write
only there; the executor stores the result in the step cache (or the run folder) when the step
succeeds, and never otherwise.
"""
