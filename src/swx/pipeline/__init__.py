"""The stages of swx, each a function of (settings, dates) that the CLI and the Prefect flows both call:
ingest, train, update, forecast, verify, storms, status — over one `Context`."""
