"""Pure alerting rules: alarms, CIC streaks, destination control. No I/O, no protobuf."""
