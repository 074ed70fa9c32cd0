#!/usr/bin/env python3
"""Python against the command line on the same job, in the same run: 1000 AES-128 rows.

Python: `Session.run_rows` between two threads of this process (garbler listening, evaluator
connecting, TLS 1.3 with pinned keys). CLI: `garbled run circuits/aes128.txt --inputs FILE`, both
parties in one process over loopback TLS. Both count the same work: reading the rows, building
the batch plan and the session itself (not process start-up or the TLS connection).

Prints one JSON object: and_per_second (Python), cli_and_per_second, python_over_cli, and each
side's median and minimum over --repeat runs (alternating Python and CLI).

    python python/bench.py [--rows 1000] [--repeat 3] [--cli target/release/garbled]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import garbled

REPO = Path(__file__).resolve().parents[1]


def python_run(aes: garbled.Circuit, keys: list[list[int]], blocks: list[list[int]], ids: dict) -> float:
    listener = garbled.Listener("127.0.0.1:0", identity=ids["a"], peer=ids["b_fp"])
    errors: list[BaseException] = []
    ready = threading.Barrier(2)

    def evaluator() -> None:
        try:
            with garbled.connect(
                f"127.0.0.1:{listener.port}", role="evaluator", identity=ids["b"], peer=ids["a_fp"]
            ) as s:
                ready.wait()
                s.run_rows(aes, blocks)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=evaluator)
    t.start()
    with listener, listener.accept(role="garbler") as s:
        ready.wait()
        started = time.perf_counter()
        s.run_rows(aes, keys)
        elapsed = time.perf_counter() - started
    t.join()
    if errors:
        raise errors[0]
    return elapsed


def cli_run(cli: str, rows_file: Path) -> tuple[float, int]:
    out = subprocess.run(
        [cli, "run", str(REPO / "circuits" / "aes128.txt"), "--inputs", str(rows_file), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(out.stdout)["stats"]
    ms = stats["session_ms"] + stats["phases"]["load_ms"] + stats["phases"]["compile_ms"]
    return ms / 1e3, stats["and_gates"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli", default=os.environ.get("GARBLED_BIN", str(REPO / "target" / "release" / "garbled")))
    args = parser.parse_args()
    aes = garbled.Circuit.load(REPO / "circuits" / "aes128.txt")
    keys = [[0x000102030405060708090A0B0C0D0E0F ^ i] for i in range(args.rows)]
    blocks = [[0x00112233445566778899AABBCCDDEEFF + i] for i in range(args.rows)]
    and_gates = aes.and_count * args.rows
    with tempfile.TemporaryDirectory() as d:
        ids = {"a": Path(d) / "a.pem", "b": Path(d) / "b.pem"}
        ids["a_fp"] = garbled.keygen(ids["a"])
        ids["b_fp"] = garbled.keygen(ids["b"])
        rows_file = Path(d) / "rows.txt"
        rows_file.write_text("".join(f"{k[0]:#x} {p[0]:#x}\n" for k, p in zip(keys, blocks)))
        py_times, cli_times = [], []
        python_run(aes, keys[:10], blocks[:10], ids)  # warm up
        for _ in range(args.repeat):
            py_times.append(python_run(aes, keys, blocks, ids))
            seconds, cli_ands = cli_run(args.cli, rows_file)
            if cli_ands != and_gates:
                raise SystemExit(f"the CLI garbled {cli_ands} AND gates, expected {and_gates}")
            cli_times.append(seconds)
    py_rate = and_gates / statistics.median(py_times)
    cli_rate = and_gates / statistics.median(cli_times)
    print(
        json.dumps(
            {
                "job": f"{args.rows} AES-128 rows, TLS, semi-honest half-gates, both parties on this machine",
                "and_gates": and_gates,
                "and_per_second": round(py_rate),
                "and_per_second_best": round(and_gates / min(py_times)),
                "cli_and_per_second": round(cli_rate),
                "cli_and_per_second_best": round(and_gates / min(cli_times)),
                "python_over_cli": round(py_rate / cli_rate, 3),
                "repeat": args.repeat,
                "python_seconds": [round(t, 4) for t in py_times],
                "cli_seconds": [round(t, 4) for t in cli_times],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
