"""The secret-detection rules the redactor applies: detect-secrets' regex detectors plus ours.

The detectors come from Yelp's ``detect-secrets`` (Apache-2.0), installed from PyPI as a
runtime dependency; its licence ships in the installed distribution's ``dist-info`` directory
(:func:`rule_source` gives the path). At first use, every concrete
``detect_secrets.plugins.base.RegexBasedDetector`` subclass found in ``detect_secrets.plugins``
contributes one rule per expression of its ``denylist`` (:func:`detector_classes`). Nothing of
it is copied here: the rules are read from the installed package each time. Left out: the
high-entropy-string and keyword detectors (not regex detectors: they flag ordinary text) and
:data:`EXCLUDED_DETECTORS` (public IP addresses are not credentials).

Each detector expression is adapted, not changed in what it means for a real secret:
unbounded repeats (``+``, ``*``, ``{n,}``) get an upper bound of :data:`MAX_REPEAT`
characters, because Python's ``re`` backtracks and a detector without a word boundary would
rescan a long run from every position (see :func:`bounded`); its keywords, the literal text
every match contains, are derived from its parsed form (see :func:`required_literals`), so
the redactor runs it only on a text that contains one (keywords first, as gitleaks does).

:data:`EXTRA_RULES` adds what detectors written for source files miss in prompts, logs and
exception messages: short ``sk-`` keys, AWS secret access keys, passwords in URLs and
assignments, bearer and ``Authorization`` values, secret-named ``key=value`` pairs, private key
blocks (also cut short), JWTs followed by punctuation, Hugging Face tokens, GitHub
fine-grained tokens and Google API keys (detect-secrets 1.5 has no detector for these three).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

# Lookaheads are bounded ({0,400}): an unbounded one rescans a long run at every keyword.
# A value that names where a secret comes from rather than being one.
_NOT_A_VALUE = (
    r"(?!\$|\{|<|\*{3}|\[REDACTED|os\.|getenv|environ|process\.env|none\b|null\b|true\b|"
    r"false\b|input\(|getpass|\.\.\.)"
)
_QUOTED = r"(?:\"([^\"\n]{3,200})\"|'([^'\n]{3,200})')"
_PASSWORD_KEY = r"(?:passw(?:or)?d|passphrase|\bpwd)"
_SECRET_KEY = (
    r"(?:api[_-]?key|x-api-key|secret[_-]?key|client[_-]?secret|access[_-]?token|"
    r"auth[_-]?token|refresh[_-]?token|session[_-]?token|(?:id_|id-|id)token|private[_-]?key|"
    r"\bsecret|\btoken|\bapi[_-]?secret)"
)
_B64_40 = (
    r"(?<![A-Za-z0-9/+])((?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])[A-Za-z0-9/+]{40})"
    r"(?![A-Za-z0-9/+=])"
)

EXTRA_RULES: list[dict[str, Any]] = [
    {
        "id": "llmobs-sk-key",  # OpenAI / Anthropic / compatible keys of any length
        "regex": r"\b(sk-(?=[A-Za-z0-9_-]{0,400}[0-9])[A-Za-z0-9_-]{10,})",
        "keywords": ["sk-"],
    },
    {
        "id": "llmobs-aws-secret-named",
        "regex": r"(?i)(?:aws[\w.-]{0,20}secret[\w.-]{0,20}|secret_?access_?key)[\"']?\s*[:=,]"
        + r"\s*[\"']?"
        + _B64_40,
        "keywords": ["aws", "secret"],
    },
    {
        "id": "llmobs-aws-secret-near-key-id",
        "regex": r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b[\s\S]{0,120}?" + _B64_40,
        "keywords": ["a3t", "akia", "asia", "abia", "acca"],
    },
    {
        "id": "llmobs-url-password",  # scheme://user:password@host
        "regex": r"(?<=[A-Za-z0-9+.-])://[^\s:@/?#\"'<>]{1,256}:([^\s@/?#\"'<>]{1,256})@",
        "keywords": ["://"],
    },
    {
        "id": "llmobs-password-assignment",  # password=..., "password": "...", pwd = '...'
        "regex": r"(?i)"
        + _PASSWORD_KEY
        + r"[\"']?\s*=\s*"
        + _NOT_A_VALUE
        + r"(?:"
        + _QUOTED
        + r"|([^\s\"'`,;&}]{3,}))",
        "keywords": ["passw", "passphrase", "pwd"],
    },
    {
        "id": "llmobs-password-colon",  # password: "..." or password: s3cr3t! (a digit/symbol)
        "regex": r"(?i)"
        + _PASSWORD_KEY
        + r"[\"']?\s*:\s*"
        + _NOT_A_VALUE
        + r"(?:"
        + _QUOTED
        + r"|((?=[^\s\"',;}]{0,400}[0-9!@#$%^&*])[^\s\"',;}]{4,}))",
        "keywords": ["passw", "passphrase", "pwd"],
    },
    {
        "id": "llmobs-secret-assignment",  # api_key=..., "client_secret": "...", token: a1b2...
        "regex": r"(?i)"
        + _SECRET_KEY
        + r"[\"']?\s*(?:=|:)\s*"
        + _NOT_A_VALUE
        + r"(?:"
        + _QUOTED.replace("{3,200}", "{4,400}")
        + r"|((?=[^\s\"',;}]{0,400}[0-9])[^\s\"'`,;&}]{6,}))",
        "keywords": [
            *("api", "x-api", "secret", "client", "access", "auth", "refresh", "session"),
            *("id_token", "id-token", "idtoken", "private", "token"),
        ],
    },
    {
        "id": "llmobs-bearer",
        "regex": r"(?i)\bbearer\s+((?=[A-Za-z0-9._~+/=-]{0,400}[0-9])[A-Za-z0-9._~+/=-]{8,})",
        "keywords": ["bearer"],
    },
    {
        "id": "llmobs-authorization",  # Authorization: Basic dXNlcjpw..., authorization=token
        "regex": r"(?i)(?:proxy-authorization|\bauthorization)[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?:basic|bearer|token|digest|apikey|sso-key|negotiate|ntlm|aws4-hmac-sha256)\s+)?"
        r"((?=[^\s\"',;]{0,400}[0-9+/=_])[^\s\"',;]{8,})",
        "keywords": ["authorization", "proxy-"],
    },
    {
        # PEM and SSH2 ("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----") blocks, the whole block:
        # detect-secrets' private key detector matches the header line only.
        "id": "llmobs-private-key-block",  # also a block cut short (messages are truncated)
        "regex": r"-----? ?BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)? ?-----?[\s\S]*?"
        r"(?:-----? ?END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)? ?-----?|\Z)",
        "keywords": ["----"],
        "redact": "match",
    },
    {
        "id": "llmobs-putty-key",  # a PuTTY key file, to its MAC (or the end of a cut text)
        "regex": r"PuTTY-User-Key-File-\d:[\s\S]*?(?:Private-MAC: ?[0-9a-fA-F]{1,128}|\Z)",
        "keywords": ["putty-user-key-file-"],
        "redact": "match",
    },
    {
        "id": "llmobs-github-fine-grained",  # github_pat_<22>_<59>
        "regex": r"\b(github_pat_[A-Za-z0-9_]{22,255})",
        "keywords": ["github_pat_"],
    },
    {
        "id": "llmobs-google-api-key",
        "regex": r"\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])",
        "keywords": ["aiza"],
    },
    {
        "id": "llmobs-jwt",  # also a JWT followed by punctuation or cut short
        "regex": r"\b(ey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)",
        "keywords": ["ey"],
    },
    {
        "id": "llmobs-huggingface",  # Hugging Face tokens, of any length
        "regex": r"\b(hf_[A-Za-z0-9]{30,})",
        "keywords": ["hf_"],
    },
]


MAX_REPEAT = 1024  # the longest run an unbounded repeat of a detector may match (measured)
MIN_KEYWORD = 3  # a shorter literal hits too often: such a rule scans every text instead
EXCLUDED_DETECTORS = frozenset({"IPPublicDetector"})  # an address, not a credential
_COUNTED = re.compile(r"\{(\d*)(,?)(\d*)\}")


@dataclass(frozen=True, slots=True)
class Rule:
    """One secret format: where it is found and which part of a match is the secret."""

    id: str
    regex: str  # compiled by the redactor on first use: most rules never run
    keywords: tuple[str, ...]  # lower-case; empty: run on every text
    entropy: float = 0.0  # a secret must have more bits per character than this
    group: int = 0  # 0: the first group that matched something, else the whole match
    # whole_match: the whole match is the secret (less what surrounds it: quotes, "=", spaces)
    whole_match: bool = False
    anchored: bool = False  # every match starts with one of the keywords
    flags: int = 0
    origin: str = "llmobs_nb"  # or "detect-secrets <version> <Detector class>"

    def compile(self) -> re.Pattern[str]:
        """The rule's expression, compiled (``re`` caches it)."""
        return re.compile(self.regex, self.flags)


