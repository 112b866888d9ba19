"""Short prompt and answer texts for the few demo calls that carry content.

Real stores hold content only where capture_content was on; the demo fills about 1% of calls,
with a poor answer where the judge scored the call low, so "why was this answer bad" has an
answer to read.
"""

from __future__ import annotations

# One tuple per use case, in the order of profiles.USE_CASES; the same length for each.
QUESTIONS: tuple[tuple[str, ...], ...] = (
    (
        "Where is my order #48213? It was due on Monday.",
        "How do I change the delivery address of an order?",
        "Can I return a jacket I bought 40 days ago?",
        "My card was charged twice for one order.",
    ),
    (
        "How do I rotate the API key without downtime?",
        "What is the rate limit of the search endpoint?",
        "Does the SDK support async clients?",
        "How are webhooks retried after a failure?",
    ),
    (
        "Summarise this support ticket thread in three bullet points.",
        "Summarise the attached meeting notes for the weekly report.",
        "Give a one-paragraph summary of this incident review.",
        "Summarise the customer's complaint for the escalation team.",
    ),
    (
        "Write a SQL query that counts orders per day for the last week.",
        "Why does this Python function raise KeyError on empty input?",
        "Refactor this loop into a list comprehension.",
        "Add type hints to this function.",
    ),
)

GOOD_ANSWERS: tuple[tuple[str, ...], ...] = (
    (
        "Order #48213 left our warehouse on Tuesday; the tracking link is in your email.",
        "Open Orders, pick the order and choose Change address before it ships.",
        "Returns are accepted within 30 days; after that we can offer store credit.",
        "The second charge is a pending authorisation and will drop within 3 days.",
    ),
    (
        "Create a second key, deploy it, then revoke the first one (Settings > API keys).",
        "The search endpoint allows 60 requests per minute per key.",
        "Yes: use AsyncClient, it mirrors every method of Client.",
        "Failed webhooks are retried with exponential backoff for up to 24 hours.",
    ),
    (
        "- Customer reports a double charge\n- Agent confirmed a pending hold\n- Resolved",
        "The team agreed to ship v2 on Friday and to move the review to Monday.",
        "A config change caused 20 minutes of errors; a rollback fixed it.",
        "The customer received a damaged item twice and asks for a refund.",
    ),
    (
        "SELECT date_trunc('day', created_at) AS day, count(*) FROM orders GROUP BY 1;",
        "dict[key] raises on a missing key; use dict.get(key) or check for emptiness first.",
        "result = [f(x) for x in items if x is not None]",
        "def total(prices: list[float]) -> float: ...",
    ),
)

POOR_ANSWERS: tuple[str, ...] = (
    "I'm sorry, I can't help with that request.",
    "Please contact support for more information.",
    "I don't have enough information to answer.",
    "As an AI model, I cannot access your account.",
)

HUMAN_COMPLAINTS: tuple[str, ...] = (
    "wrong answer",
    "did not use my order number",
    "too generic",
    "outdated information",
)

# Agent sessions (generate(agents=True)) carry their text: the agent service runs with content
# capture on. A turn's user message and the support agent's answer (aligned); the loop's
# message and give-up answer; the researcher's summary.
AGENT_MESSAGES: tuple[str, ...] = (
    "Where is my order #48213? It was due on Monday.",
    "I want a refund for order #51907, the blender arrived broken.",
    "Does the X200 vacuum work with the older filter bags?",
    "Can you change the delivery address of order #47730?",
    "What does the extended warranty cover?",
    "Is the Aero jacket waterproof or only water resistant?",
)
AGENT_ANSWERS: tuple[str, ...] = (
    "Order #48213 shipped on Tuesday and arrives tomorrow; the tracking link is in your email.",
    "I have started a refund of 59.00 USD for order #51907; it reaches your card in 3-5 days.",
    "Yes: the X200 takes the older bags, though the new ones filter better.",
    "Done: order #47730 now goes to the new address; it has not shipped yet.",
    "Two more years of parts and repairs, accidental damage excluded.",
    "It is water resistant (rated IPX4): fine in rain, not for a downpour.",
)
LOOP_MESSAGE = "What is your refund policy for opened items?"
LOOP_ANSWER = "I'm sorry, I could not find our refund policy right now. Please try again later."
RESEARCH_SUMMARY = "Three reviews and the maker's FAQ agree; summary with sources attached."

# Arguments (JSON, as a model's tool call gives them) and results of each tool, in
# profiles.TOOLS order; results aligned with arguments.
TOOL_ARGUMENTS: tuple[tuple[str, ...], ...] = (
    (
        '{"query": "refund policy"}',
        '{"query": "delivery address change"}',
        '{"query": "extended warranty"}',
        '{"query": "X200 filter bags"}',
    ),
    ('{"order_id": "48213"}', '{"order_id": "51907"}', '{"order_id": "47730"}'),
    ('{"order_id": "51907", "amount_usd": 59.0}', '{"order_id": "48213", "amount_usd": 24.5}'),
    (
        '{"query": "Aero jacket waterproof rating"}',
        '{"query": "X200 vacuum filter bag compatibility"}',
    ),
)
TOOL_RESULTS: tuple[tuple[str, ...], ...] = (
    (
        '{"results": [{"doc": "returns.md", "text": "Refunds within 30 days of delivery."}]}',
        '{"results": [{"doc": "orders.md", "text": "Addresses change until shipping."}]}',
        '{"results": [{"doc": "warranty.md", "text": "Two extra years of parts."}]}',
        '{"results": [{"doc": "x200.md", "text": "Fits type B and type C bags."}]}',
    ),
    (
        '{"order_id": "48213", "status": "shipped", "eta": "tomorrow"}',
        '{"order_id": "51907", "status": "delivered", "total_usd": 59.0}',
        '{"order_id": "47730", "status": "packing"}',
    ),
    (
        '{"refund_id": "rf_2291", "status": "pending"}',
        '{"refund_id": "rf_2292", "status": "pending"}',
    ),
    (
        '{"results": ["Aero jacket: IPX4, water resistant", "Review: fine in light rain"]}',
        '{"results": ["X200 FAQ: takes type B and C bags"]}',
    ),
)
