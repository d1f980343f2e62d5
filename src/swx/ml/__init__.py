"""The station models: networks, datasets, training, the registry of versions, the daily update and
the grid search (torch lives here and below it nowhere)."""
