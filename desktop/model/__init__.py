"""Observable UI state (QObject + signals, no widgets): library, jobs, scan, training, generation."""
