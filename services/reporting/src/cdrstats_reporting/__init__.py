"""CDR-Stats reporting: hourly roll-ups fed by ingest events, and the reports read from them."""
