"""smolora-recipes: declarative, reproducible LoRA fine-tuning recipes."""

__version__ = "0.1.0"
