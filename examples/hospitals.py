#!/usr/bin/env python3
"""Two hospitals add up their patient counts per condition without showing each other theirs.

Run it with no arguments: it makes an identity for each hospital with garbled.keygen, then starts
the two hospitals as two processes that talk over mutually authenticated TLS 1.3, each pinning
the other's key. Hospital A garbles and listens; hospital B evaluates and connects. Each learns
the totals and nothing else about the other's counts.

    python examples/hospitals.py            # both hospitals, on this machine
    python examples/hospitals.py --dir keys # keep the identities in ./keys

On two hosts each hospital runs its own side:

    python examples/hospitals.py --as a --listen 0.0.0.0:7000 --identity a.pem --peer FP_OF_B
    python examples/hospitals.py --as b --connect host-a:7000 --identity b.pem --peer FP_OF_A
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import garbled

CONDITIONS = ["influenza", "measles", "diabetes", "asthma"]
# Each hospital's private counts, one per condition.
COUNTS = {"a": [120, 4, 310, 77], "b": [95, 11, 280, 64]}


def hospital(name: str, args: argparse.Namespace) -> None:
    # One row per condition; each row adds this hospital's count to the other's.
    add = garbled.Circuit.generate("sum", bits=32, count=2)
    rows = [[c] for c in COUNTS[name]]
    if name == "a":
        with garbled.Listener(args.listen, identity=args.identity, peer=args.peer) as listener:
            print(f"listening on port {listener.port}", flush=True)
            session = listener.accept(role="garbler", timeout=args.timeout)
    else:
        session = garbled.connect(
            args.connect, role="evaluator", identity=args.identity, peer=args.peer, timeout=args.timeout
        )
    with session:
        totals = [row[0] for row in session.run_rows(add, rows)]
    print(f"hospital {name.upper()}: totals {dict(zip(CONDITIONS, totals))}", flush=True)


def both(directory: Path) -> int:
    a_fp = garbled.keygen(directory / "a.pem", force=True)
    b_fp = garbled.keygen(directory / "b.pem", force=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    a = subprocess.Popen(
        me + ["--as", "a", "--listen", "127.0.0.1:0", "--identity", str(directory / "a.pem"), "--peer", b_fp],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert a.stdout is not None
    first = a.stdout.readline()
    if not first.startswith("listening on port "):
        a.kill()
        print("hospital A did not start", file=sys.stderr)
        return 1
    port = first.split()[-1]
    b = subprocess.run(
        me + ["--as", "b", "--connect", f"127.0.0.1:{port}", "--identity", str(directory / "b.pem"), "--peer", a_fp],
        stdout=subprocess.PIPE,
        text=True,
    )
    a_out, _ = a.communicate(timeout=60)
    sys.stdout.write(a_out)
    sys.stdout.write(b.stdout)
    return max(a.returncode, b.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--as", dest="name", choices=["a", "b"], help="play one hospital (default: both)")
    parser.add_argument("--listen", default="127.0.0.1:0", help="hospital A: address to listen on")
    parser.add_argument("--connect", help="hospital B: hospital A's host:port")
    parser.add_argument("--identity", help="this hospital's identity file (from garbled.keygen)")
    parser.add_argument("--peer", help="the other hospital's fingerprint")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the other hospital")
    parser.add_argument("--dir", type=Path, help="where to keep the two identities (default: a temporary directory)")
    args = parser.parse_args()
    if args.name:
        if args.name == "b" and not args.connect:
            parser.error("--as b needs --connect HOST:PORT")
        try:
            hospital(args.name, args)
        except garbled.GarbledError as e:
            print(f"hospital {args.name.upper()}: error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        return both(args.dir)
    with tempfile.TemporaryDirectory() as directory:
        return both(Path(directory))


if __name__ == "__main__":
    sys.exit(main())
