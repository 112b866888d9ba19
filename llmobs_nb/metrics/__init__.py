"""Live Prometheus metrics: one registry per observer, served by prometheus_client."""

from llmobs_nb.metrics.label_guard import LabelGuard
from llmobs_nb.metrics.observer_metrics import ObserverMetrics
from llmobs_nb.metrics.server import MetricsServer

__all__ = ["LabelGuard", "MetricsServer", "ObserverMetrics"]
