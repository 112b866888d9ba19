"""Deprecated: moved to :mod:`llmobs_nb.view.data_source`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.view.data_source")
