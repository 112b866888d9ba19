"""Deprecated: moved to :mod:`llmobs_nb.capture.response_usage`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.capture.response_usage")
