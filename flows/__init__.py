"""swx's Prefect flows: thin wiring of `swx.pipeline` into tasks and flows (see README.md)."""

import os

from swx.config import install_secret_masking

install_secret_masking()  # every log line of a flow, its tasks and their workers: no password in clear
# A flow run without PREFECT_API_URL starts a temporary Prefect server, which Prefect gives 20 s to
# answer: on a busy machine (a backfill and 20 dashboard sessions on 2 cores) it needed more, and the
# daily flow failed before its first task. The Makefile and the tests give 120 s and 180 s; so does a
# plain `python -m flows.daily`, unless the operator set it. (Prefect reads it when first imported:
# every flow module imports this package first.)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
