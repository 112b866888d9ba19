"""Deprecated: moved to :mod:`llmobs_nb.metrics.label_guard`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.metrics.label_guard")
