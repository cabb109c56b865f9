"""Take secrets out of text before it goes anywhere: tokens, passwords, keys, signatures, cookies.

Both processes use it: the bot on every question (before it is echoed, stored in the job payload or
logged) and the worker on every gathered document (worker/documents/redact.py), so nothing downstream
(compression, storage, quoting in Slack) ever sees a secret.

What counts as a secret (the breadth of ``detect-secrets``' plugins, and more):

* private key blocks (PEM of every kind, also one-line in JSON; PuTTY key files);
* vendor tokens by their well-known prefixes (Slack, GitHub, GitLab, Stripe, Twilio, SendGrid, npm, PyPI,
  OpenAI/Anthropic ``sk-…``, Google, AWS key ids, Hugging Face, Vault, Grafana, JWTs …);
* passwords in URLs (``scheme://user:pa/ss@word@host``), in query strings and in cloud signatures and
  connection strings (``X-Amz-Signature``, ``X-Goog-Signature``, Azure ``sig=``, ``AccountKey=``,
  ``SharedAccessSignature=``);
* ``name = value`` assignments whose name says secret (``DB_PASSWORD=…``, ``"apiKey": "…"``,
  ``client_secret: …``, quoted values with spaces), ``Authorization``/``Cookie`` headers and ``Bearer``;
* passwords given on command lines: ``--password X``, ``-storepass X``, ``mysql -pX``, ``sshpass -p X``,
  ``redis-cli -a X``, ``curl -u user:pw``, ``docker login -p X``, ``openssl … pass:X`` and ``.netrc``.

How, in time linear in the text whatever it holds (no regular expression that can backtrack): each rule
finds candidates with an RE2 pattern (google-re2) that has no groups, so RE2 answers from its DFA (the
``name = value`` rule, whose candidates can come every few bytes, uses one Python pattern that is linear by
construction: see ``_ASSIGNMENT_CANDIDATE``); a candidate is a whole token, or the text just before a
secret value. Python then reads the value (a quoted
string or one run of a character class) and checks what a pattern cannot decide (``keyboard=1`` is not a
secret, ``password=${DB_PASSWORD}`` holds none, ``Password: see below`` is prose). Each check reads only
text that its rule then consumes, or a bounded amount, and a candidate that is rejected is searched on
from just after its name (``monkey=password=hunter2``). Only the secret part is replaced by
``[REDACTED]``: names, separators and quotes stay. No replacement spans a newline (a private key block
becomes one marker line and as many empty lines), so the number of lines never changes and
citations stay exact. Redacting redacted text changes nothing.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import re2

REDACTED = "[REDACTED]"
_MARK = REDACTED.encode()
_UNANCHORED = re2._Anchor.UNANCHORED
_ANCHORED = re2._Anchor.ANCHOR_START
BLOCK_BYTES = 64 << 10  # the time budget is checked between blocks of whole lines of about this size


def _compile(pattern: bytes) -> re2._Regexp:
    options = re2.Options()
    options.max_mem = 64 << 20
    return re2.compile(pattern, options)


# ---- values that are not secrets ----------------------------------------------------------------------

_PLACEHOLDER_WORDS = frozenset({
    b"true", b"false", b"yes", b"no", b"on", b"off", b"null", b"none", b"nil", b"undefined", b"empty",
    b"required", b"optional", b"redacted", b"hidden", b"masked", b"secret", b"password", b"passwd",
    b"pwd", b"pass", b"token", b"string", b"str", b"env", b"default",
})
_VARIABLE = re.compile(rb"^(?:\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|%\([^)]*\)s|%s|\{\{.*\}\}|<[^>]*>"
                       rb"|\{[^}]*\})$")


def _placeholder(value: bytes) -> bool:
    """``value`` holds no secret: a variable or template reference, a placeholder, a marker."""
    value = value.strip().strip(b"\"'`")
    if not value or _MARK in value:
        return True
    if value[:1] in b"$%{<*xX.#-_?" and (
            (len(set(value)) == 1) or (len(value) <= 256 and bool(_VARIABLE.match(value)))):
        return True  # ****, xxxx, ${DB_PASSWORD}, $(cat f), %(password)s, {{ .Values.x }}, <your token>
    return len(value) <= 16 and value.lower() in _PLACEHOLDER_WORDS


def _looks_random(value: bytes) -> bool:
    """A token rather than a word: a digit, or a character that is neither a letter nor a space."""
    return any(not (97 <= c <= 122 or 65 <= c <= 90 or c == 32) for c in value)


# ---- names that say secret ------------------------------------------------------------------------------

_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "pass", "pw", "secret", "token", "credential",
    "credentials", "creds", "cookie", "sessionid", "contraseña", "contrasena", "apikey", "accesskey",
    "secretkey", "privatekey", "authkey", "appkey", "accountkey", "passkey", "storepass", "keypass",
    "authtoken", "accesstoken", "refreshtoken", "bearertoken", "webhooksecret", "clientsecret",
})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "priv", "auth", "app", "application", "account", "master",
    "encryption", "signing", "client", "service", "db", "database", "admin", "root", "shared", "storage",
    "license", "subscription", "consumer", "webhook", "session", "ssh", "deploy", "bot", "integration",
    "personal", "ingest", "write", "read", "management", "sas", "primary", "secondary", "connection",
})
# a secret word may be followed by one of these and still name the secret itself (DB_PASSWORD_B64)
_SECRET_SUFFIXES = frozenset({
    "value", "string", "data", "plain", "plaintext", "b64", "base64", "hex", "raw", "enc", "encrypted",
    "id", "hash", "json", "text", "str", "val", "literal", "key", "secret", "token",
})
_RUN_TOGETHER = ("password", "passwd", "passphrase", "secret", "token", "apikey")
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-zñ]+|\d+")


@functools.lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """``name`` (of a setting, field, flag or header) says its value is a secret: ``DB_PASSWORD``,
    ``apiKey``, ``X-Auth-Token``, ``client_secret``; not ``password_file``, ``secretName``, ``max_tokens``."""
    words = [w.lower() for w in _NAME_WORDS.findall(name[-128:])]
    if not words:
        return False

    def names_secret(i: int) -> bool:
        word = words[i]
        if word in _SECRET_WORDS:
            return True
        return word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS | _SECRET_WORDS

    last = len(words) - 1
    if names_secret(last) or words[last].endswith(_RUN_TOGETHER):  # PGPASSWORD, MYSQL_ROOTPASSWORD
        return True
    return last > 0 and words[last] in _SECRET_SUFFIXES and names_secret(last - 1)


# ---- rules ------------------------------------------------------------------------------------------------

Found = tuple[list[tuple[int, int]], int]  # byte ranges to replace in one candidate, where to search next
MAX_QUOTED = 1024  # longest quoted secret looked for


@dataclass(frozen=True)
class _Rule:
    """One kind of secret. ``regex`` has no groups (RE2 then needs its DFA only): a match is a whole token,
    or the text that comes before a secret value. ``found(data, start, end)`` says which bytes of that
    candidate are the secret (none: it is not one) and where to search next; it only ever reads ahead
    over text it then consumes, or a bounded amount, so a rule's work stays linear in the text."""

    name: str
    regex: re2._Regexp | re.Pattern[bytes]
    found: Callable[[bytes, int, int], Found]


