"""Table 1 of Jin et al. (2025), for side-by-side comparison (accuracy %, CommonGen coverage %)."""

from __future__ import annotations

BENCHMARKS = ["gpqa_diamond", "commongen", "aime2024", "math500", "humaneval", "mbpp_sanitized"]

TABLE1: dict[str, dict[str, float]] = {
    "Qwen2.5-32B-Instruct": dict(zip(BENCHMARKS, [50.2, 96.7, 21.1, 84.4, 89.0, 80.2], strict=True)),
    "DeepSeek-V3": dict(zip(BENCHMARKS, [58.6, 98.6, 33.3, 88.6, 89.6, 83.9], strict=True)),
    "GPT-4o": dict(zip(BENCHMARKS, [49.2, 97.8, 7.8, 81.3, 90.9, 85.4], strict=True)),
    "s1.1-32B": dict(zip(BENCHMARKS, [58.3, 94.1, 53.3, 90.6, 82.3, 77.4], strict=True)),
    "DeepSeek-R1": dict(zip(BENCHMARKS, [75.5, 97.2, 78.9, 96.2, 98.2, 91.7], strict=True)),
    "o3-mini": dict(zip(BENCHMARKS, [71.3, 99.1, 84.4, 95.3, 97.0, 93.6], strict=True)),
    "M1-32B": dict(zip(BENCHMARKS, [61.1, 96.9, 60.0, 95.1, 92.8, 89.1], strict=True)),
    "M1-32B with CEO": dict(zip(BENCHMARKS, [62.1, 97.4, 62.2, 95.8, 93.9, 90.5], strict=True)),
}
