"""Dependency audit of the pinned Python packages (pip-audit) and the front-end npm packages (`make audit`).

pip-audit checks each pin of requirements/constraints.txt against PyPI's advisories. Where it
cannot (PyPI's per-version endpoint answers 404 on some networks), the pin is looked up once
more on the project's own page, /pypi/<name>/json: when the pinned version is the latest one,
that page's "vulnerabilities" are the pin's, so it counts as audited; otherwise the table says
"not audited: pinned X, latest Y". npm packages are checked with `npm audit`.

Exit status: 1 when a known vulnerability is not listed, with a reason, in
requirements/audit-ignore.txt; 0 otherwise. When no advisory service answers at all the
audit cannot say anything: a loud warning, and 0 (the network is not the product's fault).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
IGNORE_FILE = ROOT / "requirements" / "audit-ignore.txt"
PACKAGE_JSON = ROOT / "package.json"
CACHE_DIR = ROOT / "build" / "audit-cache"
CACHE_TTL_S = 6 * 3600
PYPI_URL = "https://pypi.org"
TIMEOUT_S = 15
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


@dataclasses.dataclass
class Result:
    ecosystem: str  # "pypi" or "npm"
    name: str
    version: str
    audited: bool = False
    note: str = ""  # why not audited, or "" when audited
    vulns: list[str] = dataclasses.field(default_factory=list)  # advisory ids
    unreachable: bool = False  # no answer from the service (network), as opposed to "no data"


def read_pins(path: pathlib.Path) -> list[tuple[str, str]]:
    pins = []
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins.append((match.group(1).lower(), match.group(2)))
    return pins


def read_ignores(path: pathlib.Path) -> dict[str, str]:
    """``<advisory id> <reason...>`` per line (# comments); an entry without a reason is an error."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        advisory, _, reason = text.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {advisory}: give the reason it is ignored")
        ignores[advisory] = reason.strip()
    return ignores


def run_pip_audit(constraints: pathlib.Path) -> dict[str, dict[str, Any]]:
    """name -> pip-audit's entry (``vulns`` or ``skip_reason``); empty when pip-audit could not run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "-r", str(constraints), "--no-deps", "--disable-pip"]
        command += ["-f", "json", "--progress-spinner", "off", "--timeout", str(TIMEOUT_S), "-o", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if not out.exists():
            print(f"pip-audit did not run (exit {done.returncode}): {done.stderr.strip()[-300:]}", file=sys.stderr)
            return {}
        report = json.loads(out.read_text())
    return {entry["name"].lower(): entry for entry in report.get("dependencies", [])}


def project_page(pypi_url: str, name: str, cache: pathlib.Path | None) -> dict[str, Any] | None:
    """PyPI's JSON page of ``name`` (cached a few hours); None when it does not answer."""
    cached = cache / f"{name}.json" if cache else None
    if cached is not None and cached.exists() and time.time() - cached.stat().st_mtime < CACHE_TTL_S:
        return dict(json.loads(cached.read_text()))
    try:
        with urllib.request.urlopen(f"{pypi_url}/pypi/{name}/json", timeout=TIMEOUT_S) as response:  # noqa: S310
            page = json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return None
    kept = {"info": {"version": page["info"]["version"]}, "vulns": page.get("vulnerabilities")}
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(kept))
    return kept


def from_project_page(name: str, version: str, page: dict[str, Any] | None, why: str) -> Result:
    if page is None:
        return Result("pypi", name, version, note=f"not audited: {why}; PyPI unreachable", unreachable=True)
    latest = str(page["info"]["version"])
    if latest != version or page.get("vulns") is None:
        return Result("pypi", name, version, note=f"not audited: pinned {version}, latest {latest}")
    ids = [str(v.get("id")) for v in page["vulns"]]
    return Result("pypi", name, version, audited=True, vulns=ids)


