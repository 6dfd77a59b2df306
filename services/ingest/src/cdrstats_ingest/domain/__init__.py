"""Pure ingest rules: parsing, normalisation, number intelligence. No I/O, no protobuf."""
