"""Which parts of a configured value may be a secret, and the value shown with them masked.

One rule for every place an MCP server's settings or a provider's base_url, or a message built
from them, is shown:
- a value under a secret-looking name (secret_names: `GITHUB_PAT`, `PGPASS`, `Authorization`,
  `--api-key`, and the short flags `-k` and `-t`) is masked whole (an `Authorization` value
  keeps its scheme word: `Bearer ****`);
- in any other value or message, every URL keeps its scheme and host, but not its userinfo's
  password (a lone userinfo, often a token, is masked whole), any query or fragment value (the
  names stay), nor a path segment that looks like a token (a webhook's, or a run of 12 or more
  letters and digits holding both). Outside URLs go a token of a well-known shape (`ghp_…`,
  `xoxb-…`, `sk-…`, `AKIA…`, a JWT) and any word with such a run; `NAME=value`, `"name":
  "value"`, `Name: value` (a cookie's to the line's end) and a flag's value (`-k xyz`) with a
  secret-looking name; `Bearer xyz`; and the password of `-u user:password`. A value in a
  message ends before a bracket or quote that closes one opened before it: `(… TOKEN=****)`.
A key-length secret that is one key-like word is masked as API keys are (`sk-…abcd`). Anything
else is `****` whole: a shorter one (its first and last characters would be half of it), any
part of a URL (its host says which it is; found by QA: a webhook's ids went whole and its
secret kept seven characters), a header's value or a credential after its scheme word
(`Bearer ****`), a cookie (`a=b; c=d`), and a setting's secret quoted by a message."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from glmchat.credentials import mask
from glmchat.secret_names import secret_flag, secret_name

# (start, stop, whole): `whole` when the secret may not show even its ends (see above).
Span = tuple[int, int, bool]
_KEY_LENGTH = 20
_KEY_LIKE = re.compile(r"[\w.~+/-]+")  # one word of key characters: no `=`, `;` nor space

# A URL anywhere in a text; a sentence's closing punctuation after it is not part of it.
_URL = re.compile(r"(?<![\w.+-])[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]*[^\s\"'<>`.,;:!?)\]}]")
_PAIR = re.compile(r"(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]*)[ \t]*=(?!=)[ \t]*([^\s&;,\"']+)")
# A quoted name and value, as JSON and Python's dicts print them (`{'Authorization': 'x'}`).
_QUOTED_PAIR = re.compile(r"([\"'])([A-Za-z_][\w.-]*)\1[ \t]*[:=][ \t]*([\"'])((?:(?!\3).)*)\3")
# `Name: ` before a value in a message (a header line, a server's "token: xyz"): a cookie's
# value runs to the line's end (`a=b; c=d`) less the sentence's closing punctuation; another's is
# its first word after any scheme word.
_HEADER_NAME = re.compile(r"(?<![\w.-])([A-Za-z][\w-]*):[ \t]*")
_HEADER_WORD = re.compile(r"(?:(?:bearer|basic|token|digest)[ \t]+)?([^\s&;,\"')\]}]+)", re.I)
_NOT_HEADERS = ("Error", "Exception", "Warning")
_LINE_END = re.compile(r"[)\]}\"'.,\s]*(?:[\r\n]|$)")
# A path segment with a run like this may be a token (Slack's, a UUID's last group, an API key).
_TOKEN_RUN = re.compile(r"[A-Za-z0-9]{12,}")
# Webhook URLs whose path after this prefix is the credential, whatever its segments look like.
_WEBHOOK_PATHS = {
    "hooks.slack.com": "/services/",
    "discord.com": "/api/webhooks/",
    "discordapp.com": "/api/webhooks/",
    "hooks.zapier.com": "/hooks/catch/",
}
# HTTP's authentication schemes, shown before a masked credential; a passphrase's first word
# (`correct horse ...`) is no scheme and is masked with the rest.
_SCHEMES = frozenset(
    {"bearer", "basic", "token", "digest", "negotiate", "ntlm", "oauth", "dpop", "apikey"}
)
_SCHEME_CREDENTIAL = re.compile(r"\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# An argument that is a name with its value: `--token=x`, `TOKEN=x`, `Authorization: Bearer x`.
_ARG_PAIR = re.compile(r"(-{0,2}[A-Za-z_][\w.-]*)(=|:[ \t]*)(.*)", re.DOTALL)
# A flag and the word after it in a message (`-k xyz`, `--api-key xyz`), masked as in arguments.
_FLAG_VALUE = re.compile(r"(?<![\w-])(-{1,2}[A-Za-z][\w.-]*)[ \t]+(?!-)([^\s\"'`;,]+)")
# curl's `-u user:password` (`--user`, `--proxy-user`, `-U`; `-uuser:password` glued); not
# docker's `-u 1000:1000`, a user and group id.
_USER_FLAGS = ("-u", "-U", "--user", "--proxy-user")
_USER_PAIR = re.compile(
    r"(?<![\w-])(?:-[uU][ \t]*|--(?:proxy-)?user(?:[ \t]+|=))([^\s:\"'`]+):([^\s\"'`;,]+)"
)
_USER_ARG = re.compile(r"([^\s:\"'`]+):(\S+)")
# Tokens of a well-known shape (GitHub, Slack, OpenAI and Anthropic, Stripe, AWS, Google,
# GitLab, Hugging Face, npm, PyPI, a JWT), whatever name or word stands before them.
_KNOWN_TOKEN = re.compile(
    r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}|xox[abposr]-[A-Za-z0-9-]{8,}"
    r"|xapp-[A-Za-z0-9-]{8,}|sk-(?:(?=[\w-]*\d)[\w-]{16,}|[\w-]{20,})"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{16,}|(?:AKIA|ASIA)[A-Z0-9]{16}|AIza[\w-]{30,}|ya29\.[\w-]{16,}"
    r"|glpat-[\w-]{16,}|hf_[A-Za-z0-9]{24,}|npm_[A-Za-z0-9]{30,}|pypi-[\w-]{40,}"
    r"|eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*)",
    re.ASCII,
)
# A word of a message outside its URLs (base64's `+/=` in it; a sentence's `.` after it not);
# one that looks like a token (see _token_like) is masked, a path's or host's part by part.
_WORD_OF_TEXT = re.compile(r"(?<![\w~+/.-])[\w~+/.-]*[A-Za-z0-9]=*", re.ASCII)
_PART = re.compile(r"[^/.]+")
_PATH_START = ("/", "./", "../", "~/")
_OPENERS = {")": "(", "]": "[", "}": "{"}


def mask_text(text: str, known: Iterable[str] = ()) -> str:
    """`text` (a value, or a message quoting one) with its secret-looking parts masked, and
    every `known` secret (from the settings the message is about) wherever it appears."""
    text = _masked(text, _text_spans(text))
    for secret in sorted(set(known), key=len, reverse=True):
        if len(secret) >= 4:  # a shorter one would mask ordinary words
            text = text.replace(secret, "****")  # it may be a header's: no part of it
    return text


def shown_url(url: str) -> str:
    """A configured URL (a provider's base_url, an MCP server's url) as it is shown: in
    `config show`, in a message that names it, in a repr. Its scheme, host and path stay (a
    plain `https://api.z.ai/api/paas/v4` is shown as it is); its userinfo's password, its query
    and fragment values and a token-like path segment do not. Requests use the URL whole."""
    return mask_text(url)


def mask_setting(name: str, value: str, *, header: bool = False) -> str:
    """An environment or header value, shown under its name. A header's value never shows a
    part of itself: it may be a cookie or a credential of any shape."""
    spans = _setting_spans(name, value)
    return _masked(value, [(a, b, True) for a, b, _ in spans] if header else spans)


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
        found.update(text[a:b] for a, b, _ in _text_spans(text))
    for name, value in pairs:
        found.update(value[a:b] for a, b, _ in _setting_spans(name, value))
    for arg, spans in _arg_spans(args):
        found.update(arg[a:b] for a, b, _ in spans)
    return frozenset(found)


def _hidden(secret: str, whole: bool) -> str:
    if whole or len(secret) < _KEY_LENGTH or not _KEY_LIKE.fullmatch(secret):
        return "****"
    return mask(secret)


def _masked(text: str, spans: Iterable[Span]) -> str:
    merged: list[Span] = []
    for start, stop, whole in sorted(spans):  # a pair's value may hold a URL's spans
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], stop), last[2] or whole)
        else:
            merged.append((start, stop, whole))
    out: list[str] = []
    end = 0
    for start, stop, whole in merged:
        out += [text[end:start], _hidden(text[start:stop], whole)]
        end = stop
    out.append(text[end:])
    return "".join(out)


def _credential_span(value: str) -> Span:
    """All of a secret value but its scheme word: "Bearer ****" says what kind it is (and a
    credential after a scheme word is a header's, shown as no part of itself)."""
    scheme, space, credential = value.partition(" ")
    if space and credential and scheme.lower() in _SCHEMES:
        return (len(scheme) + 1, len(value), True)
    return (0, len(value), False)


def _setting_spans(name: str, value: str) -> list[Span]:
    if not value:
        return []
    return [_credential_span(value)] if secret_name(name) else _text_spans(value)


def _arg_spans(args: Sequence[str]) -> Iterator[tuple[str, list[Span]]]:
    after_secret_flag = after_user_flag = False
    for arg in args:
        if after_secret_flag and arg and not arg.startswith("-") and not _URL.match(arg):
            yield arg, [_credential_span(arg)]
        elif (pair := _ARG_PAIR.fullmatch(arg)) and pair[3] and secret_flag(pair[1]):
            start, header = pair.start(3), pair[2] != "="  # `Name: value` is a header
            a, b, whole = _credential_span(pair[3])
            yield arg, [(start + a, start + b, whole or header)]
        elif after_user_flag and (user := _USER_ARG.fullmatch(arg)):
            yield arg, _text_spans(arg) + _password_spans(user)
        else:
            yield arg, _text_spans(arg)
        after_secret_flag = arg.startswith("-") and "=" not in arg and secret_flag(arg)
        after_user_flag = arg in _USER_FLAGS


def _text_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    urls = [(m.start(), m.end()) for m in _URL.finditer(text)]
    for start, end in urls:
        spans += [(start + a, start + b, whole) for a, b, whole in _url_spans(text[start:end])]

    def outside_urls(at: int) -> bool:
        return not any(start <= at < end for start, end in urls)

    closes = _closers(text)
    for pair in _PAIR.finditer(text):
        if secret_name(pair[1]) and outside_urls(pair.start()):
            spans.append((pair.start(2), _value_end(closes, *pair.span(2)), False))
    for quoted in _QUOTED_PAIR.finditer(text):
        if secret_name(quoted[2]) and quoted[4] and outside_urls(quoted.start()):
            a, b, whole = _credential_span(quoted[4])
            spans.append((quoted.start(4) + a, quoted.start(4) + b, whole))
    for flag in _FLAG_VALUE.finditer(text):
        if secret_flag(flag[1]) and outside_urls(flag.start()) and outside_urls(flag.start(2)):
            spans.append((flag.start(2), _value_end(closes, *flag.span(2)), False))
    for user in _USER_PAIR.finditer(text):
        if outside_urls(user.start()):
            spans += _password_spans(user, closes)
    spans += [(*token.span(), False) for token in _KNOWN_TOKEN.finditer(text)]
    for found in _WORD_OF_TEXT.finditer(text):
        if outside_urls(found.start()) and _token_like(found[0]):
            spans += _token_spans(found[0], found.start())
    for header in _HEADER_NAME.finditer(text):
        name = header[1]  # not an exception's (`KeyError: MY_PAT` names what is missing)
        if secret_name(name) and not name.endswith(_NOT_HEADERS) and outside_urls(header.start()):
            start = header.end()
            if "cookie" in name.lower():
                line_end = _LINE_END.search(text, start)
                spans.append((start, line_end.start() if line_end else len(text), True))
            elif word := _HEADER_WORD.match(text, start):
                spans.append((word.start(1), _value_end(closes, *word.span(1)), True))
    for found in _SCHEME_CREDENTIAL.finditer(text):
        if outside_urls(found.start()):
            spans.append((*found.span(1), True))  # a header's credential
    return [span for span in spans if span[1] > span[0]]


def _closers(text: str) -> dict[int, int]:
    """Where each closing bracket or quote (`"`, `` ` ``) of `text` is, and where the one it
    closes is: a value in a message ends before the `)` of an aside opened before it."""
    closes: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    quotes: dict[str, int] = {}
    for at, char in enumerate(text):
        if char in "([{":
            stack.append((char, at))
        elif char in _OPENERS:
            opener = _OPENERS[char]
            inner = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == opener), -1)
            if inner >= 0:
                closes[at] = stack[inner][1]
                del stack[inner:]
        elif char in '"`':
            if char in quotes:
                closes[at] = quotes.pop(char)
            else:
                quotes[char] = at
    return closes


