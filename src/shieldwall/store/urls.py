"""Store URLs: which store a setting names, and how to show a URL without its password.

No database driver is imported here, so settings can be checked without psycopg.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

SQLITE = "sqlite"
PG_SCHEMES = ("postgresql://", "postgres://")
_QUERY_PASSWORD = re.compile(r"(?i)(password=)[^&#]*")


def is_postgres(spec: str) -> bool:
    return spec.lower().startswith(PG_SCHEMES)


def check_store(spec: str, source: str) -> str:
    """``spec`` if it names a store shieldwall can open; ValueError naming it otherwise."""
    if spec == SQLITE or is_postgres(spec):
        return spec
    raise ValueError(
        f'{source}: store {redact(spec)!r} is neither "sqlite" nor a PostgreSQL URL: '
        "give sqlite or postgresql://USER@HOST[:PORT]/DATABASE"
    )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (in the user part and the query)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _QUERY_PASSWORD.sub(r"\1***", url)
    head, mark, query = rest.partition("?")
    userinfo, at, host = head.rpartition("@")
    if at and ":" in userinfo:
        head = f"{userinfo.partition(':')[0]}:***@{host}"
    query = _QUERY_PASSWORD.sub(r"\1***", query)
    return f"{scheme}{sep}{head}{mark}{query}"


def secrets_of(url: str) -> list[str]:
    """The password(s) in ``url``, raw and decoded, to scrub from driver messages."""
    found: list[str] = []
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.partition("?")[0].rpartition("@")
    if sep and at and ":" in userinfo:
        password = userinfo.partition(":")[2]
        found += [password, unquote(password)]
    for value in re.findall(r"(?i)password=([^&#]*)", url):
        found += [value, unquote(value)]
    return [s for s in found if s]


def scrub(message: str, url: str) -> str:
    """``message`` with the URL's password(s) replaced by ``***``."""
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def where(url: str) -> str:
    """``HOST[:PORT]/DATABASE`` of a PostgreSQL URL, for messages (never the password)."""
    parts = urlsplit(redact(url))
    host = parts.netloc.rpartition("@")[2] or "localhost"
    database = unquote(parts.path.lstrip("/")) or "(default database)"
    return f"{host}/{database}"


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose sessions use ``schema`` (``options=-csearch_path=...``)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(
            f"schema name {schema!r} is not a plain lower-case identifier: use letters, "
            "digits and _"
        )
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
