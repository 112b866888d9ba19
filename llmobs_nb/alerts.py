"""Deprecated: the alert-rule backtest is :func:`llmobs_nb.export.backtest_alert_rules`.

``llmobs_nb.alerts.evaluate`` and ``EPISODE_SCHEMA`` keep working for one release with a
``DeprecationWarning``.
"""

from llmobs_nb._deprecated import moved_names

__getattr__ = moved_names(
    __name__,
    {
        "evaluate": "llmobs_nb.export.backtest:backtest_alert_rules",
        "EPISODE_SCHEMA": "llmobs_nb.export.backtest:EPISODE_SCHEMA",
    },
)
