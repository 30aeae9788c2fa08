"""Benchmark runs: records on disk, the concurrent runner, grading summaries and reports."""
