"""Experiment trackers (`sft.report_to`): a TensorBoard, MLflow or W&B run mirroring each run."""
