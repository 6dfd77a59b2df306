"""Notify's pure rules: deliveries, retries, signing, e-mail building, mail-report periods — no I/O."""