def literal_prefixes(regex: str, flags: int = 0) -> set[str]:
    """The literal text every match of ``regex`` starts with, one string per alternative.

    A path stops at the first element that is not a literal (a class, an optional part);
    zero-width assertions (``\\b``, lookarounds) are skipped. "" means "anything".

    Example:
        >>> sorted(literal_prefixes(r"\\b(?:AKIA|ASIA)[A-Z0-9]{16}"))
        ['AKIA', 'ASIA']
        >>> literal_prefixes(r"(?i)passw(?:or)?d")
        {'passw'}
    """

    def node(op: Any, av: Any) -> set[tuple[str, bool]]:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return {("", True)}
        if op is c.LITERAL:
            return {(chr(av), True)}
        if op is c.SUBPATTERN:
            return walk(av[-1])
        if op is c.BRANCH:
            return set().union(*(walk(alt) for alt in av[1]))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            exact = av[0] == av[1] == 1
            return {(text, done and exact) for text, done in walk(av[2])}
        if op is c.IN and len(av) <= 8 and all(o is c.LITERAL for o, _ in av):
            return {(chr(v), True) for _, v in av}
        return {("", False)}

    def walk(items: Any) -> set[tuple[str, bool]]:
        paths = {("", True)}
        for op, av in items:
            paths = {
                (text + more, going)
                for text, complete in paths
                for more, going in (node(op, av) if complete else {("", False)})
            }
            if len(paths) > 256:
                return {("", False)}
        return paths

    return {text for text, _ in walk(_parser.parse(regex, flags))}


