"""Repeated runs: the batch of --count, runs in an isolated process, per-stage statistics, what changed between runs (--watch)."""
