"""swx's Prefect flows: thin wiring of `swx.pipeline` into tasks and flows (see README.md)."""
