"""``cdrstats run | stop``: the whole product on one machine (README command 1)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc

from cdrstats_cli import demo, demo_alerts, importer
from cdrstats_cli.config import SERVICES, RunConfig, Secrets, load_secrets
from cdrstats_cli.live import LiveTraffic
from cdrstats_cli.mailcatcher import MailCatcher
from cdrstats_cli.supervisor import Supervisor, open_log, process_specs
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.settings import SettingsError

log = logging.getLogger("cdrstats")

READY_TIMEOUT_S = 600.0


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, check: object, timeout_s: float, supervisor: Supervisor | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if supervisor is not None:
            supervisor.check_children()
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s; see the logs")


def _gateway_ready(config: RunConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{config.gateway_url}/healthz", timeout=3) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _load_demo(config: RunConfig, secrets: Secrets) -> None:
    now_us = int(time.time() * 1_000_000)
    cdrs = demo.generate(now_us)
    posted = cdrs[-20:]  # the newest calls of the demo switch arrive as a switch would send them
    posted = [c for c in posted if c["switch_id"] == "demo"]
    bulk = [c for c in cdrs if c not in posted]
    started = time.monotonic()
    with grpc.insecure_channel(config.grpc_addr("ingest")) as channel:
        reply = demo.submit(channel, bulk)
    for cdr in posted:
        demo.post_freeswitch_json(
            config.ingest_url, "demo", secrets.demo_switch_key, demo.freeswitch_json_document(cdr)
        )
    log.info(
        "demo data: %d CDRs accepted, %d duplicates, %d rejected, %d posted as FreeSWITCH JSON in %.1f s",
        reply.accepted,
        reply.duplicates,
        reply.rejected,
        len(posted),
        time.monotonic() - started,
    )


def _mail_line(config: RunConfig) -> str:
    if config.smtp_host:
        return f"  E-mail:           sent through {config.smtp_host} (CDRSTATS_SMTP_HOST)"
    return f"  E-mail:           caught locally, one .eml file per message in {config.mail_dir}"


def _installation_demo(config: RunConfig) -> None:
    demo_alerts.create_installation_demo(config.grpc_addr("alerting"), config.grpc_addr("notify"))


def _customer_demo(config: RunConfig, tenant: str) -> None:
    name, accountcode, _ = demo.DEMO_CUSTOMER
    demo_alerts.create_customer_demo(config.grpc_addr("alerting"), tenant, name, [accountcode])


def _demo_step(what: str, step: Callable[..., None], *args: Any) -> None:
    """A demo object that cannot be made is logged, not fatal: the product runs without it."""
    try:
        step(*args)
    except grpc.RpcError as exc:
        log.warning("demo %s not created: %s %s", what, exc.code(), exc.details())


def _banner(config: RunConfig, secrets: Secrets, *, background: bool = False, reveal: bool = True) -> str:
    """What runs where and how to log in; the passwords only when ``reveal`` (a terminal, not a log file)."""

    def secret(name: str, value: str) -> str:
        return value if reveal else f"<{name} in secrets.json>"

    return "\n".join(
        [
            "",
            "CDR-Stats is running.",
            f"  Web UI and API:   {config.gateway_url}/  (health: {config.gateway_url}/healthz)",
            f"  Admin login:      admin / {secret('admin_password', secrets.admin_password)}",
            f"  Customer login:   {demo.DEMO_CUSTOMER[2]} / "
            f"{secret('demo_customer_password', secrets.demo_customer_password)}"
            f" (customer {demo.DEMO_CUSTOMER[0]!r}, sees account code {demo.DEMO_CUSTOMER[1]!r} only)",
            f"  Switch ingest:    POST {config.ingest_url}/v1/freeswitch/json",
            f"  Demo switch:      id 'demo', HTTP basic user 'demo', password "
            f"{secret('demo_switch_key', secrets.demo_switch_key)}",
            _mail_line(config),
            f"  Data and logs:    {config.data_dir} (secrets in {config.data_dir / 'secrets.json'})",
            "  Stop:             " + ("`make stop`" if background else "Ctrl-C"),
            "",
        ]
    )


def run(config: RunConfig) -> int:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if config.pid_file.exists():
        pid = int(config.pid_file.read_text().strip() or 0)
        if pid and _alive(pid):
            print(f"CDR-Stats already runs from {config.data_dir} (pid {pid}); `make stop` ends it", file=sys.stderr)
            return 1
    busy = [p for p in (config.http_port, config.ingest_http_port) if _port_busy(p)]
    busy += [config.grpc_port_base + i for i in range(len(SERVICES)) if _port_busy(config.grpc_port_base + i)]
    if not config.smtp_host and config.mail_catcher_port and _port_busy(config.mail_catcher_port):
        busy.append(config.mail_catcher_port)
    if busy:
        print(f"ports already in use: {busy}; set CDRSTATS_HTTP_PORT etc. to move this run", file=sys.stderr)
        return 1
    secrets = load_secrets(config.data_dir)
    catcher = None if config.smtp_host else MailCatcher(config.mail_dir, config.mail_catcher_port)
    if catcher is not None:
        catcher.start()
    needs_demo = config.demo and not config.demo_done_marker.exists()
    if needs_demo:
        config.startup_marker.write_text("demo data loading\n")
    config.pid_file.write_text(str(os.getpid()))
    supervisor = Supervisor(process_specs(config, secrets, catcher.port if catcher else 0), config.log_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    live: LiveTraffic | None = None
    try:
        supervisor.start_all()
        for service in SERVICES:
            addr = config.grpc_addr(service)
            _wait(f"{service}-api", lambda a=addr: check_grpc(a), 90, supervisor)
            _wait(f"{service}-worker", lambda a=addr: check_grpc(a, "worker"), 90, supervisor)
        with grpc.insecure_channel(config.grpc_addr("ingest")) as channel:
            demo.register_switches(channel, secrets.demo_switch_key)
        if needs_demo:
            # rules before the calls: the demo's premium-rate and Nigerian calls show up flagged
            _demo_step("alarms, rules and mail report", _installation_demo, config)
            _load_demo(config, secrets)
            config.demo_done_marker.write_text("loaded\n")
            config.startup_marker.unlink(missing_ok=True)
        _wait("gateway /healthz", lambda: _gateway_ready(config), READY_TIMEOUT_S, supervisor)
        if config.demo:
            tenant = demo.create_demo_tenant(config.gateway_url, secrets.admin_password, secrets.demo_customer_password)
            if needs_demo:
                _demo_step("customer alarm", _customer_demo, config, tenant)
        # redirected (`run --background` writes run.log, docker/systemd keep stdout): no passwords in the log
        print(_banner(config, secrets, reveal=sys.stdout.isatty()), flush=True)
        if config.demo_live:
            live = LiveTraffic(config.ingest_url, secrets.demo_switch_key)
            live.start()
            print("  Live demo traffic: switch 'demo' posts a call every ~2 s (CDRSTATS_DEMO_LIVE=1)", flush=True)
        while True:
            supervisor.check_children()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping CDR-Stats ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if live is not None:
            live.stop()
        supervisor.stop_all()
        if catcher is not None:
            catcher.stop()
        config.pid_file.unlink(missing_ok=True)
        print("stopped.", flush=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_background(config: RunConfig) -> int:
    """Start ``cdrstats run`` detached, wait until it is ready, print its banner."""
    config.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.log_dir / "run.log"
    with open_log(log_path) as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "cdrstats_cli.main", "run"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"cdrstats run exited with code {process.returncode}; see {log_path}", file=sys.stderr)
            return 1
        if _gateway_ready(config):
            banner = _banner(config, load_secrets(config.data_dir), background=True, reveal=sys.stdout.isatty())
            print(banner, flush=True)
            return 0
        time.sleep(0.5)
    print(f"not ready after {READY_TIMEOUT_S:.0f} s; see {log_path}", file=sys.stderr)
    return 1


def stop(config: RunConfig) -> int:
    if not config.pid_file.exists():
        print(f"no run in {config.data_dir}")
        return 0
    pid = int(config.pid_file.read_text().strip() or 0)
    if not pid or not _alive(pid):
        config.pid_file.unlink(missing_ok=True)
        print("not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        print(f"pid {pid} did not stop in 30 s", file=sys.stderr)
        return 1
    print("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["reporting"]:  # maintenance commands of a service parse their own arguments
        from cdrstats_cli import reporting

        return reporting.main(args_list[1:])
    parser = argparse.ArgumentParser(prog="cdrstats", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start every process with demo data (foreground)")
    run_parser.add_argument("--background", action="store_true", help="detach; `cdrstats stop` ends it")
    commands.add_parser("stop", help="stop a background run")
    importer.add_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = RunConfig.from_env()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "import":
        return importer.run(args, config.grpc_addr("ingest"))
    if args.command == "run":
        return run_background(config) if args.background else run(config)
    return stop(config)


if __name__ == "__main__":
    sys.exit(main())
