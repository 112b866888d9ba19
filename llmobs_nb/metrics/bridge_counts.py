"""The standards bridge's counts as Prometheus counters, read at scrape time.

``llmobs_export_scores_total{outcome}`` (sent, dropped_queue_full, failed) comes from the same
``export_stats()`` (its ``scores_*`` keys).

``llmobs_export_spans_total{outcome}`` comes from ``Capture.export_stats()`` (sent,
dropped_queue_full, failed, unsent_at_close), ``llmobs_received_spans_total{outcome}`` and
``llmobs_received_requests_total{outcome}`` (accepted, refused) from the OTLP receivers'
``counts()``. Nothing is incremented on the way: each scrape reads the running totals, so a
span is never counted twice and the metric always equals ``obs.health()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily

from llmobs_nb.capture.errors import capture_failed
from llmobs_nb.metrics import definitions as d

Counts = Callable[[], Mapping[str, int]]

# receiver count key → (metric, outcome label)
_RECEIVED = {
    "spans_received": (d.RECEIVED_SPANS, "accepted"),
    "spans_refused": (d.RECEIVED_SPANS, "refused"),
    "requests": (d.RECEIVED_REQUESTS, "accepted"),
    "requests_refused": (d.RECEIVED_REQUESTS, "refused"),
}


def _family(metric: d.MetricDef) -> CounterMetricFamily:
    # CounterMetricFamily adds the _total suffix itself
    return CounterMetricFamily(metric.name.removesuffix("_total"), metric.help, labels=("outcome",))


class BridgeCounts:
    """A Prometheus collector of the OTLP export and receiver counts (see the module doc).

    ``export_stats`` and ``receiver_counts`` are called at each scrape; an empty mapping (no
    endpoint, no receiver) exposes the family without samples. Outcomes are a fixed set: an
    unknown key is left out, so the labels stay bounded.

    Example:
        >>> from prometheus_client import CollectorRegistry, generate_latest
        >>> registry = CollectorRegistry()
        >>> registry.register(BridgeCounts(lambda: {"sent": 3, "failed": 2}, dict))
        >>> 'llmobs_export_spans_total{outcome="failed"} 2.0' in generate_latest(registry).decode()
        True
    """

    def __init__(self, export_stats: Counts, receiver_counts: Counts) -> None:
        self.export_stats = export_stats
        self.receiver_counts = receiver_counts

    def collect(self) -> Iterator[Any]:
        """Prometheus collector protocol: the four ``llmobs_*_total{outcome}`` families."""
        export = _family(d.EXPORT_SPANS)
        stats = _read(self.export_stats)
        for outcome in d.EXPORT_OUTCOMES:
            if outcome in stats:
                export.add_metric((outcome,), stats[outcome])
        yield export
        scores = _family(d.EXPORT_SCORES)
        for key, outcome in d.EXPORT_SCORE_OUTCOMES.items():
            if key in stats:
                scores.add_metric((outcome,), stats[key])
        yield scores
        families = {m.name: _family(m) for m in (d.RECEIVED_SPANS, d.RECEIVED_REQUESTS)}
        counts = _read(self.receiver_counts)
        for key, (metric, outcome) in _RECEIVED.items():
            if key in counts:
                families[metric.name].add_metric((outcome,), counts[key])
        yield from families.values()


def _read(counts: Counts) -> Mapping[str, int]:
    # a scrape never fails on a count it cannot read: that family shows no samples (logged once)
    try:
        return counts()
    except Exception as exc:
        capture_failed("read the OTLP export or receiver counts", exc)
        return {}
