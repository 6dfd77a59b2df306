"""CDR-Stats ingest: switch receivers, normalisation, the raw CDR store and its outbox."""
