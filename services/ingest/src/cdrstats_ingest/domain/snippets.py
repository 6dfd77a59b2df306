"""The configuration an operator pastes into a switch so it sends its CDRs to CDR-Stats.

Parameter names are the switches' own: FreeSWITCH mod_json_cdr (``json_cdr.conf``), mod_cdr_mongodb and
mod_event_socket; Asterisk ``cdr.conf`` ([general], [csv]), ``res_odbc.conf`` and ``cdr_adaptive_odbc.conf``;
Kamailio's acc module (``cdr_enable``, ``cdr_extra``, ``cdrs_table``, ``db_url``) with the dialog module.
Secrets are never filled in: the switch password is only ever stored hashed, and connector passwords are
write only, so the snippets say where to put them.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from cdrstats_ingest.domain import kamailio
from cdrstats_ingest.domain.switch import SwitchConfig

PASSWORD_PLACEHOLDER = "SWITCH_PASSWORD"  # noqa: S105 - a placeholder the operator replaces
#: Kamailio pseudo-variables giving each canonical field at the end of a dialog (cdr_extra)
KAMAILIO_EXTRA_VALUES = {
    "call_id": "$dlg(callid)",
    "caller_id_number": "$fU",
    "caller_id_name": "$fn",
    "destination_number": "$rU",
    "accountcode": "$dlg_var(accountcode)",
    "remote_media_ip": "$dlg_var(media_ip)",
    "sip_code": "$dlg_var(sip_code)",
    "sip_reason": "$dlg_var(sip_reason)",
    "answer_time": "$dlg_var(answer_time)",
}
#: acc_cdrs' own columns (cdr_start_id, cdr_end_id, cdr_duration_id): never extras
_KAMAILIO_CORE = {"start_time", "end_time", "duration"}


@dataclasses.dataclass(frozen=True)
class SwitchSetup:
    ingest_url: str  # where the switch pushes CDRs ("" when CDR-Stats pulls them)
    snippet: str
    language: str  # xml, ini, cfg, text
    call_state_url: str


def switch_setup(config: SwitchConfig, public_url: str) -> SwitchSetup:
    """Ingest URL and configuration snippet for the switch's type (and connector, if it has one)."""
    base = public_url.rstrip("/")
    call_state_url = f"{base}/v1/switches/{config.id}/calls"
    if config.type == "freeswitch":
        url = f"{base}/v1/freeswitch/json"
        return SwitchSetup(url, freeswitch_snippet(config, url), "xml", call_state_url)
    if config.type == "asterisk":
        return SwitchSetup("", asterisk_snippet(config), "ini", call_state_url)
    if config.type == "kamailio":
        return SwitchSetup("", kamailio_snippet(config), "cfg", call_state_url)
    text = (
        f"Send canonical CDRs with the bulk API: gRPC IngestService.SubmitCdrs, or POST a JSON list to the\n"
        f"gateway's /api/v1/cdrs with switch id {config.id!r}. Live calls: POST started/answered/ended events\n"
        f"to {call_state_url} (HTTP basic auth, user {config.username or '(set a username)'}).\n"
    )
    return SwitchSetup("", text, "text", call_state_url)


def _xml(value: str) -> str:
    return quoteattr(value)


def freeswitch_snippet(config: SwitchConfig, url: str) -> str:
    user = config.username or config.id
    lines = [
        f"<!-- conf/autoload_configs/json_cdr.conf.xml on switch {_comment(config.id)}; load mod_json_cdr",
        "     (and add it to modules.conf.xml). The password is the one saved for this switch. -->",
        '<configuration name="json_cdr.conf" description="JSON CDRs to CDR-Stats">',
        "  <settings>",
        f'    <param name="url" value={_xml(url)}/>',
        f'    <param name="cred" value={_xml(f"{user}:{PASSWORD_PLACEHOLDER}")}/>',
        '    <param name="auth-scheme" value="basic"/>',
        "    <!-- raw application/json body; true (url-encoded form) and base64 are accepted too -->",
        '    <param name="encode" value="false"/>',
        '    <param name="encode-values" value="true"/>',
        '    <param name="log-b-leg" value="true"/>',
        '    <param name="prefix-a-leg" value="false"/>',
        "    <!-- a failed POST is retried, then kept on disk (re-send later with curl or cdrstats import) -->",
        '    <param name="retries" value="3"/>',
        '    <param name="delay" value="5"/>',
        '    <param name="log-errors-to-disk" value="true"/>',
        '    <param name="disable-100-continue" value="true"/>',
        "  </settings>",
        "</configuration>",
    ]
    connector = config.connector
    if connector.type == "freeswitch_esl":
        host, _, port = connector.dsn.rpartition(":")
        lines += [
            "",
            "<!-- live calls: CDR-Stats connects to the event socket at "
            f"{_comment(connector.dsn)}; conf/autoload_configs/event_socket.conf.xml -->",
            '<configuration name="event_socket.conf" description="Socket Client">',
            "  <settings>",
            f'    <param name="listen-ip" value={_xml(host or "0.0.0.0")}/>',
            f'    <param name="listen-port" value={_xml(port or "8021")}/>',
            '    <param name="password" value="THE_CONNECTOR_PASSWORD_SAVED_IN_CDR_STATS"/>',
            "  </settings>",
            "</configuration>",
        ]
    elif connector.type == "freeswitch_mongodb":
        parts = urlsplit(connector.dsn)
        database = parts.path.strip("/") or "freeswitch_cdr"
        collection = connector.table or "cdr"
        namespace = collection if "." in collection else f"{database}.{collection}"
        lines += [
            "",
            "<!-- or instead: CDR-Stats reads what mod_cdr_mongodb writes; conf/autoload_configs/cdr_mongodb.conf.xml -->",
            '<configuration name="cdr_mongodb.conf" description="MongoDB CDR logger">',
            "  <settings>",
            f'    <param name="host" value={_xml(parts.hostname or "127.0.0.1")}/>',
            f'    <param name="port" value={_xml(str(parts.port or 27017))}/>',
            f'    <param name="namespace" value={_xml(namespace)}/>',
            '    <param name="log-b-leg" value="true"/>',
            "  </settings>",
            "</configuration>",
        ]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    """XML comments may not hold "--"."""
    return text.replace("--", "- -")


