"""Row jobs sharded over each organisation's Dask cluster.

Each organisation runs :func:`run_rows` on its own Dask cluster with its own half of the rows. The
partitions of the rows are the shards: shard ``i`` of the garbler side listens on
``endpoints[i]`` and shard ``i`` of the evaluator side connects to it; each pair is an ordinary
garbled session (mutual TLS 1.3 with pinned keys) over that partition's rows. There is no
coordinator: the two sides meet only through the endpoints list and the job id they share.

**Pairing is checked.** Every shard's session carries the job id, the shard index and the shard
count in its handshake; a peer of another shard or another job ends the session on both sides
with a ``PeerError`` naming the field (``shard index differs``, ``sharded job id differs``), and
no rows of two different shards are ever combined.

**Retries converge.** A shard is a loop until its deadline (``timeout`` seconds after the shard
task starts): the garbler shard keeps its endpoint open and accepts again whenever a session
ends part-way (its peer's worker died), and the evaluator shard reconnects whenever its session
ends part-way (the garbler's worker died, and Dask restarted that task elsewhere, where it binds
the endpoint again). A session that ended part-way is discarded on both sides; only a session
that ran every row returns a result, so the result is exactly the honest one. Errors that a
retry cannot fix (a mismatched shard or job, a key that is not the pinned one, a cheating peer)
end the shard at once. Dask restarts a task whose worker died; ``run_rows`` also asks it for
up to 3 retries of a task that raised.

**What it returns.** ``run_rows`` blocks until every shard of this side has finished and returns
a *computed* collection: a Dask array (for a Dask array of rows) or a Dask DataFrame (for a Dask
DataFrame, with the input's index) whose partitions hold the outputs of the matching input
partitions, in row order. If any shard failed, no result is returned: the error lists every
shard that failed and why.

Deployment notes (docs/SCALE.md has the step-by-step set-up): the garbler side's shard ``i``
must run on a worker that can bind ``endpoints[i]`` (pin it with Dask worker resources or
restrictions when workers are on several hosts); each side needs at least as many task slots
(workers x threads) as shards, since every pair must run at the same time; the identity file is
passed by path and must exist at that path on every worker (it is never sent through the
scheduler or logged).
"""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from . import Circuit, PeerError, Timeout, UsageError, connect, Listener

#: Errors a retry of the session cannot fix.
_FINAL_KINDS = ("mismatch", "authentication", "cheating")


def _named(error: BaseException, job: str, index: int, count: int, endpoint: str) -> BaseException:
    """The same kind of error, its message prefixed with the job, the shard and the endpoint."""
    cls = type(error)
    try:
        named = cls(f"job {job}: shard {index} of {count} at {endpoint}: {error}")
    except Exception:  # pragma: no cover - every garbled error takes one message
        return error
    kind = getattr(error, "kind", None)
    if kind is not None:
        named.kind = kind  # type: ignore[attr-defined]
    return named


def _final(error: BaseException) -> bool:
    return getattr(error, "kind", "") in _FINAL_KINDS


def _shard(
    block: Any,
    index: int,
    count: int,
    circuit: Circuit,
    role: str,
    endpoint: str,
    identity: str,
    peer: str,
    job: str,
    security: str,
    scheme: str,
    timeout: float,
) -> Any:
    """One shard, on a worker: a session over `block`'s rows with the peer shard, retried until
    it runs whole or the deadline passes. Returns the outputs (a 2-D numpy array), and for a
    DataFrame partition its index too."""
    import numpy as np

    index_of_frame = None
    if hasattr(block, "to_numpy") and hasattr(block, "index"):
        index_of_frame = block.index
        rows = block.to_numpy()
    else:
        rows = np.asarray(block)
    if rows.ndim != 2:
        raise UsageError(f"job {job}: shard {index}: rows must be 2-D (one column per own input group)")
    tag = (job, index, count)
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None

    def left() -> float:
        return deadline - time.monotonic()

    def run(session: Any) -> Any:
        with session:
            return session.run_rows(circuit, rows, shard=tag)

    if role == "garbler":
        listener = None
        while listener is None:
            try:
                listener = Listener(endpoint, identity=identity, peer=peer)
            except Exception as e:  # the retried task's port may still be held briefly
                if left() <= 0.5 or "in use" not in str(e):
                    raise _named(e, job, index, count, endpoint) from None
                time.sleep(0.2)
        with listener:
            while True:
                if left() <= 0:
                    raise Timeout(
                        f"job {job}: shard {index} of {count}: no evaluator shard completed a session at "
                        f"{endpoint} within {timeout:.0f} s" + (f" (last attempt: {last})" if last else "")
                    )
                try:
                    session = listener.accept(role="garbler", security=security, scheme=scheme, timeout=left())
                except Timeout as e:
                    raise _named(e, job, index, count, endpoint) from None
                except PeerError as e:
                    raise _named(e, job, index, count, endpoint) from None
                try:
                    out = run(session)
                    break
                except (PeerError, Timeout) as e:
                    if _final(e):
                        raise _named(e, job, index, count, endpoint) from None
                    last = e  # the evaluator went away part-way: wait for its retry
    else:
        while True:
            if left() <= 0:
                raise Timeout(
                    f"job {job}: shard {index} of {count}: could not complete a session with the garbler "
                    f"shard at {endpoint} within {timeout:.0f} s" + (f" (last attempt: {last})" if last else "")
                )
            try:
                session = connect(
                    endpoint,
                    role="evaluator",
                    identity=identity,
                    peer=peer,
                    security=security,
                    scheme=scheme,
                    timeout=max(left(), 0.1),
                )
            except Timeout as e:
                raise _named(e, job, index, count, endpoint) from None
            except PeerError as e:
                if _final(e):
                    raise _named(e, job, index, count, endpoint) from None
                last = e
                time.sleep(0.2)
                continue
            try:
                out = run(session)
                break
            except (PeerError, Timeout) as e:
                if _final(e):
                    raise _named(e, job, index, count, endpoint) from None
                last = e  # the garbler went away part-way: reconnect to its retry
                time.sleep(0.2)
    out = np.asarray(out)
    return (index_of_frame, out) if index_of_frame is not None else out


