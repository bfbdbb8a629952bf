"""One module per step of a plan: load, dataset, train, merge, sample.

Each module exposes `OUTPUT` (the name of what it writes inside the run directory) and
`run(ctx: StepContext) -> dict` returning the metrics it contributes to the report. Steps write
only to `ctx.output`; the executor renames it into place when the step succeeds.
"""
