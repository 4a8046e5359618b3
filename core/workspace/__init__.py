"""Where Noisebloom keeps things on disk, and the SQLite catalog of datasets, runs, models,
metrics, sample sets and exports (docs/architecture.md, "The workspace on disk")."""
