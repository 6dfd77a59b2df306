"""CDR-Stats notify: e-mail, webhooks, the daily mail report.

Filled by its issue; today its processes start and report health.
"""
