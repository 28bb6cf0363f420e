"""Longer fuzzing runs of the hostile-input targets (see fuzz/run.py)."""
