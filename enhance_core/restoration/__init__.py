"""Classical restoration helpers for scanned photographs (dust and scratch detection)."""
