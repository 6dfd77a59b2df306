"""The ``cdrstats`` command: run the whole product on one machine, stop it, load demo data."""