def asterisk_snippet(config: SwitchConfig) -> str:
    connector = config.connector
    general = [
        "; /etc/asterisk/cdr.conf",
        "[general]",
        "enable=yes",
        "unanswered=yes     ; unanswered calls are attempts: ASR and CIC need them",
        "congestion=yes",
        "endbeforehexten=no",
        "initiatedseconds=no",
        "",
    ]
    if connector.type == "asterisk_db":
        parts = urlsplit(connector.dsn)
        table = connector.table or "cdr"
        return "\n".join(
            [
                f"; CDR-Stats polls the {table!r} table at {parts.hostname or 'the database'}"
                f" (database {parts.path.strip('/') or '?'}) every {connector.poll_interval_s} s;",
                f"; Asterisk writes it through ODBC. Times are read in the switch's time zone ({config.time_zone}).",
                *general,
                "; /etc/asterisk/res_odbc.conf",
                "[cdrstats]",
                "enabled => yes",
                "dsn => cdrstats          ; the unixODBC DSN of that database (odbc.ini)",
                f"username => {parts.username or 'asterisk'}",
                "password => THE_DATABASE_PASSWORD",
                "pre-connect => yes",
                "",
                "; /etc/asterisk/cdr_adaptive_odbc.conf",
                "[cdrstats]",
                "connection=cdrstats",
                f"table={table}",
                "; older calldate layout: uncomment",
                ";alias start => calldate",
                "",
            ]
        )
    return "\n".join(
        [
            "; Master.csv: import it with",
            f";   cdrstats import /var/log/asterisk/cdr-csv/Master.csv --switch {config.id} --format asterisk_csv",
            f"; (or upload it on the switch's page). Times are read in the switch's time zone ({config.time_zone}).",
            *general,
            "[csv]",
            "usegmtime=no",
            "loguniqueid=yes    ; the uniqueid is the CDR's identity: re-imports are no-ops",
            "loguserfield=yes",
            "accountlogs=no",
            "newcdrcolumns=yes  ; peeraccount, linkedid, sequence",
            "",
        ]
    )


def kamailio_snippet(config: SwitchConfig) -> str:
    connector = config.connector
    columns = kamailio.column_map(connector.columns)
    extras = [
        f"{column}={KAMAILIO_EXTRA_VALUES[field]}"
        for field, column in columns.items()
        if column and field not in _KAMAILIO_CORE and field in KAMAILIO_EXTRA_VALUES
    ]
    table = connector.table or "acc_cdrs"
    db_url = _kamailio_db_url(connector.dsn)
    db_module = "db_postgres.so" if db_url.startswith("postgres") else "db_mysql.so"
    flags = "setflag(1); setflag(2);  # acc and missed_calls rows: SIP codes of failed calls"
    lines = [
        f"# kamailio.cfg of switch {config.id}: one {table} row per dialog, read by CDR-Stats every "
        f"{connector.poll_interval_s} s.",
        "# Add each cdr_extra column to the table first, e.g.",
        f"#   ALTER TABLE {table} ADD COLUMN callid VARCHAR(255) NOT NULL DEFAULT '';",
        f"# Times are read in the switch's time zone ({config.time_zone}).",
        f'loadmodule "{db_module}"',
        'loadmodule "dialog.so"',
        'loadmodule "acc.so"',
        "",
        f'modparam("acc", "db_url", "{db_url}")',
        'modparam("acc", "cdr_enable", 1)',
        'modparam("acc", "cdr_on_failed", 1)',
        'modparam("acc", "cdr_start_on_confirmed", 0)',
        'modparam("acc", "cdr_expired_dlg_enable", 1)',
        f'modparam("acc", "cdrs_table", "{table}")',
        'modparam("acc", "cdr_extra", "' + ";".join(extras) + '")',
    ]
    if connector.enrich_from_acc:
        lines += ['modparam("acc", "db_flag", 1)', 'modparam("acc", "db_missed_flag", 2)']
    lines += [
        "",
        "request_route {",
        '    if (is_method("INVITE") && !has_totag()) {',
        "        dlg_manage();",
        *(
            ["        $dlg_var(accountcode) = $fU;  # whatever identifies the customer"]
            if columns["accountcode"]
            else []
        ),
        *([f"        {flags}"] if connector.enrich_from_acc else []),
        "    }",
        "    # ... your routing ...",
        "}",
        "",
        "onreply_route {",
        '    if (is_method("INVITE") && $rs >= 200) {',
        "        $dlg_var(sip_code) = $rs;",
        "        $dlg_var(sip_reason) = $rr;",
        "        if ($rs < 300) { $dlg_var(answer_time) = $TS; }  # epoch seconds",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _kamailio_db_url(dsn: str) -> str:
    """Kamailio's db_url form (``postgres://`` / ``mysql://``), password left for the operator."""
    if not dsn:
        return "postgres://kamailio:PASSWORD@localhost/kamailio"
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+", 1)[0].lower()
    scheme = "postgres" if scheme in ("postgres", "postgresql") else "mysql"
    user = parts.username or "kamailio"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{scheme}://{user}:PASSWORD@{host}{port}{parts.path}"