def is_anchored(regex: str, keywords: tuple[str, ...], flags: int = 0) -> bool:
    """Whether every match of ``regex`` starts where one of ``keywords`` starts.

    Then the redactor tries the rule only where the prefilter found such a keyword, instead
    of scanning the whole text with it.

    Example:
        >>> is_anchored(r"\\b(ghp_[0-9a-zA-Z]{36})", ("ghp_",))
        True
        >>> is_anchored(r"\\b[a-z]{4}_T3BlbkFJ", ("t3blbkfj",))
        False
    """
    try:
        prefixes = literal_prefixes(regex, flags)
    except Exception:
        return False
    return bool(keywords) and all(any(p.lower().startswith(k) for k in keywords) for p in prefixes)


def _finite(op: Any, av: Any) -> frozenset[str] | None:
    """Every string one element matches, when there are a few (lower-case), else None."""
    if op is c.LITERAL:
        return frozenset({chr(av).lower()})
    if op is c.IN and len(av) <= 8 and all(o is c.LITERAL for o, _ in av):
        return frozenset(chr(v).lower() for _, v in av)
    if op is c.SUBPATTERN:
        return _finite_sequence(av[-1])
    if op is c.BRANCH:
        alts = [_finite_sequence(alt) for alt in av[1]]
        if all(alt is not None for alt in alts):
            return frozenset().union(*alts)  # type: ignore[arg-type]
    return None


def _finite_sequence(items: Any) -> frozenset[str] | None:
    found = frozenset({""})
    for op, av in items:
        more = _finite(op, av)
        if more is None or len(found) * len(more) > 64:
            return None
        found = frozenset(a + b for a in found for b in more)
    return found