def _value_end(closes: dict[int, int], start: int, stop: int) -> int:
    """The end of the value `start:stop`: before a bracket or quote in it that closes one
    opened before it (its own, as in `f(x)`, stay)."""
    return next((at for at in range(start, stop) if closes.get(at, start) < start), stop)


def _password_spans(user: re.Match[str], closes: dict[int, int] | None = None) -> list[Span]:
    """The password of a `user:password` match, unless both are numbers (a user and group id)."""
    if user[1].isdigit() and user[2].isdigit():
        return []
    start, stop = user.span(2)
    return [(start, _value_end(closes, start, stop) if closes else stop, False)]


def _token_spans(word: str, offset: int) -> list[Span]:
    """A token-like word of a message: a path or a host name part by part (only the token-like
    parts go), anything else whole (base64 holds `/` and `+`)."""
    if not word.startswith(_PATH_START) and "." not in word:
        return [(offset, offset + len(word), False)]
    return [
        (offset + p.start(), offset + p.end(), False)
        for p in _PART.finditer(word)
        if _token_like(p[0])
    ]


def _url_spans(url: str) -> list[Span]:
    """The userinfo's password (or a lone userinfo), every token-like path segment and every
    query and fragment value."""
    start = url.index("://") + 3
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    end = min(ends, default=len(url))
    spans: list[Span] = []
    at = url.rfind("@", start, end)
    if at >= 0:
        colon = url.find(":", start, at)
        spans.append((colon + 1, at, True) if colon >= 0 else (start, at, True))
    fragment = url.find("#", end)
    query = url.find("?", end, fragment if fragment >= 0 else len(url))
    path_end = min((i for i in (query, fragment) if i >= 0), default=len(url))
    host = url[max(at + 1, start) : end].rpartition(":")[0] or url[max(at + 1, start) : end]
    spans += _path_spans(url, host.lower(), end, path_end)
    if query >= 0:
        spans += _pair_spans(url, query + 1, fragment if fragment >= 0 else len(url))
    if fragment >= 0:
        spans += _pair_spans(url, fragment + 1, len(url))
    return spans


