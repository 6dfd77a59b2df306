"""`cdrstats run` and e-mail: a local catcher writes each message to <data>/mail/*.eml, notify is pointed at
it (or at the operator's server), and alerting/notify get the links and webhook key they need."""

from __future__ import annotations

import email
import email.policy
import pathlib
import smtplib
from email.message import EmailMessage

from cdrstats_cli.config import RunConfig, load_secrets
from cdrstats_cli.mailcatcher import MailCatcher
from cdrstats_cli.supervisor import process_specs


def test_the_catcher_keeps_every_message_as_an_eml_file(tmp_path: pathlib.Path) -> None:
    catcher = MailCatcher(tmp_path / "mail")
    catcher.start()
    try:
        for n in (1, 2):
            message = EmailMessage()
            message["From"] = "cdr-stats@localhost"
            message["To"] = "noc@example.com"
            message["Subject"] = f"ASR 31.2 % < 40 % ({n})"
            message.set_content("Über 15 minutes: ASR 31.2 %")
            with smtplib.SMTP("127.0.0.1", catcher.port, timeout=10) as client:
                client.send_message(message)
    finally:
        catcher.stop()
    files = catcher.messages()
    assert len(files) == 2
    assert not list((tmp_path / "mail").glob(".*.part"))
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert [m["Subject"] for m in parsed] == ["ASR 31.2 % < 40 % (1)", "ASR 31.2 % < 40 % (2)"]
    assert parsed[0]["X-Envelope-To"] == "noc@example.com"
    assert "Über 15 minutes" in parsed[0].get_content()  # type: ignore[attr-defined]


def test_notify_is_pointed_at_the_catcher_and_gets_the_webhook_key(tmp_path: pathlib.Path) -> None:
    config = RunConfig.from_env({"CDRSTATS_DATA_DIR": str(tmp_path), "CDRSTATS_HTTP_PORT": "9080"})
    secrets = load_secrets(tmp_path, {})
    assert len(secrets.webhook_secret) >= 32 and load_secrets(tmp_path, {}).webhook_secret == secrets.webhook_secret
    specs = {spec.name: spec.env for spec in process_specs(config, secrets, mail_catcher_port=2526)}
    for process in ("notify-api", "notify-worker"):
        env = specs[process]
        assert (env["CDRSTATS_SMTP_HOST"], env["CDRSTATS_SMTP_PORT"]) == ("127.0.0.1", "2526")
        assert env["CDRSTATS_WEBHOOK_SECRET"] == secrets.webhook_secret
        assert env["CDRSTATS_PUBLIC_URL"] == "http://127.0.0.1:9080"
        assert env["REPORTING_GRPC_ADDR"] == config.grpc_addr("reporting")
        assert env["INGEST_GRPC_ADDR"] == config.grpc_addr("ingest")
    for process in ("alerting-api", "alerting-worker"):
        assert specs[process]["CDRSTATS_PUBLIC_URL"] == "http://127.0.0.1:9080"
        assert specs[process]["REPORTING_GRPC_ADDR"] == config.grpc_addr("reporting")
        assert "CDRSTATS_WEBHOOK_SECRET" not in specs[process]
    # only notify gets the signing key and the mail server
    others = [name for name in specs if not name.startswith("notify-")]
    assert all("CDRSTATS_WEBHOOK_SECRET" not in specs[n] and "CDRSTATS_SMTP_HOST" not in specs[n] for n in others)
    assert config.mail_dir == tmp_path / "mail"


def test_an_operators_mail_server_and_public_url_win(tmp_path: pathlib.Path) -> None:
    config = RunConfig.from_env(
        {
            "CDRSTATS_DATA_DIR": str(tmp_path),
            "CDRSTATS_SMTP_HOST": "smtp.example.net",
            "CDRSTATS_PUBLIC_URL": "https://cdr.example.net/",
        }
    )
    secrets = load_secrets(tmp_path, {"CDRSTATS_WEBHOOK_SECRET": "operator-key"})
    specs = {spec.name: spec.env for spec in process_specs(config, secrets, mail_catcher_port=0)}
    env = specs["notify-worker"]
    # the operator's CDRSTATS_SMTP_* reach notify from the supervisor's own environment, untouched
    assert "CDRSTATS_SMTP_HOST" not in env and "CDRSTATS_SMTP_PORT" not in env
    assert env["CDRSTATS_WEBHOOK_SECRET"] == "operator-key"
    assert env["CDRSTATS_PUBLIC_URL"] == specs["alerting-worker"]["CDRSTATS_PUBLIC_URL"] == "https://cdr.example.net"
