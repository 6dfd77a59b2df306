"""Pure gateway rules: users, scopes, the dashboard view model and its formatting. No I/O."""