def _path_spans(url: str, host: str, start: int, stop: int) -> list[Span]:
    """Each segment of the path `url[start:stop]` that looks like a token: all of a webhook's
    after its host's fixed prefix, and any other holding a run of 12 or more letters and
    digits with both in it (`/mcp/a1B2c3D4e5F6`); `/api/paas/v4` or `/my-project-2024` stay."""
    path = url[start:stop]
    prefix = next(
        (p for h, p in _WEBHOOK_PATHS.items() if host == h or host.endswith("." + h)), None
    )
    secret_from = len(prefix) if prefix and path.startswith(prefix) else len(path) + 1
    spans: list[Span] = []
    at = 0
    for segment in path.split("/"):
        if segment and (at >= secret_from or _token_like(segment)):
            spans.append((start + at, start + at + len(segment), True))
        at += len(segment) + 1
    return spans


def _token_like(segment: str) -> bool:
    return any(not run.isdigit() and not run.isalpha() for run in _TOKEN_RUN.findall(segment))


def _pair_spans(url: str, start: int, stop: int) -> list[Span]:
    """`name=value&...`: each value; a piece with no `=` is all value (a bare token)."""
    spans: list[Span] = []
    while start <= stop:
        amp = url.find("&", start, stop)
        piece_end = stop if amp < 0 else amp
        eq = url.find("=", start, piece_end)
        spans.append((eq + 1 if eq >= 0 else start, piece_end, True))
        start = piece_end + 1
    return spans
