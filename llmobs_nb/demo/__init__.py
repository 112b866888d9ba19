"""Realistic synthetic LLM traffic with known, injected incidents, for notebooks and tests.

Example::

    from llmobs_nb import demo

    sample = demo.generate(20_000, days=7, seed=0)
    sample.calls                                  # the llm_calls columns
    sample.truth.quality_regression.start         # when quality began to drop
    demo.generate(20_000, agents=True).truth.tool_loop  # agent sessions, and a tool loop
"""

from llmobs_nb.demo.generate import SampleData, generate
from llmobs_nb.demo.incidents import (
    CostSpike,
    LatencyIncident,
    QualityRegression,
    RunExperiment,
    ToolLoop,
    Truth,
)
from llmobs_nb.demo.sample import SAMPLE_START, sample_store

__all__ = [
    "SAMPLE_START",
    "CostSpike",
    "LatencyIncident",
    "QualityRegression",
    "RunExperiment",
    "SampleData",
    "ToolLoop",
    "Truth",
    "generate",
    "sample_store",
]
