"""The delivery promise: options with window, cutoff and fee; capacity slots; order sourcing."""