class _Run:
    """The end of the run of ``char_class`` characters that starts at a position. A single anchored
    character-class repetition has nothing to backtrack into, so Python's ``re`` reads the run once; it
    is cheaper than a call into RE2 for the short runs that values are."""

    def __init__(self, char_class: bytes) -> None:
        self._match = re.compile(char_class + rb"*").match

    def end(self, data: bytes, start: int) -> int:
        match = self._match(data, start)
        return match.end() if match else start


_BARE = _Run(rb"[^\s\"'`,;&<>(){}\[\]]")  # an unquoted value in an assignment
_WORD = _Run(rb"[^\s\"']")  # an unquoted value on a command line
_TOKEN = _Run(rb"[A-Za-z0-9_\-+/=.~]")  # the rest of a token
_LINE = _Run(rb"[^\"'\n]")  # a header value
_NAME = _Run(rb"[A-Za-z0-9_.\-]")


def _value(data: bytes, position: int, bare: _Run = _BARE) -> tuple[int, int] | None:
    """(start, end) of the value at ``position``: the inside of a quoted string that closes on the same
    line, or a run of ``bare`` characters; None when there is none."""
    quote = data[position:position + 1]
    if quote and quote in b"\"'`":
        limit = min(len(data), position + 1 + MAX_QUOTED)
        line_end = data.find(b"\n", position + 1, limit)
        close = data.find(quote, position + 1, limit if line_end < 0 else line_end)
        return (position + 1, close) if close > position + 1 else None
    end = bare.end(data, position)
    if end > position and data[end - 1:end] == b"$" and data[end:end + 1] in (b"{", b"("):
        end -= 1  # "pass:x${DB_PASSWORD:?set}": the "$" begins an expansion (redacting it would leave
        # "{DB_PASSWORD:?set", which reads as an assignment: redaction would not be idempotent)
    return (position, end) if end > position else None


