"""Analyses that read a Model: sizes, the tensor-arena plan, the MCU lint, per-layer error."""
