"""Noisebloom's benchmarks: scripts that measure speed and quality and write JSON into
``benchmarks/results/``; ``python -m benchmarks.report`` regenerates the table in
``benchmarks/README.md`` from those files."""
