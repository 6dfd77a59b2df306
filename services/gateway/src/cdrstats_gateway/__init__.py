"""CDR-Stats gateway: the web UI and the public REST API in front of every service."""
