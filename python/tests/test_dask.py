"""garbled.dask: row jobs sharded over two organisations' Dask clusters (two LocalClusters of
processes, 2 workers each, on loopback)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

import numpy as np
import pytest

import garbled

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'dask[distributed]')")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
import garbled.dask as gd  # noqa: E402

SHARDS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoints() -> list[str]:
    return [f"127.0.0.1:{free_port()}" for _ in range(SHARDS)]


@pytest.fixture(scope="module")
def clusters():
    """Two organisations: two LocalClusters of 2 worker processes with 2 threads each."""
    made = []
    for _ in range(2):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
        )
        made.append((cluster, distributed.Client(cluster, set_as_default=False)))
    yield made[0][1], made[1][1]
    for cluster, client in made:
        client.close()
        cluster.close()


def both(garbler_side, evaluator_side) -> tuple[Any, Any]:
    """Runs the two organisations at once; returns each side's result or exception."""
    out: dict[str, Any] = {}

    def run(name, fn):
        try:
            out[name] = fn()
        except BaseException as e:
            out[name] = e

    t = threading.Thread(target=run, args=("e", evaluator_side))
    t.start()
    run("g", garbler_side)
    t.join(300)
    assert not t.is_alive()
    return out["g"], out["e"]


def compare_rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=(n, 1), dtype=np.uint64)
    b = rng.integers(0, 2**64, size=(n, 1), dtype=np.uint64)
    b[::5] = a[::5]
    return a, b


def job_of(clusters, identities, a, b, *, job="job-1", security="semi-honest", timeout=60.0, e_endpoints=None, e_job=None, eps=None):
    g_client, e_client = clusters
    circuit = garbled.Circuit.generate("compare", bits=64)
    eps = eps or endpoints()
    chunk = a.shape[0] // SHARDS
    return both(
        lambda: gd.run_rows(
            g_client, circuit, da.from_array(a, chunks=(chunk, 1)), role="garbler", endpoints=eps,
            identity=str(identities["a"]), peer=identities["b_fp"], job=job, security=security, timeout=timeout,
        ),
        lambda: gd.run_rows(
            e_client, circuit, da.from_array(b, chunks=(chunk, 1)), role="evaluator", endpoints=e_endpoints or eps,
            identity=str(identities["b"]), peer=identities["a_fp"], job=e_job or job, security=security, timeout=timeout,
        ),
    )


def expected(a, b) -> list[list[int]]:
    circuit = garbled.Circuit.generate("compare", bits=64)
    return [garbled.evaluate(circuit, [int(x), int(y)]) for x, y in zip(a[:, 0], b[:, 0])]


def test_four_shards_of_twenty_thousand_rows_equal_evaluate_in_order(clusters, identities) -> None:
    a, b = compare_rows(20_000, 1)
    g, e = job_of(clusters, identities, a, b)
    assert not isinstance(g, BaseException), g
    assert not isinstance(e, BaseException), e
    assert g.numblocks == (SHARDS, 1)
    g, e = g.compute(), e.compute()
    assert g.shape == (20_000, 2)
    assert g.tolist() == expected(a, b)
    assert np.array_equal(g, e)


def test_malicious_shards(clusters, identities) -> None:
    a, b = compare_rows(800, 2)
    g, e = job_of(clusters, identities, a, b, security="malicious", job="job-mal")
    assert not isinstance(g, BaseException), g
    assert g.compute().tolist() == expected(a, b) == e.compute().tolist()


def test_a_dataframe_of_rows_keeps_its_index(clusters, identities) -> None:
    dd = pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed")
    import pandas as pd

    a, b = compare_rows(400, 3)
    g_client, e_client = clusters
    circuit = garbled.Circuit.generate("compare", bits=64)
    eps = endpoints()
    index = pd.RangeIndex(1000, 1400)
    fa = dd.from_pandas(pd.DataFrame({"x": a[:, 0]}, index=index), npartitions=SHARDS)
    fb = dd.from_pandas(pd.DataFrame({"y": b[:, 0]}, index=index), npartitions=SHARDS)
    g, e = both(
        lambda: gd.run_rows(g_client, circuit, fa, role="garbler", endpoints=eps, identity=str(identities["a"]), peer=identities["b_fp"], job="frames"),
        lambda: gd.run_rows(e_client, circuit, fb, role="evaluator", endpoints=eps, identity=str(identities["b"]), peer=identities["a_fp"], job="frames"),
    )
    assert not isinstance(g, BaseException), g
    g = g.compute()
    assert list(g.index) == list(index)
    assert g.to_numpy().tolist() == expected(a, b)


@pytest.mark.parametrize("what", ["swapped endpoints", "another job"])
def test_sessions_of_other_shards_or_jobs_are_named_errors_without_results(clusters, identities, what) -> None:
    a, b = compare_rows(400, 4)
    eps = endpoints()
    if what == "swapped endpoints":
        swapped = [eps[1], eps[0]] + eps[2:]
        g, e = job_of(clusters, identities, a, b, eps=eps, e_endpoints=swapped, timeout=20)
        needle = "shard index differs"
    else:
        g, e = job_of(clusters, identities, a, b, eps=eps, e_job="job-other", timeout=20)
        needle = "sharded job id differs"
    for side in (g, e):
        assert isinstance(side, garbled.PeerError), side
        assert needle in str(side), side
        assert "no result" in str(side)


def test_a_peer_organisation_that_never_starts_times_out_per_shard(clusters, identities) -> None:
    g_client, _ = clusters
    a, _ = compare_rows(400, 5)
    circuit = garbled.Circuit.generate("compare", bits=64)
    eps = endpoints()
    started = time.monotonic()
    with pytest.raises(garbled.Timeout) as caught:
        gd.run_rows(g_client, circuit, da.from_array(a, chunks=(100, 1)), role="garbler", endpoints=eps,
                    identity=str(identities["a"]), peer=identities["b_fp"], job="alone", timeout=3)
    took = time.monotonic() - started
    assert took < 20, took
    message = str(caught.value)
    assert f"{SHARDS} of {SHARDS} shard(s) failed" in message
    for i, ep in enumerate(eps):
        assert f"shard {i} of {SHARDS}" in message and ep in message, message


def test_a_worker_killed_mid_shard_still_gives_exactly_the_honest_result(clusters, identities) -> None:
    g_client, _ = clusters
    a, b = compare_rows(160_000, 6)
    pids = list(g_client.run(os.getpid).values())
    killed_at: list[float] = []

    def kill() -> None:
        os.kill(pids[0], signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Timer(1.0, kill)
    killer.start()
    g, e = job_of(clusters, identities, a, b, job="killed", timeout=120)
    ended = time.monotonic()
    killer.join()
    # The worker died while the job ran (so its shards were restarted and paired again).
    assert killed_at and killed_at[0] < ended
    assert not isinstance(g, BaseException), g
    assert not isinstance(e, BaseException), e
    g = g.compute()
    assert np.array_equal(g, e.compute())
    assert g.tolist() == expected(a, b)
    # The worker was replaced: the killed process is gone.
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
