"""Bytes that are not UTF-8 (bodies, forms, query strings, paths, headers) and hostile XML: a 400 naming it."""

from __future__ import annotations

import pathlib
import uuid

import pytest
from bad_input_testkit import ASTERISK_LINE, Reply, Site, basic, call, raw_exchange

pytestmark = pytest.mark.integration

BAD = b"\xff\xfe"


@pytest.fixture(scope="module")
def switch(site: Site) -> tuple[str, str]:
    return site.new_switch("utf8")


def assert_names_utf8(reply: Reply, where: str) -> None:
    assert reply.status == 400, reply.text
    assert where in reply.text
    assert "not valid UTF-8" in reply.text


def test_json_bodies_that_are_not_utf8(site: Site, switch: tuple[str, str]) -> None:
    body = b'{"switch_id": "' + BAD + b'", "cdrs": []}'
    bulk = site.gateway("POST", "/api/v1/cdrs", body, {**site.admin, "Content-Type": "application/json"})
    assert_names_utf8(bulk, "byte 0xff at offset 15")
    profile = site.gateway("PUT", "/api/v1/mapping-profiles/utf8", body, site.admin)
    assert_names_utf8(profile, "byte 0xff at offset 15")
    calls = site.ingest(f"/v1/switches/{switch[0]}/calls", body, switch)
    assert_names_utf8(calls, "byte 0xff at offset 15")
    leg = site.ingest("/v1/freeswitch/json", b'{"variables": {"uuid": "' + BAD + b'"}}', switch)
    assert_names_utf8(leg, "body is not valid UTF-8 (byte 24)")


def test_xml_body_that_is_not_utf8_is_refused_and_kept(site: Site, switch: tuple[str, str]) -> None:
    body = b"<cdr><variables><uuid>" + BAD + b"</uuid></variables></cdr>"
    reply = site.ingest("/v1/freeswitch/xml", body, switch, "text/xml")
    assert_names_utf8(reply, "byte 22")
    assert any("UTF-8" in r["reason"] and r["source"] == "freeswitch_xml" for r in site.rejects(switch[0]))


@pytest.mark.parametrize("body", [b"username=adm\xffin&password=x", b"username=adm%FFin&password=x"])
def test_page_form_that_is_not_utf8_is_a_400_page_naming_the_field(site: Site, body: bytes) -> None:
    """Regression: raw bytes were a 500 (request.post() raised), %FF silently became U+FFFD."""
    reply = site.gateway("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.headers["content-type"].startswith("text/html")
    assert_names_utf8(reply, "form field &#39;username&#39;: not valid UTF-8 (byte 0xff at 3)")


def test_csv_import_line_that_is_not_utf8_is_a_reject_and_the_good_line_is_stored(site: Site) -> None:
    switch_id, _ = site.new_switch("csv")
    good, bad = (
        ASTERISK_LINE.format(uid=uuid.uuid4()),
        ASTERISK_LINE.format(uid=uuid.uuid4()).replace("Jean", "J\xe9an"),
    )
    body = (good + "\n").encode() + bad.encode("latin-1") + b"\n"
    path = f"/api/v1/imports?switch_id={switch_id}&format=asterisk_csv&file_name=latin1.csv"
    reply = site.gateway("POST", path, body, {**site.admin, "Content-Type": "text/csv"})
    assert reply.status == 200, reply.text
    result = reply.json()["result"]
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert result["rejects"][0]["line"] == 2 and "not UTF-8" in result["rejects"][0]["reason"]
    assert [r["reason"] for r in site.rejects(switch_id)] == [result["rejects"][0]["reason"]]
    assert len(site.cdrs(switch_id)) == 1


def test_query_strings_and_paths_that_are_not_utf8(site: Site, switch: tuple[str, str]) -> None:
    api = site.gateway("GET", "/api/v1/cdrs?direction=inbound&caller=%FF%FE", headers=site.admin)
    assert_names_utf8(api, "query parameter 'caller': not valid UTF-8 (byte 0xff at 0)")
    assert api.json()["error"] == "invalid_argument"
    page = site.gateway("GET", "/cdrs?caller=ok&%FF=x")
    assert_names_utf8(page, "query parameter")
    path = site.gateway("GET", "/api/v1/cdrs/%FF", headers=site.admin)
    assert_names_utf8(path, "path: not valid UTF-8")
    ingest = site.ingest("/v1/freeswitch/json?uuid=%FF", b"{}", switch)
    assert_names_utf8(ingest, "query parameter 'uuid'")


def test_headers_that_are_not_utf8(site: Site, switch: tuple[str, str]) -> None:
    """Regression: a bearer token with such bytes was a 500 (hashing it failed on the surrogates)."""
    bearer = site.gateway("GET", "/api/v1/cdrs", headers={"Authorization": b"Bearer " + BAD})
    assert_names_utf8(bearer, "header Authorization: not valid UTF-8 (byte 0xff at 7)")
    other = site.gateway("GET", "/api/v1/cdrs", headers={**site.admin, "X-Note": b"caf" + BAD})
    assert_names_utf8(other, "header X-Note")
    sent = {"Authorization": basic(*switch), "Content-Type": "application/json", "X-Note": BAD}
    ingest = call(site.ingest_port, "POST", "/v1/freeswitch/json", b"{}", sent)
    assert_names_utf8(ingest, "header X-Note")


@pytest.mark.parametrize("port", ["gateway_port", "ingest_port"])
def test_raw_bytes_in_the_request_line_are_a_400_and_only_a_warning(site: Site, port: str) -> None:
    """aiohttp refuses them itself; the guard keeps that out of the error log (checked by no_crash_logged)."""
    reply = raw_exchange(getattr(site, port), b"GET /healthz?q=" + BAD + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.status == 400
    assert "Invalid char in url query" in reply.text


def test_xml_entity_expansion_and_external_entities_are_refused(
    site: Site, switch: tuple[str, str], tmp_path: pathlib.Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"XXE-SECRET-{uuid.uuid4().hex}")
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)).replace("&lol0;", "&lol;")
        + "]><cdr><variables><uuid>&lol9;</uuid></variables></cdr>"
    )
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE cdr [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<cdr><variables><uuid>&x;</uuid></variables></cdr>"
    )
    for document in (laughs, xxe):
        reply = site.ingest("/v1/freeswitch/xml", document.encode(), switch, "text/xml")
        assert (reply.status, reply.json()["error"]) == (400, "invalid_cdr"), reply.text
        assert "a DOCTYPE" in reply.json()["message"] and "is not allowed" in reply.json()["message"]
        assert secret.read_text() not in reply.text
    rejects = [r for r in site.rejects(switch[0]) if r["raw"] in (laughs, xxe)]
    assert len(rejects) == 2
    assert all(secret.read_text() not in r["reason"] + r["raw"] for r in rejects)
    assert site.cdrs(switch[0]) == []