def required_literals(regex: str, flags: int = 0) -> tuple[str, ...]:
    """Lower-case strings one of which every match of ``regex`` contains, longest first.

    Of the literal runs (a few alternatives in a row multiply out: ``gh[pousr]_`` is five
    strings) and alternations every match must pass through, the one whose shortest string
    is longest; () when there is none.

    Example:
        >>> required_literals(r"[0-9a-z]{32}-us[0-9]{1,2}")
        ('-us',)
        >>> required_literals(r"(?:r|s)k_live_[0-9a-zA-Z]{24}")
        ('rk_live_', 'sk_live_')
        >>> sorted(required_literals(r"x?(?:pwd|password)\\s*=\\s*(\\S+)"))
        ['password', 'pwd']
    """

    def score(found: frozenset[str]) -> tuple[int, int]:
        return (min(map(len, found)), -len(found))

    def best(items: Any) -> frozenset[str] | None:
        options: list[frozenset[str]] = []
        run = frozenset({""})
        for op, av in [*items, (None, None)]:
            more = None if op is None else _finite(op, av)
            if more is not None and len(run) * len(more) <= 64:
                run = frozenset(a + b for a in run for b in more)
                continue
            if "" not in run:
                options.append(run)
            run = more if more is not None else frozenset({""})
            found: frozenset[str] | None = None
            if op is c.SUBPATTERN:
                found = best(av[-1])
            elif op is c.BRANCH:
                alts = [best(alt) for alt in av[1]]
                if all(alts):
                    found = frozenset().union(*alts)  # type: ignore[arg-type]
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
                found = best(av[2])
            if found and more is None:
                options.append(found)
        return max(options, key=score, default=None)

    found = best(_parser.parse(regex, flags))
    if not found:
        return ()
    # A string that holds another of the set adds nothing: ``key"`` holds ``key``.
    found = frozenset(s for s in found if not any(o != s and o in s for o in found))
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def secret_group(regex: str, flags: int = 0) -> int:
    """The group holding the secret: the first that every match fills and is no fixed label.

    0 (the whole match) when there is none: ``(ghp|gho)_[A-Za-z0-9_]{36}`` groups only the
    token's prefix, which is no secret; an optional group may be empty.

    Example:
        >>> secret_group(r"aws.{0,20}?key.{0,20}?['\\"]([0-9a-zA-Z/+]{40})['\\"]")
        1
        >>> secret_group(r"(ghp|gho|ghu)_[A-Za-z0-9_]{36}"), secret_group(r"x(y_)?z{20}")
        (0, 0)
    """

    def walk(items: Any, optional: bool) -> int:
        for op, av in items:
            found = 0
            if op is c.SUBPATTERN:
                if av[0] and not optional and _finite_sequence(av[-1]) is None:
                    return int(av[0])
                found = walk(av[-1], optional)
            elif op is c.BRANCH:
                found = next((g for alt in av[1] if (g := walk(alt, True))), 0)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                found = walk(av[2], optional or av[0] == 0)
            if found:
                return found
        return 0

    return walk(_parser.parse(regex, flags), False)


def keywords_of(regex: str, flags: int = 0, shortest: int = MIN_KEYWORD) -> tuple[str, ...]:
    """The prefilter keywords of a rule: its literal prefixes or literals every match holds.

    The set whose shortest keyword is longer (rarer in text), prefixes on a tie (the rule is
    then tried only where one starts). () when the best choice has a keyword shorter than
    ``shortest`` (it would hit too often: the rule then runs on every text).

    Example:
        >>> keywords_of(r"(?:A3T[A-Z0-9]|ABIA|AKIA)[0-9A-Z]{16}")
        ('a3t', 'abia', 'akia')
        >>> keywords_of(r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}")
        ('t3blbkfj',)
        >>> keywords_of(r"\\d{8,10}:[0-9A-Za-z_-]{35}")
        ()
    """
    try:
        prefixes = tuple(sorted({p.lower() for p in literal_prefixes(regex, flags)}))
    except Exception:
        prefixes = ()
    found = required_literals(regex, flags)
    best = max((prefixes, found), key=lambda k: min(map(len, k)) if k and "" not in k else 0)
    return best if best and min(map(len, best)) >= shortest else ()


