"""swx's Prefect flows: thin wiring of `swx.pipeline` into tasks and flows (see README.md)."""

from swx.config import install_secret_masking

install_secret_masking()  # every log line of a flow, its tasks and their workers: no password in clear
