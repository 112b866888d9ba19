"""Corpora for redaction tests and benchmarks: fake secrets of every kind, and ordinary text.

Fake secrets are built at run time from a seeded random generator (no credential-shaped
literal sits in this file), each embedded in a sentence the way it shows up in exception
messages and logs. The ordinary corpus is what prompts, answers and logs look like without a
secret: the demo's texts, sentences with numbers and dates, URLs without credentials, hashes
and UUIDs in log lines, code and configuration snippets, prose about keys and passwords.

Example:
    >>> cases = fake_secrets()
    >>> {c.kind for c in cases} >= {"openai-short", "aws-secret", "jwt", "private-key"}
    True
    >>> len(ordinary_texts()) > 300
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from dataclasses import dataclass

from llmobs_nb.demo import texts

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"


@dataclass(frozen=True)
class FakeSecret:
    """One fake credential: its kind, the secret characters, and a text that carries it."""

    kind: str
    secret: str
    text: str


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    while True:
        out = "".join(rng.choice(alphabet) for _ in range(n))
        # Mixed case and a digit, as real keys have (a run of one class could read as a word).
        if any(c.isdigit() for c in out) or not any(c.isdigit() for c in alphabet):
            return out


def _jwt(rng: random.Random) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    sig = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': rng.randrange(10**9)})}.{sig}"


def _private_key(rng: random.Random) -> tuple[str, str]:
    body = base64.b64encode(rng.randbytes(180)).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    kind = "RSA PRIVATE KEY"
    return body[:64], f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----"


def fake_secrets(seed: int = 7) -> list[FakeSecret]:
    """One fake secret of every kind the redactor must catch, each in a sentence.

    ``secret`` is the part that must never be kept; search stored bytes for it.
    """
    rng = random.Random(seed)
    oa_short = "sk-" + _pick(rng, _ALNUM, 24)
    oa_long = (
        "sk-proj-" + _pick(rng, _ALNUM + "_-", 74) + "T3BlbkFJ" + _pick(rng, _ALNUM + "_-", 74)
    )
    anthropic = "sk-ant-api03-" + _pick(rng, _ALNUM + "_-", 93) + "AA"
    key_id = "AKIA" + _pick(rng, string.ascii_uppercase + "234567", 16)
    aws_secret = _pick(rng, _B64, 40)
    aws_secret2 = _pick(rng, _B64, 40)
    github = "ghp_" + _pick(rng, _ALNUM, 36)
    github_fine = "github_pat_" + _pick(rng, _ALNUM, 22) + "_" + _pick(rng, _ALNUM, 59)
    hf = "hf_" + _pick(rng, string.ascii_letters, 34)
    slack = f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-" + _pick(
        rng, _ALNUM, 24
    )
    stripe = "sk_live_" + _pick(rng, _ALNUM, 24)
    google = "AIza" + _pick(rng, _ALNUM + "_-", 35)
    jwt = _jwt(rng)
    bearer = _pick(rng, _ALNUM, 32)
    url_pw = _pick(rng, _ALNUM, 14)
    password = _pick(rng, _ALNUM + "!#%", 12)
    generic = _pick(rng, _ALNUM, 32)
    pk_line, pk_block = _private_key(rng)
    return [
        FakeSecret("openai-short", oa_short, f"Incorrect API key provided: {oa_short}."),
        FakeSecret("openai-long", oa_long, f"OPENAI_API_KEY={oa_long}"),
        FakeSecret("anthropic", anthropic, f"x-api-key header was {anthropic} (401)"),
        FakeSecret("aws-key-id", key_id, f"The AWS Access Key Id {key_id} does not exist"),
        FakeSecret(
            "aws-secret",
            aws_secret,
            f"aws_access_key_id={key_id} aws_secret_access_key={aws_secret}",
        ),
        FakeSecret(
            "aws-secret-near-id", aws_secret2, f"credentials {key_id} / {aws_secret2} rejected"
        ),
        FakeSecret("github", github, f"git clone failed with token {github}"),
        FakeSecret("github-fine-grained", github_fine, f"GH token {github_fine} expired"),
        FakeSecret("huggingface", hf, f"HF_TOKEN is {hf}"),
        FakeSecret("slack", slack, f"slack webhook bot {slack} revoked"),
        FakeSecret("stripe", stripe, f"Invalid API Key provided: {stripe}"),
        FakeSecret("google", google, f"https://maps.googleapis.com/maps/api/geocode?key={google}"),
        FakeSecret("jwt", jwt, f"session {jwt}, expired at 12:00"),
        FakeSecret("bearer", bearer, f"headers: {{'Authorization': 'Bearer {bearer}'}}"),
        FakeSecret("basic-auth-url", url_pw, f"cannot reach postgres://app:{url_pw}@db:5432/x"),
        FakeSecret("password", password, f"login failed for password={password}"),
        FakeSecret("private-key", pk_line, f"bad key file:\n{pk_block}\n"),
        FakeSecret("generic-api-key", generic, f'config {{"api_key": "{generic}"}} rejected'),
    ]


_SUBJECTS = ("the order", "my invoice", "the report", "this ticket", "our deployment", "the job")
_VERBS = ("failed", "shipped", "was updated", "is pending", "timed out", "completed")
_TOPICS = (
    "How do I rotate the API key for the staging project without downtime?",
    "Explain the difference between an access token and a refresh token.",
    "Password requirements: at least 12 characters, one digit and one symbol.",
    "Reset your password: open Settings, then Security, then Change password.",
    "The key to a good summary is brevity, clarity and accuracy.",
    "Token usage: 1,234 input tokens and 567 output tokens for this call.",
    "The bearer of this certificate is entitled to one free coffee.",
    "Authorization required before shipping orders over $500.",
    "Use max_tokens=512 and temperature=0.2 for the support assistant.",
    "Secret Santa: everyone brings a gift under 20 euros on December 18.",
    "Keyboard shortcuts: press Ctrl+K to search and Ctrl+Shift+P for commands.",
    "Access the dashboard at https://grafana.example.com/d/abc123/llm-latency?orgId=1",
    "The monkey, the donkey and the turkey walked into the primary key index.",
    "Credentials are stored in the vault; never paste them into a prompt.",
    "Our API rate limit is 60 requests per minute per key, 10,000 per day.",
    "The secret sauce of the recipe is smoked paprika and a pinch of sugar.",
)
_CODE = (
    'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
    "api_key = os.getenv('ANTHROPIC_API_KEY')",
    'headers = {"Authorization": f"Bearer {token}"}',
    "password = getpass.getpass()",
    "if token is None: raise ValueError('missing token')",
    "SELECT user_id, count(*) AS n FROM sessions WHERE created_at > now() - interval 7 day;",
    "for i, key in enumerate(sorted(cache.keys())): print(i, key)",
    'config = {"max_tokens": 1024, "temperature": 0.7, "top_p": 0.95, "model": "gpt-4o"}',
    "def hash_password(password: str, salt: bytes) -> bytes: ...",
    "secret_name = 'prod/db/credentials'  # looked up in AWS Secrets Manager",
    "export PATH=$HOME/.local/bin:$PATH",
    "docker run -p 8080:80 -e DB_HOST=db -e DB_PORT=5432 myapp:1.4.2",
    "git commit -m 'fix: handle empty input in tokenize()'",
    "kubectl get pods -n llm-serving -o wide",
    "pip install 'llmobs_nb[otlp]>=0.1.0'",
    "access_log /var/log/nginx/access.log main;",
    "token_count = len(tokenizer.encode(text))",
    "result = [f(x) for x in items if x is not None]",
)


def _log_line(rng: random.Random) -> str:
    ts = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
    ts += f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
    choice = rng.randrange(6)
    if choice == 0:
        return f"{ts} INFO request_id={uuid.UUID(int=rng.getrandbits(128))} status=200"
    if choice == 1:
        digest = hashlib.sha256(rng.randbytes(16)).hexdigest()
        return f"{ts} stored blob sha256:{digest} ({rng.randint(1, 999)} KB)"
    if choice == 2:
        return f"{ts} deployed commit {hashlib.sha1(rng.randbytes(8)).hexdigest()} to prod"
    if choice == 3:
        return f"{ts} GET https://api.example.com/v1/orders/{rng.randint(10**5, 10**6)}?page=2 200"
    if choice == 4:
        return f"trace_id={rng.getrandbits(128):032x} span_id={rng.getrandbits(64):016x}"
    return f"{ts} WARN retrying in {rng.uniform(0.1, 9):.2f}s (attempt {rng.randint(1, 5)}/5)"


def _sentence(rng: random.Random) -> str:
    choice = rng.randrange(5)
    if choice == 0:
        return (
            f"{rng.choice(_SUBJECTS).capitalize()} #{rng.randint(1000, 99999)} "
            f"{rng.choice(_VERBS)} on {rng.randint(1, 28)} March at {rng.randint(1, 12)} pm."
        )
    if choice == 1:
        return (
            f"Revenue grew {rng.uniform(1, 40):.1f}% to ${rng.randint(1, 900)},"
            f"{rng.randint(100, 999)} in Q{rng.randint(1, 4)} {rng.randint(2019, 2025)}."
        )
    if choice == 2:
        return (
            f"See https://docs.example.com/guides/{rng.choice(['rag', 'evals', 'keys'])}"
            f"#section-{rng.randint(1, 9)} or http://localhost:{rng.randint(3000, 9000)}/health"
        )
    if choice == 3:
        return (
            f"Call +1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)} or write to "
            f"support@example.com; ticket {uuid.UUID(int=rng.getrandbits(128))}."
        )
    return rng.choice(_TOPICS)


def ordinary_texts(n: int = 400, seed: int = 11) -> list[str]:
    """Prompts, answers, logs and snippets with no secret in them (a fixed list per seed)."""
    rng = random.Random(seed)
    out: list[str] = []
    for value in vars(texts).values():
        if isinstance(value, tuple):
            for item in value:
                out.extend(item if isinstance(item, tuple) else (item,))
    out = [t for t in out if isinstance(t, str)]
    out.extend(_TOPICS)
    out.extend(_CODE)
    while len(out) < n:
        kind = rng.randrange(3)
        out.append(_sentence(rng) if kind == 0 else _log_line(rng) if kind == 1 else _sentence(rng))
    return out