def audit_python(
    constraints: pathlib.Path, pypi_url: str, use_pip_audit: bool, cache: pathlib.Path | None
) -> list[Result]:
    pins = read_pins(constraints)
    found = run_pip_audit(constraints) if use_pip_audit else {}
    results: dict[str, Result] = {}
    fallback: list[tuple[str, str, str]] = []
    for name, version in pins:
        entry = found.get(name)
        if entry is not None and "skip_reason" not in entry:
            results[name] = Result("pypi", name, version, audited=True, vulns=[v["id"] for v in entry.get("vulns", [])])
        else:
            why = "pip-audit skipped it" if entry is not None else "pip-audit gave no answer"
            fallback.append((name, version, why))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        pages = pool.map(lambda pin: project_page(pypi_url, pin[0], cache), fallback)
        for (name, version, why), page in zip(fallback, pages, strict=True):
            results[name] = from_project_page(name, version, page, why)
    return [results[name] for name, _ in pins]


def audit_npm(package_json: pathlib.Path) -> list[Result]:
    """`npm audit` over package-lock.json; every package is "not audited" when it fails (e.g. HTTP 405)."""
    wanted = json.loads(package_json.read_text()).get("dependencies", {})
    results = [Result("npm", name, str(version)) for name, version in sorted(wanted.items())]
    npm = shutil.which("npm")
    if not results:
        return results
    why = "npm is not installed"
    if npm is not None:
        command = [npm, "audit", "--json", "--package-lock-only"]
        done = subprocess.run(
            command, cwd=package_json.parent, capture_output=True, text=True, timeout=120, check=False
        )
        try:
            report = json.loads(done.stdout or "{}")
        except ValueError:
            report = {}
        if "vulnerabilities" in report and "error" not in report and "message" not in report:
            for result in results:
                result.audited = True
                advisory = report["vulnerabilities"].get(result.name)
                if advisory:
                    result.vulns = [f"npm:{result.name}:{advisory.get('severity', 'unknown')}"]
            return results
        why = f"npm audit failed: {str(report.get('message') or done.stderr.strip() or 'no report')[:80]}"
    for result in results:
        result.note, result.unreachable = f"not audited: {why}", True
    return results


def print_table(results: list[Result], ignores: dict[str, str]) -> None:
    rows = [("ecosystem", "package", "version", "result")]
    for r in results:
        if r.vulns:
            shown = [f"{v} (ignored: {ignores[v]})" if v in ignores else f"{v} VULNERABLE" for v in r.vulns]
            status = "; ".join(shown)
        else:
            status = "ok" if r.audited else r.note
        rows.append((r.ecosystem, r.name, r.version, status))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constraints", type=pathlib.Path, default=CONSTRAINTS)
    parser.add_argument("--ignore-file", type=pathlib.Path, default=IGNORE_FILE)
    parser.add_argument("--package-json", type=pathlib.Path, default=PACKAGE_JSON)
    parser.add_argument("--pypi-url", default=PYPI_URL, help="PyPI's base URL (for the project-page fallback)")
    parser.add_argument("--no-pip-audit", action="store_true", help="only the project-page fallback")
    parser.add_argument("--no-cache", action="store_true", help=f"do not reuse answers kept in {CACHE_DIR}")
    args = parser.parse_args(argv)
    ignores = read_ignores(args.ignore_file)
    cache = None if args.no_cache else CACHE_DIR
    results = audit_python(args.constraints, args.pypi_url, not args.no_pip_audit, cache)
    results += audit_npm(args.package_json)
    print_table(results, ignores)
    audited = [r for r in results if r.audited]
    findings = [(r, v) for r in results for v in r.vulns if v not in ignores]
    ignored = [(r, v) for r in results for v in r.vulns if v in ignores]
    print(
        f"\naudited {len(audited)} of {len(results)} packages; not audited {len(results) - len(audited)}; "
        f"known vulnerabilities {len(findings)} (+{len(ignored)} ignored with a reason)"
    )
    if findings:
        for result, advisory in findings:
            print(f"VULNERABLE: {result.name} {result.version}: {advisory}", file=sys.stderr)
        print(f"fix the pins, or list the advisory with a reason in {args.ignore_file}", file=sys.stderr)
        return 1
    if all(r.unreachable for r in results if not r.audited) and not audited:
        print("\n" + "!" * 78, file=sys.stderr)
        print("WARNING: no advisory service answered: NOTHING WAS AUDITED (network, not the product)", file=sys.stderr)
        print("!" * 78, file=sys.stderr)
    elif len(audited) < len(results):
        print(f"WARNING: {len(results) - len(audited)} packages could not be audited (see the table)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
