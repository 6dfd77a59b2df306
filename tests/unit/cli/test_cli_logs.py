"""Log files of `cdrstats run`: created owner+group only, and an older world-readable one is tightened."""

from __future__ import annotations

import pathlib
import stat

from cdrstats_cli.supervisor import open_log


def test_a_new_log_is_0640_and_an_old_world_readable_one_loses_its_other_bits(tmp_path: pathlib.Path) -> None:
    new = tmp_path / "gateway.log"
    with open_log(new) as log:
        log.write(b"first\n")
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    old = tmp_path / "ingest-api.log"
    old.write_bytes(b"kept\n")
    old.chmod(0o666)
    with open_log(old) as log:
        log.write(b"appended\n")
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert old.read_bytes() == b"kept\nappended\n"
