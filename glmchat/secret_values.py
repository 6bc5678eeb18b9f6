"""Which parts of a configured value may be a secret, and the value shown with them masked.

One rule for every place an MCP server's settings, or a message built from them, is shown:
- a value under a secret-looking name (`GITHUB_PAT`, `Authorization`, `--api-key`) is masked
  whole (an `Authorization` value keeps its scheme word: `Bearer sk-…abcd`);
- in any other value or message, every URL keeps its scheme, host and path, but not its
  userinfo's password (a lone userinfo, often a token, is masked whole) nor any query or
  fragment value (the names stay); `NAME=value` with a secret-looking NAME and `Bearer xyz`
  are masked too.
A key-length secret is masked as API keys are (`sk-…abcd`); a shorter one, like most passwords,
is `****` whole: its first and last characters would be half of it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from glmchat.credentials import mask

Span = tuple[int, int]
_KEY_LENGTH = 20

# Names that hold credentials. Long words match anywhere in the name (`X-Api-Key`, `apiKey`);
# short ones only as a whole word of it, so PATH is not a PAT nor PASSAGE a pass.
_SECRET_IN_NAME = re.compile(
    r"auth|key|token|secret|passw|cookie|session|credential|bearer|private|signature|cert",
    re.IGNORECASE,
)
_SECRET_WORDS = frozenset({"pat", "pass", "pwd", "pw", "dsn", "sig", "jwt", "otp", "sas"})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# A URL anywhere in a text; a sentence's closing punctuation after it is not part of it.
_URL = re.compile(r"(?<![\w.+-])[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]*[^\s\"'<>`.,;:!?)\]}]")
_PAIR = re.compile(r"(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]*)=([^\s&;,\"']+)")
_SCHEME_CREDENTIAL = re.compile(r"\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# An argument that is a name with its value: `--token=x`, `TOKEN=x`, `Authorization: Bearer x`.
_ARG_PAIR = re.compile(r"(-{0,2}[A-Za-z_][\w.-]*)(?:=|:[ \t]*)(.*)", re.DOTALL)


def secret_name(name: str) -> bool:
    """Whether a setting, header, environment variable or flag of this name holds a secret."""
    if _SECRET_IN_NAME.search(name):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD.findall(name))


def mask_text(text: str, known: Iterable[str] = ()) -> str:
    """`text` (a value, or a message quoting one) with its secret-looking parts masked, and
    every `known` secret (from the settings the message is about) wherever it appears."""
    text = _masked(text, _text_spans(text))
    for secret in sorted(set(known), key=len, reverse=True):
        if len(secret) >= 4:  # a shorter one would mask ordinary words
            text = text.replace(secret, _hidden(secret))
    return text


def mask_setting(name: str, value: str) -> str:
    """An environment or header value, shown under its name."""
    return _masked(value, _setting_spans(name, value))


def mask_args(args: Sequence[str]) -> list[str]:
    """A command's arguments; the one after a secret-looking flag (`--token X`) is masked."""
    return [_masked(arg, spans) for arg, spans in _arg_spans(args)]


def secrets_in(
    *,
    texts: Iterable[str] = (),
    pairs: Iterable[tuple[str, str]] = (),
    args: Sequence[str] = (),
) -> frozenset[str]:
    """The secret parts of these settings, for `mask_text(message, known=...)`: a message
    may quote one outside any URL or pair (a server's stderr, say)."""
    found: set[str] = set()
    for text in texts:
        found.update(text[a:b] for a, b in _text_spans(text))
    for name, value in pairs:
        found.update(value[a:b] for a, b in _setting_spans(name, value))
    for arg, spans in _arg_spans(args):
        found.update(arg[a:b] for a, b in spans)
    return frozenset(found)


def _hidden(secret: str) -> str:
    return mask(secret) if len(secret) >= _KEY_LENGTH else "****"


def _masked(text: str, spans: Iterable[Span]) -> str:
    merged: list[list[int]] = []
    for start, stop in sorted(spans):  # a pair's value may hold a URL with spans of its own
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    out: list[str] = []
    end = 0
    for start, stop in merged:
        out += [text[end:start], _hidden(text[start:stop])]
        end = stop
    out.append(text[end:])
    return "".join(out)


def _credential_span(value: str) -> Span:
    """All of a secret value but its scheme word: "Bearer sk-…" says what kind it is."""
    scheme, space, credential = value.partition(" ")
    if space and credential and scheme.isalpha():
        return (len(scheme) + 1, len(value))
    return (0, len(value))


def _setting_spans(name: str, value: str) -> list[Span]:
    if not value:
        return []
    return [_credential_span(value)] if secret_name(name) else _text_spans(value)


def _arg_spans(args: Sequence[str]) -> Iterator[tuple[str, list[Span]]]:
    after_secret_flag = False
    for arg in args:
        if after_secret_flag and arg and not arg.startswith("-"):
            yield arg, [_credential_span(arg)]
        elif (pair := _ARG_PAIR.fullmatch(arg)) and pair[2] and secret_name(pair[1]):
            start = pair.start(2)
            yield arg, [(start + a, start + b) for a, b in [_credential_span(pair[2])]]
        else:
            yield arg, _text_spans(arg)
        after_secret_flag = arg.startswith("-") and "=" not in arg and secret_name(arg)


def _text_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    urls = [(m.start(), m.end()) for m in _URL.finditer(text)]
    for start, end in urls:
        spans += [(start + a, start + b) for a, b in _url_spans(text[start:end])]

    def outside_urls(at: int) -> bool:
        return not any(start <= at < end for start, end in urls)

    for pair in _PAIR.finditer(text):
        if secret_name(pair[1]) and outside_urls(pair.start()):
            spans.append(pair.span(2))
    for found in _SCHEME_CREDENTIAL.finditer(text):
        if outside_urls(found.start()):
            spans.append(found.span(1))
    return [(a, b) for a, b in spans if b > a]


def _url_spans(url: str) -> list[Span]:
    """The userinfo's password (or a lone userinfo) and every query and fragment value."""
    start = url.index("://") + 3
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    end = min(ends, default=len(url))
    spans: list[Span] = []
    at = url.rfind("@", start, end)
    if at >= 0:
        colon = url.find(":", start, at)
        spans.append((colon + 1, at) if colon >= 0 else (start, at))
    fragment = url.find("#", end)
    query = url.find("?", end, fragment if fragment >= 0 else len(url))
    if query >= 0:
        spans += _pair_spans(url, query + 1, fragment if fragment >= 0 else len(url))
    if fragment >= 0:
        spans += _pair_spans(url, fragment + 1, len(url))
    return spans


def _pair_spans(url: str, start: int, stop: int) -> list[Span]:
    """`name=value&...`: each value; a piece with no `=` is all value (a bare token)."""
    spans: list[Span] = []
    while start <= stop:
        amp = url.find("&", start, stop)
        piece_end = stop if amp < 0 else amp
        eq = url.find("=", start, piece_end)
        spans.append((eq + 1 if eq >= 0 else start, piece_end))
        start = piece_end + 1
    return spans