def _value_after(bare: _Run = _WORD, *, check: Callable[[bytes], bool] | None = None,
                 ) -> Callable[[bytes, int, int], Found]:
    """A rule whose secret is the value right after its match."""

    def found(data: bytes, start: int, end: int) -> Found:
        value = _value(data, end, bare)
        if value is None or _placeholder(data[value[0]:value[1]]) or (
                check is not None and not check(data[value[0]:value[1]])):
            return [], end
        return [value], value[1]

    return found


def _whole_token(check: Callable[[bytes], bool] | None = None) -> Callable[[bytes, int, int], Found]:
    def found(data: bytes, start: int, end: int) -> Found:
        if check is not None and not check(data[start:end]):
            return [], end
        end = _TOKEN.end(data, end)  # patterns give a minimum length: the token goes on to its end
        return [(start, end)], end

    return found


def _has_digit(value: bytes) -> bool:
    return any(48 <= c <= 57 for c in value)


# Vendor tokens with well-known shapes: the whole token goes.
_VENDOR_TOKENS = [
    rb"xox[abeoprs]-[A-Za-z0-9\-]{10,}",  # Slack bot, user, app, config, refresh tokens
    rb"xapp-\d-[A-Za-z0-9\-]{10,}",  # Slack app-level token
    rb"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{8,}",  # Slack webhooks
    rb"gh[pousr]_[A-Za-z0-9]{30,}", rb"github_pat_[A-Za-z0-9_]{30,}",  # GitHub
    rb"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas|glffct)-[A-Za-z0-9_\-]{20,}",  # GitLab
    rb"GR1348941[A-Za-z0-9_\-]{20,}",  # GitLab runner registration token
    rb"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}", rb"whsec_[A-Za-z0-9+/=]{24,}",  # Stripe
    rb"(?:AC|SK)[0-9a-f]{32}",  # Twilio account and API key SIDs
    rb"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",  # SendGrid
    rb"npm_[A-Za-z0-9]{36,}",  # npm
    rb"pypi-Ag[A-Za-z0-9_\-]{50,}",  # PyPI
    rb"AIza[0-9A-Za-z_\-]{35}", rb"GOCSPX-[A-Za-z0-9_\-]{20,}",  # Google API key, OAuth client secret
    rb"ya29\.[A-Za-z0-9_\-]{20,}", rb"1//0[A-Za-z0-9_\-]{30,}",  # Google OAuth access, refresh tokens
    rb"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}",  # AWS key ids
    rb"LTAI[A-Za-z0-9]{12,}",  # Alibaba Cloud access key id
    rb"HRKU-[A-Za-z0-9_\-]{20,}",  # Heroku
    rb"do[opr]_v1_[a-f0-9]{64}",  # DigitalOcean
    rb"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",  # Shopify
    rb"ATATT3[A-Za-z0-9_\-=]{50,}",  # Atlassian API token
    rb"hv[sbr]\.[A-Za-z0-9_\-]{24,}",  # HashiCorp Vault
    rb"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-]{60,}",  # Terraform Cloud
    rb"[0-9a-f]{32}-us\d{1,2}", rb"key-[0-9a-f]{32}",  # Mailchimp, Mailgun
    rb"(?:bot)?\d{8,10}:AA[0-9A-Za-z_\-]{33}",  # Telegram bot (also in its API URLs: /bot<token>/)
    rb"[MNO][A-Za-z\d_\-]{23,25}\.[A-Za-z\d_\-]{6}\.[A-Za-z\d_\-]{27,}",  # Discord bot
    rb"sq0(?:csp|atp)-[0-9A-Za-z_\-]{22,}", rb"EAAA[A-Za-z0-9_\-+=]{60}",  # Square
    rb"hf_[A-Za-z]{30,}",  # Hugging Face
    rb"dapi[a-f0-9]{32}",  # Databricks
    rb"glc_[A-Za-z0-9+/]{32,}", rb"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",  # Grafana
    rb"NRAK-[A-Z0-9]{27}", rb"NRII-[A-Za-z0-9_\-]{32}",  # New Relic
    rb"sntry[su]_[A-Za-z0-9+/=_\-]{40,}",  # Sentry
    rb"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",  # Postman
    rb"lin_api_[A-Za-z0-9]{40}",  # Linear
    rb"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}",  # Doppler
    rb"pul-[a-f0-9]{40}",  # Pulumi
    rb"AKCp[A-Za-z0-9]{60,}",  # JFrog Artifactory
    rb"dckr_pat_[A-Za-z0-9_\-]{20,}",  # Docker Hub
    rb"oy2[a-z0-9]{43}",  # NuGet
    rb"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}",  # Azure AD client secret
    rb"AGE-SECRET-KEY-1[0-9A-Z]{58}",  # age
    rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWT
]
# "sk-…" keys (OpenAI, Anthropic, DeepSeek …), with a digit somewhere so that a word like sk-learn stays
_SK_KEY = rb"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api|admin|sid)\d\d-)?[A-Za-z0-9_\-]{20,}"


