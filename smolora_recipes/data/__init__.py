"""The data layer: read sources into records, build examples, tokenize with loss masks."""
