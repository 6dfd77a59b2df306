"""Pure reporting rules: roll-up keys, the dashboard, domain errors. No I/O, no protobuf."""