# ``name <sep>`` where the name holds a hint of a secret (the name itself is then checked in Python, cached).
# Python's ``re`` rather than RE2 here: there can be a candidate every few bytes, and a call into RE2 costs
# a few microseconds more per match. Linear by construction: the lookbehind lets an attempt start only
# where a name starts; from there the lookahead reads at most that name (a run of one character class)
# for a hint, the name is then taken possessively (nothing to backtrack into) and the rest is bounded.
_ASSIGNMENT_CANDIDATE = re.compile(
    rb"(?<![A-Za-z0-9_.\-])(?=[A-Za-z0-9_.\-]*?(?i:pass|pwd|secret|token|key|cred|cookie|session|contrase|auth))"
    rb"[A-Za-z0-9_.\-]++[\"'\]]{0,2}+[ \t]*+(?::=|=>|==|=|:)[ \t]*+")


def _assignment(data: bytes, start: int, end: int) -> Found:
    """``name <sep> value`` where the name says secret (``secret_name``). A value that is a placeholder, a
    path or prose (``Password: see the vault``) stays; a candidate that is not a secret is searched on from
    its separator, so ``monkey=password=hunter2`` is still found."""
    name_end = _NAME.end(data, start)
    if data[max(0, start - 2):start] == b"${":  # ${DB_PASSWORD:?set it}: a shell expansion, not a value
        return [], end
    if not secret_name(data[max(start, name_end - 128):name_end].decode("utf-8", "replace")):
        return [], end
    found = _value(data, end)
    if found is None:
        return [], end
    value = data[found[0]:found[1]]
    if _placeholder(value) or (value[:1] in b"/~" and b"/" in value) or data.startswith(_MARK, found[1]):
        return [], end  # a placeholder, a path (a file holds the secret), or already redacted (cookie)
    quoted = data[end:end + 1] in (b'"', b"'", b"`")
    if not quoted and data[name_end:end].strip(b"\"'] \t") == b":":
        after = data[found[1]:found[1] + 16].lstrip(b" \t")[:1]
        if after and after not in b"\n#,}]" and not _looks_random(value):
            return [], end  # prose: "Password: see the vault entry"
    return [found], found[1]


def _flag(data: bytes, start: int, end: int) -> Found:
    """``--password X``, ``--db-password=X``, ``-storepass X``; not ``--password-stdin``, ``--token-file F``
    or ``--password --next-flag``."""
    flag = data[start:end].lstrip(b" \t\"'(=").rstrip(b"= \t")
    if not secret_name(flag.decode("ascii", "replace")):
        return [], end
    found = _value(data, end, _WORD)
    if found is None or _placeholder(data[found[0]:found[1]]) or data[end:end + 1] == b"-":
        return [], end
    return [found], found[1]


