"""swx's Prefect flows: thin wiring of `swx.operations` into tasks and flows (see README.md)."""