def run_rows(
    client: Any,
    circuit: Circuit,
    rows: Any,
    *,
    role: str,
    endpoints: Sequence[str],
    identity: str,
    peer: str,
    job: str,
    security: str = "semi-honest",
    scheme: str = "half-gates",
    timeout: float = 60.0,
) -> Any:
    """Runs `rows` through `circuit` with the other organisation, one session per partition.

    client: a ``dask.distributed.Client`` of this organisation's cluster.
    circuit: a ``garbled.Circuit`` (pickled to the workers: a generated circuit, or a file at the
        same path on every worker).
    rows: a 2-D Dask integer array (chunked along rows only, or it is rechunked so) or a Dask
        DataFrame with one column per own input group. Its partitions are the shards.
    role: "garbler" (the shards listen) or "evaluator" (the shards connect).
    endpoints: ``host:port`` per shard, where the garbler side's shard ``i`` listens; both sides
        pass the same list, in the same order.
    identity: path of this organisation's identity file (on every worker); peer: the other
        organisation's fingerprint.
    job: a job id both sides share; sessions of other jobs are refused.
    timeout: seconds each shard may take, from its task's start, to complete a session.

    Returns a computed Dask array (or DataFrame) of the outputs, partitioned like `rows`, in row
    order. Raises the shards' error (with every failed shard listed) if any failed; no partial
    result is returned.
    """
    import numpy as np
    import dask
    import dask.array as da

    if role not in ("garbler", "evaluator"):
        raise UsageError(f"role={role!r}: give 'garbler' or 'evaluator'")
    if not job or len(job.encode()) > 256:
        raise UsageError("job: give an id of 1 to 256 bytes, the same on both sides")
    if not (0 < timeout <= 86_400):
        raise UsageError(f"timeout={timeout}: give a number of seconds above 0 and at most 86400")
    endpoints = list(endpoints)
    frame = hasattr(rows, "npartitions") and hasattr(rows, "columns")
    if frame:
        parts = list(rows.to_delayed())
    else:
        if getattr(rows, "ndim", None) != 2 or not hasattr(rows, "to_delayed"):
            raise UsageError("rows: give a 2-D Dask array or a Dask DataFrame")
        if rows.numblocks[1] != 1:
            rows = rows.rechunk({1: -1})
        parts = list(rows.to_delayed().ravel())
    if len(parts) != len(endpoints):
        raise UsageError(
            f"rows have {len(parts)} partition(s) but {len(endpoints)} endpoint(s) were given: "
            "give one endpoint per partition (shard), the same list on both sides"
        )
    if len(set(endpoints)) != len(endpoints):
        raise UsageError("endpoints: every shard needs its own endpoint")
    count = len(parts)
    tasks = [
        dask.delayed(_shard, pure=False)(
            part, i, count, circuit, role, endpoints[i], str(identity), peer, job, security, scheme, timeout
        )
        for i, part in enumerate(parts)
    ]
    futures = client.compute(tasks, retries=3)
    # Every shard ends (a result, or an error at its deadline at the latest) before any result
    # is used.
    done = client.gather(futures, errors="skip")
    failed = [(i, f.exception()) for i, f in enumerate(futures) if f.status == "error"]
    if failed:
        first = failed[0][1]
        message = f"job {job}: {len(failed)} of {count} shard(s) failed, no result: " + "; ".join(
            str(e) for _, e in failed
        )
        try:
            error = type(first)(message)
            if hasattr(first, "kind"):
                error.kind = first.kind  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover
            error = RuntimeError(message)
        raise error
    results = done
    if frame:
        import dask.dataframe as dd
        import pandas as pd

        frames = []
        for index, out in results:
            columns = [f"output_{j}" for j in range(out.shape[1])]
            frames.append(pd.DataFrame(out, index=index, columns=columns))
        return dd.from_pandas(pd.concat(frames), npartitions=count, sort=False)
    blocks = [da.from_array(np.asarray(out), chunks=np.asarray(out).shape) for out in results]
    return da.concatenate(blocks, axis=0)