def bounded(regex: str, limit: int = MAX_REPEAT, verbose: bool = False) -> str:
    """``regex`` with every unbounded repeat given an upper bound of ``limit``.

    ``a+`` becomes ``a{1,limit}``, ``a*`` ``a{0,limit}``, ``a{3,}`` ``a{3,limit}``; lazy
    (``+?``) and possessive (``++``) markers are kept. Escapes and character classes are
    copied as they are; with ``verbose`` (``re.VERBOSE``), so are whitespace and comments.

    Example:
        >>> bounded(r"eyJ[A-Za-z0-9-_=]+\\.[^*]*?x{8,}", 64)
        'eyJ[A-Za-z0-9-_=]{1,64}\\\\.[^*]{0,64}?x{8,64}'
        >>> bounded("a + # one or more", 9, verbose=True)
        'a {1,9} # one or more'
    """
    out: list[str] = []
    i, n = 0, len(regex)
    after_atom = False  # the previous element can take a quantifier
    while i < n:
        ch = regex[i]
        counted = _COUNTED.match(regex, i) if ch == "{" and after_atom else None
        if ch == "\\":
            out.append(regex[i : i + 2])
            i += 2
            after_atom = True
        elif ch == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            out.append(regex[i : j + 1])
            i = j + 1
            after_atom = True
        elif verbose and ch.isspace():
            out.append(ch)
            i += 1
        elif verbose and ch == "#":
            j = regex.find("\n", i)
            j = n if j < 0 else j
            out.append(regex[i:j])
            i = j
        elif ch in "*+" and after_atom:
            out.append(f"{{{0 if ch == '*' else 1},{limit}}}")
            i += 1
            after_atom = False  # a following ? or + is a laziness/possessive marker
        elif counted is not None:
            low, comma, high = counted.groups()
            if comma and not high:
                out.append(f"{{{low or 0},{max(limit, int(low or 0))}}}")
            else:
                out.append(counted.group(0))
            i = counted.end()
            after_atom = False
        elif regex.startswith("(?", i):
            out.append("(?")
            i += 2
            after_atom = False
        else:
            out.append(ch)
            i += 1
            after_atom = ch not in "(|^?"  # after ? (a quantifier or a lazy marker): none
    return "".join(out)


def detector_classes() -> list[type]:
    """The detect-secrets regex detectors used, found by walking ``detect_secrets.plugins``.

    Every concrete ``RegexBasedDetector`` subclass defined there, but those in
    :data:`EXCLUDED_DETECTORS`, sorted by name.

    Example:
        >>> names = [cls.__name__ for cls in detector_classes()]
        >>> "AWSKeyDetector" in names and "IPPublicDetector" not in names
        True
    """
    import detect_secrets.plugins as plugins
    from detect_secrets.plugins.base import RegexBasedDetector

    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(plugins.__path__):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and issubclass(cls, RegexBasedDetector)
                and not inspect.isabstract(cls)
                and name not in EXCLUDED_DETECTORS
            ):
                found[name] = cls
    return [found[name] for name in sorted(found)]


@cache
def rule_source() -> dict[str, Any]:
    """Where the detector rules come from: package, version, licence (and its file), detectors.

    Example:
        >>> source = rule_source()
        >>> source["package"], source["license"], "GitHubTokenDetector" in source["detectors"]
        ('detect-secrets', 'Apache-2.0', True)
    """
    dist = metadata.distribution("detect-secrets")
    licence = next(
        (Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == "LICENSE"), None
    )
    return {
        "package": "detect-secrets",
        "version": dist.version,
        "license": "Apache-2.0",
        "license_file": None if licence is None else str(licence),
        "detectors": [cls.__name__ for cls in detector_classes()],
    }


def _detector_rules() -> list[Rule]:
    version = rule_source()["version"]
    rules = []
    for cls in detector_classes():
        for i, pattern in enumerate(cls.denylist):  # type: ignore[attr-defined]
            flags = pattern.flags & ~re.UNICODE
            regex = bounded(pattern.pattern, verbose=bool(flags & re.VERBOSE))
            keywords = keywords_of(regex, flags)
            group = secret_group(regex, flags)
            rules.append(
                Rule(
                    id=f"detect-secrets-{cls.__name__}-{i}",
                    regex=regex,
                    keywords=keywords,
                    group=group,
                    whole_match=group == 0,
                    anchored=is_anchored(regex, keywords, flags),
                    flags=flags,
                    origin=f"detect-secrets {version} {cls.__name__}",
                )
            )
    return rules


def _own_rule(raw: dict[str, Any]) -> Rule:
    keywords = tuple(raw["keywords"])
    return Rule(
        id=raw["id"],
        regex=raw["regex"],
        keywords=keywords,
        whole_match=raw.get("redact") == "match",
        anchored=is_anchored(raw["regex"], keywords),
    )


@cache
def load_rules() -> tuple[Rule, ...]:
    """Every rule: detect-secrets' detectors (read from the installed package), then ours.

    Example:
        >>> rules = load_rules()
        >>> any(r.id.startswith("detect-secrets-GitHubTokenDetector") for r in rules)
        True
        >>> rules[-1].origin
        'llmobs_nb'
    """
    return tuple(_detector_rules()) + tuple(_own_rule(raw) for raw in EXTRA_RULES)
