"""Container registries: existence checks, digests and tags (Docker Registry HTTP API v2 / OCI)."""
