"""Training a LoRA adapter: the SFT trainer and its configuration, callbacks, checkpoints, the
fused loss, per-document attention, and the multi-process launch and worker."""
