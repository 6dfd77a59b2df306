"""CDR files: streaming record splitting and the per-format parsers (FreeSWITCH mod_cdr_csv, Asterisk
Master.csv, generic CSV with a mapping profile)."""
