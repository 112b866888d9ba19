"""Deprecated: moved to :mod:`llmobs_nb.evals.score_rows`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.evals.score_rows")
