"""Pull connectors (Kamailio acc, Asterisk cdr table, FreeSWITCH mod_cdr_mongodb) and the ESL client."""
