"""Independent numpy reference of docs/model-format.md (see run.py, ops.py)."""
