"""A study storage's URL: where it comes from (the command line, an environment variable, a file)
and how it is shown without its secrets.

``--storage`` and ``backend.storage`` take a URL, a journal file path, or

* ``env:NAME`` — the URL is the value of environment variable ``NAME``;
* ``file:PATH`` — the URL is the first line of the file ``PATH`` (relative paths from the
  working directory for ``--storage``, from the spec's directory for ``backend.storage``),

so that a password stays out of ``ps``, the shell's history and the spec. With PostgreSQL
the password may also stay out of the URL altogether: libpq reads it from ``PGPASSWORD``
or ``~/.pgpass`` when the URL has none.

Every message and log line shows a URL through :func:`redact` (the password of
``user:password@`` and the value of every query parameter named like a password, secret or
token, such as ``password=`` or ``sslpassword=``, become ``***``), and a database
driver's own message through :func:`scrub` (every secret of the URL removed wherever it
appears).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from lit_distill.search.spec_reader import SearchSpecError

__all__ = ["read_storage_value", "redact", "scrub", "url_secrets"]

log = logging.getLogger("lit_distill.search")

_SECRET_NAME = re.compile(r"pass|secret|token", re.IGNORECASE)
# scheme://user:password@ ; the password runs to the first "@", as SQLAlchemy's URL parser reads it
_USERINFO = re.compile(r"^([\w+.-]+://[^:/@]*):([^@]*)@")
_QUERY_ITEM = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")


def url_secrets(url: str) -> list[str]:
    """The secret values of a URL, as written and percent-decoded, longest first."""
    found: list[str] = []
    match = _USERINFO.match(url)
    if match:
        found.append(match.group(2))
    found += [m.group(3) for m in _QUERY_ITEM.finditer(url) if _SECRET_NAME.search(m.group(2))]
    forms = set()
    for value in found:
        if value:
            forms |= {value, unquote(value), unquote_plus(value), quote(unquote(value), safe="")}
            forms.add(quote_plus(unquote(value)))
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(url: str) -> str:
    """The URL with its password and every secret query value replaced by ``***``."""
    text = _USERINFO.sub(r"\1:***@", url)

    def hide(m: re.Match[str]) -> str:
        secret = _SECRET_NAME.search(m.group(2))
        return f"{m.group(1)}{m.group(2)}={'***' if secret else m.group(3)}"

    return _QUERY_ITEM.sub(hide, text)


def scrub(text: str, url: str | None) -> str:
    """``text`` (a driver's message, say) with every secret of ``url`` replaced by ``***``."""
    if not url:
        return text
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def read_storage_value(value: str, relative_to: Path) -> str:
    """The storage URL or journal path that ``value`` names (``env:NAME``, ``file:PATH``, or itself).

    Args:
        value: ``--storage`` or ``backend.storage``.
        relative_to: Directory that a relative ``file:`` path starts from.

    Raises:
        SearchSpecError: For an unset variable or an unreadable or empty file (naming it, never its content).
    """
    if value.startswith("env:"):
        name = value[4:]
        url = os.environ.get(name, "").strip()
        if not url:
            raise SearchSpecError(f"storage {value!r}: environment variable {name!r} is not set or empty")
        return url
    if value.startswith("file:"):
        path = relative_to / Path(value[5:]).expanduser()
        try:
            lines = path.read_text().strip().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise SearchSpecError(f"storage {value!r}: cannot read {path}: {type(err).__name__}") from None
        if not lines or not lines[0].strip():
            raise SearchSpecError(
                f"storage {value!r}: {path} is empty; write the storage URL on its first line"
            )
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO) and url_secrets(lines[0]):
            log.warning(
                "storage file %s holds a password and other users may read it; chmod 600 %s", path, path
            )
        return lines[0].strip()
    return value
