"""Fine-tuning: spec → resolved inputs → training loop → run records with lineage."""
