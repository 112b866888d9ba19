"""Attribute names: OpenTelemetry GenAI semantic conventions, OpenInference, and our own.

Defined here rather than imported because the semconv package marks its GenAI module
deprecated and renames keys between releases; these strings are what lands in the store.
"""

from __future__ import annotations

# OpenTelemetry GenAI semantic conventions.
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # older name of the provider attribute, still emitted widely
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # pre-1.27 name
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # pre-1.27 name
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"  # Anthropic SDK
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
# Sessions, agents and tools (GenAI conventions v1.41, gen-ai-agent-spans and execute-tool).
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"  # content: opt-in
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"  # content: opt-in

# OpenInference (Arize Phoenix) conventions, read as well.
OI_SPAN_KIND = "openinference.span.kind"
OI_MODEL_NAME = "llm.model_name"
OI_PROVIDER = "llm.provider"
OI_SYSTEM = "llm.system"
OI_TOKEN_PROMPT = "llm.token_count.prompt"
OI_TOKEN_COMPLETION = "llm.token_count.completion"
OI_TOKEN_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OI_TOKEN_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OI_TOKEN_REASONING = "llm.token_count.completion_details.reasoning"
OI_INPUT_VALUE = "input.value"
OI_OUTPUT_VALUE = "output.value"
OI_SESSION_ID = "session.id"
OI_AGENT_NAME = "agent.name"
OI_GRAPH_NODE_NAME = "graph.node.name"  # OpenInference agent frameworks' step (node) name
OI_TOOL_NAME = "tool.name"
OI_TOOL_DESCRIPTION = "tool.description"
OI_TOOL_CALL_ID = "tool_call.id"

# Ours: labels and bookkeeping that have no GenAI convention.
LLMOBS_KIND = "llmobs.kind"
LLMOBS_USE_CASE = "llmobs.use_case"
LLMOBS_USER_ID = "llmobs.user_id"
LLMOBS_RUN = "llmobs.run"
LLMOBS_PROJECT = "llmobs.project"
LLMOBS_INPUT = "llmobs.input"
LLMOBS_OUTPUT = "llmobs.output"
LLMOBS_USAGE_ERROR = "llmobs.usage_error"
LLMOBS_STREAM = "llmobs.stream"
LLMOBS_STREAM_ABANDONED = "llmobs.stream.abandoned"
LLMOBS_USAGE_MISSING = "llmobs.usage_missing"
LLMOBS_REQUEST_ID = "llmobs.request_id"
USER_ID = "user.id"  # OpenInference / general convention

SPAN_KINDS = frozenset(
    {"llm", "embedding", "retrieval", "rerank", "tool", "chain", "agent", "evaluator", "other"}
)
# OpenInference span kinds (upper case) mapped onto ours.
OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
    "TOOL": "tool",
    "CHAIN": "chain",
    "AGENT": "agent",
    "EVALUATOR": "evaluator",
    "GUARDRAIL": "other",
}
# GenAI operation names that mean "this span is a model call".
LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "responses", "completion"}
)
# GenAI operation names of agent spans (not model calls: the model calls are their children).
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
TOOL_OPERATIONS = frozenset({"execute_tool"})
WORKFLOW_OPERATIONS = frozenset({"invoke_workflow"})  # our kind "chain"
EMBEDDING_OPERATIONS = frozenset({"embeddings", "embedding"})

# --- Ingest of third-party spans (helper "ingest", issue #13 items 3 and 5) -----------------
OI_INVOCATION_PARAMETERS = "llm.invocation_parameters"  # JSON text; "model" on failed calls
OI_INPUT_MESSAGES = "llm.input_messages"  # flattened: llm.input_messages.<i>.message.role ...
OI_OUTPUT_MESSAGES = "llm.output_messages"
OI_FIRST_TOKEN_EVENT = "First Token Stream Event"  # OpenInference openai/anthropic, on streams
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"  # event name (span event or log record)
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
EVENT_NAME = "event.name"  # a log record's event name as an attribute (older emitters)

# The GenAI conventions' error.type when nothing better is known (export and metrics).
ERROR_TYPE_OTHER = "_OTHER"
