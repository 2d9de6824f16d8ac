"""Framework integrations; each imports its framework lazily and uses only the public SDK."""
