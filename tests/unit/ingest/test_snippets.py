"""Switch set-up snippets: the switch's real parameter names, this switch's URL, user and columns."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET

from cdrstats_ingest.domain.snippets import PASSWORD_PLACEHOLDER, switch_setup
from cdrstats_ingest.domain.switch import ConnectorSettings, SwitchConfig

PUBLIC = "https://cdr.example.net/"


def params(snippet: str, configuration: str) -> dict[str, str]:
    root = ET.fromstring(f"<root>{snippet}</root>")  # noqa: S314 - our own output; every snippet is well-formed XML
    found = root.find(f"configuration[@name='{configuration}']/settings")
    assert found is not None, configuration
    return {p.attrib["name"]: p.attrib["value"] for p in found.findall("param")}


def test_freeswitch_gets_its_json_cdr_url_and_user() -> None:
    setup = switch_setup(SwitchConfig(id="fs-1", username="fs1", type="freeswitch"), PUBLIC)
    assert setup.ingest_url == "https://cdr.example.net/v1/freeswitch/json"
    assert setup.call_state_url == "https://cdr.example.net/v1/switches/fs-1/calls"
    assert setup.language == "xml"
    values = params(setup.snippet, "json_cdr.conf")
    assert values["url"] == setup.ingest_url
    assert values["cred"] == f"fs1:{PASSWORD_PLACEHOLDER}"
    assert values["log-b-leg"] == "true" and int(values["retries"]) > 0 and values["encode"] == "false"


def test_freeswitch_values_are_xml_escaped_and_comments_stay_valid() -> None:
    setup = switch_setup(SwitchConfig(id="a--b", username='x"<&'), "http://h:1")
    assert params(setup.snippet, "json_cdr.conf")["cred"] == f'x"<&:{PASSWORD_PLACEHOLDER}'


def test_freeswitch_event_socket_and_mongodb_connectors_add_their_module() -> None:
    esl = SwitchConfig(id="fs", connector=ConnectorSettings(type="freeswitch_esl", dsn="10.1.2.3:8022"))
    values = params(switch_setup(esl, PUBLIC).snippet, "event_socket.conf")
    assert values["listen-ip"] == "10.1.2.3" and values["listen-port"] == "8022"
    mongo = SwitchConfig(
        id="fs", connector=ConnectorSettings(type="freeswitch_mongodb", dsn="mongodb://db:27018/fscdr", table="calls")
    )
    values = params(switch_setup(mongo, PUBLIC).snippet, "cdr_mongodb.conf")
    assert values == {"host": "db", "port": "27018", "namespace": "fscdr.calls", "log-b-leg": "true"}


def ini(snippet: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        delimiters=("=", "=>"), inline_comment_prefixes=(";",), comment_prefixes=(";",), strict=False
    )
    parser.read_string(snippet)
    return parser


def test_asterisk_without_connector_logs_master_csv_with_uniqueid() -> None:
    setup = switch_setup(SwitchConfig(id="pbx", type="asterisk", time_zone="Europe/Paris"), PUBLIC)
    assert setup.language == "ini" and setup.ingest_url == ""
    config = ini(setup.snippet)
    assert config["general"]["unanswered"] == "yes"
    assert config["csv"]["loguniqueid"] == "yes" and config["csv"]["newcdrcolumns"] == "yes"
    assert "--switch pbx --format asterisk_csv" in setup.snippet
    assert "Europe/Paris" in setup.snippet


def test_asterisk_with_a_database_connector_writes_that_table_over_odbc() -> None:
    connector = ConnectorSettings(type="asterisk_db", dsn="mysql://ast@db1/asteriskcdr", table="cdr_2024")
    config = ini(switch_setup(SwitchConfig(id="pbx", type="asterisk", connector=connector), PUBLIC).snippet)
    assert config["cdrstats"]["table"] == "cdr_2024" and config["cdrstats"]["connection"] == "cdrstats"
    assert "csv" not in config


def test_kamailio_cdr_extra_names_the_connectors_columns() -> None:
    connector = ConnectorSettings(
        type="kamailio_acc",
        dsn="postgresql+psycopg://kam@db:5433/kamailio",
        table="acc_cdrs",
        columns=(("sip_code", "final_code"), ("caller_id_number", "")),
        enrich_from_acc=True,
    )
    setup = switch_setup(SwitchConfig(id="kam", type="kamailio", connector=connector), PUBLIC)
    assert setup.language == "cfg"
    modparams = dict(re.findall(r'^modparam\("acc", "(\w+)", "?(.*?)"?\)$', setup.snippet, re.MULTILINE))
    assert modparams["cdr_enable"] == "1" and modparams["cdrs_table"] == "acc_cdrs"
    assert modparams["db_url"] == "postgres://kam:PASSWORD@db:5433/kamailio"
    extras = dict(pair.split("=", 1) for pair in modparams["cdr_extra"].split(";"))
    assert extras["final_code"] == "$dlg_var(sip_code)"  # the column the connector reads
    assert extras["callid"] == "$dlg(callid)" and extras["dst_user"] == "$rU"
    assert "src_user" not in extras  # mapped to nothing: not logged
    assert "start_time" not in extras and "duration" not in extras  # acc_cdrs' own columns
    assert "db_missed_flag" in modparams and "dlg_manage();" in setup.snippet


def test_other_switches_are_told_about_the_bulk_api() -> None:
    setup = switch_setup(SwitchConfig(id="sbc", type="other", username="sbc"), PUBLIC)
    assert setup.language == "text" and "SubmitCdrs" in setup.snippet and setup.call_state_url in setup.snippet
