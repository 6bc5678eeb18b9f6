"""Which names of settings, headers, environment variables and flags hold a secret: their
values are masked whole wherever secret_values shows them.

A name is secret when it holds a credential word (`TOKEN`, `SECRET`, `PASSWORD`, `AUTH`, ...)
or a short one as a word or glued to one end of a word (`DB_PASS`, `PGPASS`, `GHPAT`,
`X-Api-Key`, `SSHKEY`), unless its last word says the value is about the secret, not the
secret (`KEY_FILE`, `TOKEN_URL`, `TOKEN_TTL`, `KEY_NAME`). English words that hold one are not
(`KEYBOARD`, `MONKEY`, `COMPASS`, `PASS_THROUGH`); nor is the shell's `PWD`."""

from __future__ import annotations

import re

# Names that hold credentials. Long words match anywhere in the name (`XAUTHTOKEN`), but
# AUTHOR (`GIT_AUTHOR_NAME`) is not auth.
_SECRET_IN_NAME = re.compile(
    r"auth(?!or(?!i))|apikey|accesskey|token|secret|passw|cookie|session|credential|bearer|"
    r"private|signature|cert",
    re.IGNORECASE,
)
# Short ones as a whole word of the name (`DB_PASS`, `X-Api-Key`), or glued to one end of a
# word (`PGPASS`, `MYSQLPWD`, `GHPAT`, `SSHKEY`, `PASSPHRASE`, `TOTP`): PATH is not a PAT nor
# KEYBOARD a key, as no glued one starts a word with them; the English words that glue one are
# listed (COMPASS, PASSAGE, MONKEY).
_SECRET_WORDS = frozenset(
    {"pat", "pass", "pwd", "pw", "dsn", "sig", "jwt", "otp", "sas", "key", "keys"}
)
_GLUED_END = ("pass", "pwd", "pw", "pat", "dsn", "sig", "jwt", "otp", "key", "keys")
_GLUED_START = ("pass", "pwd", "jwt", "otp")
_ORDINARY_WORDS = frozenset(
    {
        *("passage", "passages", "passenger", "passengers", "passive", "passport", "passover"),
        *("passthrough", "passthru", "passing", "passed", "passes", "passable"),
        *("compass", "encompass", "bypass", "surpass", "trespass", "overpass", "underpass"),
        *("compat", "oldpwd", "monkey", "donkey", "turkey", "hockey", "jockey", "whiskey"),
        *("lackey", "hotkey", "hotkeys", "turnkey", "monkeys", "donkeys"),
    }
)
# A name's last word that says its value is about a secret, not one: where it is
# (`KEY_FILE`, `TOKEN_URL`), how long it lasts (`TOKEN_TTL`), what it is called or its kind.
# The value still goes through the value rules (a URL's password, a token-shaped word).
_QUALIFIERS = frozenset(
    {
        *("file", "files", "path", "dir", "directory", "folder", "url", "uri", "endpoint"),
        *("host", "port", "ttl", "timeout", "expiry", "expires", "expiration", "lifetime"),
        *("age", "length", "len", "size", "count", "limit", "name", "names", "type", "kind"),
        *("format", "mode", "enabled", "disabled", "required", "algorithm", "alg", "version"),
        *("scope", "scopes", "location", "region", "issuer", "audience", "domain", "id", "ids"),
    }
)
# An ID is a secret after these: a session's, a Vault secret's, an access key's (AWS).
_SECRET_IDS = ("key", "keys", "session", "secret")
_PASS_THROUGH = re.compile(r"pass[\W_]*thr(?:ough|u)", re.IGNORECASE)
# The shell's working directories, not passwords (MYSQL_PWD is one).
_ORDINARY_NAMES = frozenset({"pwd", "oldpwd"})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Short flags that hold a key or token in the tools MCP servers are run with (`-k KEY`,
# `-t TOKEN`). Not `-p`: there it is npx's --package, docker's --publish or a server's --port,
# and masking it would hide what runs; a password goes in a long flag or the environment.
_SECRET_SHORT_FLAGS = frozenset({"-k", "-t"})


def secret_name(name: str) -> bool:
    """Whether a setting, header, environment variable or flag of this name holds a secret."""
    if name.lower() in _ORDINARY_NAMES:
        return False
    name = _PASS_THROUGH.sub("_", name)  # PASS_THROUGH passes something on: no password
    words = [word.lower() for word in _WORD.findall(name)]
    if len(words) > 1 and words[-1] in _QUALIFIERS:
        if not (words[-1] in ("id", "ids") and words[-2].endswith(_SECRET_IDS)):
            return False
    if _SECRET_IN_NAME.search(name):
        return True
    return any(_secret_word(word) for word in words)


def _secret_word(word: str) -> bool:
    if word in _SECRET_WORDS:
        return True
    glued = word.endswith(_GLUED_END) or word.startswith(_GLUED_START)
    return glued and word not in _ORDINARY_WORDS


def secret_flag(name: str) -> bool:
    """A flag's or an argument's name (`--token`, `-k`, `GITHUB_PAT` in `GITHUB_PAT=x`)."""
    return name in _SECRET_SHORT_FLAGS or secret_name(name)
