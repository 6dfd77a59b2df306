"""Generate Python protobuf/gRPC code from proto/ into build/gen (git-ignored).

The generated tree is importable as ``cdrstats.<area>.v1``; a .pth file in the
active environment puts build/gen on sys.path. Generated code is never committed.
"""

from __future__ import annotations

import pathlib
import shutil
import site
import sys
import sysconfig

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "build" / "gen"


def main() -> int:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={OUT_DIR}",
        f"--pyi_out={OUT_DIR}",
        f"--grpc_python_out={OUT_DIR}",
        *protos,
    ]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    purelib = pathlib.Path(sysconfig.get_paths()["purelib"])
    if not purelib.is_dir():
        purelib = pathlib.Path(site.getsitepackages()[0])
    (purelib / "cdrstats_generated.pth").write_text(f"{OUT_DIR}\n")
    print(f"generated {len(protos)} proto files into {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
