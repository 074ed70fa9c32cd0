#!/usr/bin/env python3
"""Sharded rows over two Dask clusters against one session, in the same run.

Two LocalClusters (processes, 2 workers x 2 threads each, loopback), one per organisation, run a
64-bit `compare` job of --rows rows in --shards shards through garbled.dask.run_rows; then the
same rows go through one Session.run_rows between two threads. Both over TLS 1.3 with pinned
keys. Prints one JSON object: rows per second of each (median and best of --repeat runs,
alternating) and their ratio.

    python python/bench_dask.py [--rows 200000] [--shards 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import garbled
import garbled.dask as gd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sharded(clients, circuit, a, b, ids, shards: int) -> float:
    import dask.array as da

    eps = [f"127.0.0.1:{free_port()}" for _ in range(shards)]
    chunk = -(-a.shape[0] // shards)
    errors = []

    def side(client, rows, role, identity, peer):
        try:
            gd.run_rows(client, circuit, da.from_array(rows, chunks=(chunk, 1)), role=role, endpoints=eps,
                        identity=identity, peer=peer, job="bench", timeout=300)
        except BaseException as e:
            errors.append(e)

    started = time.perf_counter()
    t = threading.Thread(target=side, args=(clients[1], b, "evaluator", str(ids["b"]), ids["a_fp"]))
    t.start()
    side(clients[0], a, "garbler", str(ids["a"]), ids["b_fp"])
    t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def single(circuit, a, b, ids) -> float:
    listener = garbled.Listener("127.0.0.1:0", identity=ids["a"], peer=ids["b_fp"])
    errors = []

    def evaluator():
        try:
            with garbled.connect(f"127.0.0.1:{listener.port}", role="evaluator", identity=ids["b"], peer=ids["a_fp"]) as s:
                s.run_rows(circuit, b)
        except BaseException as e:
            errors.append(e)

    started = time.perf_counter()
    t = threading.Thread(target=evaluator)
    t.start()
    with listener, listener.accept(role="garbler") as s:
        s.run_rows(circuit, a)
    t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**64, size=(args.rows, 1), dtype=np.uint64)
    b = rng.integers(0, 2**64, size=(args.rows, 1), dtype=np.uint64)
    circuit = garbled.Circuit.generate("compare", bits=64)
    clusters = [
        LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None)
        for _ in range(2)
    ]
    clients = [Client(c, set_as_default=False) for c in clusters]
    try:
        with tempfile.TemporaryDirectory() as d:
            ids = {"a": Path(d) / "a.pem", "b": Path(d) / "b.pem"}
            ids["a_fp"] = garbled.keygen(ids["a"])
            ids["b_fp"] = garbled.keygen(ids["b"])
            sharded(clients, circuit, a[:1000], b[:1000], ids, args.shards)  # warm the workers up
            s_times, one_times = [], []
            for _ in range(args.repeat):
                s_times.append(sharded(clients, circuit, a, b, ids, args.shards))
                one_times.append(single(circuit, a, b, ids))
    finally:
        for c in clients:
            c.close()
        for c in clusters:
            c.close()
    rate = lambda t: round(args.rows / t)  # noqa: E731
    print(json.dumps({
        "job": f"{args.rows} rows of 64-bit compare (127 AND gates each), TLS, semi-honest half-gates",
        "machine_cores": __import__("os").cpu_count(),
        "sharded_rows_per_second": rate(statistics.median(s_times)),
        "sharded_rows_per_second_best": rate(min(s_times)),
        "shards": args.shards,
        "single_session_rows_per_second": rate(statistics.median(one_times)),
        "single_session_rows_per_second_best": rate(min(one_times)),
        "sharded_over_single": round(statistics.median(one_times) / statistics.median(s_times), 3),
        "sharded_seconds": [round(t, 3) for t in s_times],
        "single_seconds": [round(t, 3) for t in one_times],
    }, indent=2))


if __name__ == "__main__":
    main()