def _cookies(data: bytes, start: int, end: int) -> Found:
    """``Cookie:`` and ``Set-Cookie:`` headers: every value goes, cookie attributes stay."""
    stop = _LINE.end(data, end)
    found: list[tuple[int, int]] = []
    position = end
    for part in data[end:stop].split(b";"):
        name, equals, value = part.partition(b"=")
        stripped = value.strip()
        if equals and name.strip().lower() not in _COOKIE_ATTRIBUTES and stripped and not _placeholder(stripped):
            value_start = position + len(name) + 1 + len(value) - len(value.lstrip())
            found.append((value_start, value_start + len(stripped)))
        position += len(part) + 1
    return found, stop


_COOKIE_ATTRIBUTES = frozenset({b"path", b"domain", b"expires", b"max-age", b"samesite", b"secure", b"httponly",
                                b"priority", b"partitioned", b"version", b"comment"})
_URL_SECRET = _Run(rb"[^\s\"'<>]")
_HOST_START = frozenset(bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789[")


def _url_password(data: bytes, start: int, end: int) -> Found:
    """``scheme://user:PASSWORD@host``: the password runs to the last ``@`` of the URL, so it may hold
    ``/``, ``:`` and ``@``. A URL without one is skipped whole (no later candidate in it can have one)."""
    stop = _URL_SECRET.end(data, end)
    at = data.rfind(b"@", end, stop)
    if at <= end or data[at + 1:at + 2] not in _HOST_START:
        return [], stop
    if _placeholder(data[end:at]):
        return [], stop
    return [(end, at)], at


def _curl_user(data: bytes, start: int, end: int) -> Found:
    """``curl -u user:password`` (also wget, httpie): the part after the first colon."""
    found = _value(data, end, _WORD)
    if found is None:
        return [], end
    colon = data.find(b":", found[0], found[1])
    if colon < 0 or colon + 1 >= found[1] or _placeholder(data[colon + 1:found[1]]):
        return [], found[1]
    return [(colon + 1, found[1])], found[1]


def _header_value(data: bytes, start: int, end: int) -> Found:
    """An ``Authorization`` header's credentials after the scheme: one token (``Basic dXNl…``), or a list of
    parameters (``Digest username=…, response=…``, ``AWS4-HMAC-SHA256 Credential=…, Signature=…``); not
    prose (``Authorization: required for every call``)."""
    stop = _LINE.end(data, end)
    value = data[end:stop].rstrip()
    if not value or _placeholder(value):
        return [], stop
    if b" " in value and b"=" not in value:
        value = value.split(b" ", 1)[0]
        if not _looks_random(value):
            return [], stop
    return [(end, end + len(value))], stop


def _rules() -> list[_Rule]:
    def rule(name: str, pattern: bytes, found: Callable[[bytes, int, int], Found]) -> _Rule:
        return _Rule(name, _compile(pattern), found)

    value = _value_after()
    return [
        rule("cookie header", rb"(?i)\b(?:set-)?cookie[\"']?[ \t]*:[ \t]*", _cookies),
        rule("authorization header",
             rb"(?i)\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|token|digest"
             rb"|negotiate|ntlm|apikey|api-key|sso-key|ssws|hmac|aws4-hmac-sha256|goog4-hmac-sha256|sharedkey"
             rb"|sharedkeylite)[ \t]+)?", _header_value),
        rule("vendor token", rb"\b(?:" + rb"|".join(_VENDOR_TOKENS) + rb")", _whole_token()),
        rule("sk- key", _SK_KEY, _whole_token(_has_digit)),
        rule("password in a URL", rb"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@\"'<>]*:", _url_password),
        rule("secret in a query string",
             rb"[?&;](?i:x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature"
             rb"|x-goog-credential|x-goog-security-token|signature|sig|access_token|id_token|refresh_token"
             rb"|auth_token|token|api_key|apikey|api-key|key|client_secret|secret|password|passwd|pwd|code"
             rb"|session_?id|sid|private_token|sas_token)=",
             _value_after(_Run(rb"[^&#\s\"'<>]"), check=lambda v: len(v) >= 6)),
        rule("cloud account key", rb"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecret"
             rb"|ClientSecret)=", _value_after(_Run(rb"[^;\"'\s]"))),
        _Rule("secret assignment", _ASSIGNMENT_CANDIDATE, _assignment),
        rule("command-line flag", rb"(?m)(?:^|[ \t\"'(=])--?(?:[A-Za-z0-9]+-)*(?i:password|passwd|pass|pwd|token"
             rb"|secret|api-?key|access-?key|secret-?key|private-?key|client-?secret|auth-?token|cookie|storepass"
             rb"|keypass|srcstorepass|deststorepass)(?:-[A-Za-z0-9]+)*(?:=|[ \t]+)", _flag),
        rule("mysql -p", rb"(?i:\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump"
             rb"|mariadb|mariadb-dump|mycli)\b)[^\n]*?[ \t]-p", _value_after(check=lambda v: v[:1] != b"-")),
        rule("sshpass -p", rb"\bsshpass\b[^\n]*?[ \t]-p[ \t]*", value),
        rule("redis-cli -a", rb"\bredis-cli\b[^\n]*?[ \t]-a[ \t]+", value),
        rule("registry login -p", rb"\b(?:docker|podman|helm|buildah|skopeo|oras|nerdctl|crane)\b[^\n]*?"
             rb"[ \t]-p(?:[ \t]+|=)", value),
        rule("curl -u user:password", rb"(?i:\b(?:curl|wget|http|https|httpie|xh)\b)[^\n]*?[ \t]"
             rb"(?:-u|--user|--proxy-user|-U)(?:[ \t]+|=)?", _curl_user),
        rule("openssl pass:", rb"\bpass:", value),
        rule(".netrc", rb"(?i)\b(?:machine|default)\b[^\n]*?\bpassword[ \t]+", value),
        rule(".netrc login, password", rb"(?i)\blogin[ \t]+[^\s]+[ \t]*\n?[ \t]*password[ \t]+", value),
        rule("bearer token", rb"(?i)\bbearer[ \t]+",
             _value_after(_TOKEN, check=lambda v: len(v) >= 8 and _looks_random(v))),
    ]


_RULES = _rules()


def _candidates(regex: re2._Regexp | re.Pattern[bytes], data: bytes) -> Callable[[int], tuple[int, int]]:
    """``search(position)``: (start, end) of the next match at or after ``position``, (-1, -1) if none."""
    if isinstance(regex, re.Pattern):
        search = regex.search

        def python_search(position: int) -> tuple[int, int]:
            match = search(data, position)
            return match.span() if match else (-1, -1)

        return python_search
    match = regex._regexp.Match
    size = len(data)
    return lambda position: match(_UNANCHORED, data, position, size)[0]


def _apply(rule: _Rule, data: bytes) -> bytes:
    out: list[bytes] = []
    done = 0  # data[:done] is in ``out``
    position = 0
    size = len(data)
    search = _candidates(rule.regex, data)
    while position < size:
        start, end = search(position)
        if start < 0:
            break
        replace, resume = rule.found(data, start, end)
        for first, last in replace:
            if first >= done:
                out.append(data[done:first])
                out.append(_MARK)
                done = last
        position = max(resume, start + 1)
    if not out:
        return data
    out.append(data[done:])
    return b"".join(out)


# ---- private keys -------------------------------------------------------------------------------------------

_PEM_BEGIN = _compile(rb"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
                      rb"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----")
_PEM_END = _compile(rb"-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----")
_KEY_LINE = _compile(rb"[ \t]*(?:[A-Za-z0-9+/=]{16,}|(?:Proc-Type|DEK-Info|Comment):[^\n]*)[ \t]*")
_PUTTY_PRIVATE = _compile(rb"(?m)^Private-(?:Lines:[ \t]*\d{1,4}|MAC:)[^\n]*")
MAX_KEY_BYTES = 64 << 10  # a BEGIN line more than this before its END is a key cut off by a size cap
MAX_PUTTY_LINES = 100  # a PuTTY RSA-16384 key has 86 private lines


def _spans(regex: re2._Regexp, data: bytes) -> list[tuple[int, int]]:
    found = []
    position = 0
    match = regex._regexp.Match
    while position < len(data):
        start, end = match(_UNANCHORED, data, position, len(data))[0]
        if start < 0:
            break
        found.append((start, end))
        position = max(end, start + 1)
    return found


def _line_end(data: bytes, position: int) -> int:
    end = data.find(b"\n", position)
    return len(data) if end < 0 else end


def _key_material_end(data: bytes, position: int) -> int:
    """The end of the lines after ``position`` that look like key material (a key without its END line)."""
    end = _line_end(data, position)
    while end < len(data):
        line_end = _line_end(data, end + 1)
        spans = _KEY_LINE._regexp.Match(re2._Anchor.ANCHOR_BOTH, data, end + 1, line_end)
        if spans[0][0] < 0 or line_end == end + 1:
            break
        end = line_end
    return end


def _private_key_blocks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every private key: BEGIN to its END, or to the end of the key material that
    follows a BEGIN with no END before the next BEGIN; and the private lines of PuTTY key files."""
    blocks: list[tuple[int, int]] = []
    if b"PRIVATE KEY" in data:
        begins, ends = _spans(_PEM_BEGIN, data), _spans(_PEM_END, data)
        e = 0
        for i, (start, header_end) in enumerate(begins):
            if blocks and start < blocks[-1][1]:
                continue
            while e < len(ends) and ends[e][0] < header_end:
                e += 1
            next_begin = begins[i + 1][0] if i + 1 < len(begins) else len(data)
            if e < len(ends) and ends[e][1] <= next_begin and ends[e][1] - start <= MAX_KEY_BYTES:
                blocks.append((start, ends[e][1]))
            else:
                blocks.append((start, _key_material_end(data, header_end)))
    if b"Private-" in data:  # PuTTY: "Private-Lines: N" and the N lines after it, "Private-MAC: …"
        done = 0
        for start, end in _spans(_PUTTY_PRIVATE, data):
            if start < done:
                continue
            count = data[start:end].removeprefix(b"Private-Lines:").strip()
            last = end
            for _ in range(min(int(count), MAX_PUTTY_LINES) if count.isdigit() else 0):
                if last >= len(data):
                    break
                last = _line_end(data, last + 1)
            blocks.append((start, last))
            done = last
        blocks.sort()
    return blocks


def _redact_private_keys(data: bytes) -> bytes:
    """Two passes: a PEM key replaced by its marker can leave what followed its END marker at the start of
    a line, where a PuTTY key's ``Private-Lines:`` is recognised; the second pass redacts that too, so that
    redacting redacted text changes nothing."""
    return _replace_private_keys(_replace_private_keys(data))


def _replace_private_keys(data: bytes) -> bytes:
    blocks = _private_key_blocks(data)
    if not blocks:
        return data
    out = []
    done = 0
    for start, end in blocks:
        if start < done:
            continue
        out.append(data[done:start])
        out.append(_MARK + b" private key" + b"\n" * data.count(b"\n", start, end))
        done = end
    out.append(data[done:])
    return b"".join(out)


# ---- the public functions --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Redacted:
    """Redacted text. ``withheld_from``: when the time budget ran out, the 1-based line from which the text
    was withheld (those lines are empty, so the line count is the same); None when all of it was read."""

    text: str
    withheld_from: int | None = None


def redact(text: str, *, budget_s: float | None = None) -> Redacted:
    """``text`` with every secret replaced by ``[REDACTED]`` (same number of lines). With ``budget_s``,
    lines not redacted within that many seconds are withheld (emptied), never passed on unredacted."""
    if not text:
        return Redacted(text)
    started = time.monotonic()
    data = _redact_private_keys(text.encode("utf-8", "surrogatepass"))
    out: list[bytes] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", min(position + BLOCK_BYTES, len(data)))
        end = len(data) if end < 0 else end + 1
        block = data[position:end]
        for rule in _RULES:
            block = _apply(rule, block)
        out.append(block)
        position = end
        if budget_s is not None and position < len(data) and time.monotonic() - started > budget_s:
            withheld_from = data.count(b"\n", 0, position) + 1
            out.append(b"\n" * data.count(b"\n", position))
            return Redacted(b"".join(out).decode("utf-8", "surrogatepass"), withheld_from)
    return Redacted(b"".join(out).decode("utf-8", "surrogatepass"))


def redact_secrets(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``; same number of lines as ``text``."""
    return redact(text).text
