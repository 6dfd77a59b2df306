"""CDR-Stats alerting: alarms, black/white lists, fraud rules.

Filled by its issue; today its processes start and report health.
"""
