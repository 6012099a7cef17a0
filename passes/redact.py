"""Paths as the log may show them: secrets out, control characters escaped.

A matched route is logged by its template. An unmatched path is logged as sent, and under
`/c/<secret>/…` that was the card page's secret; a path may also carry a pass's token or an
API key by mistake. Our secrets are `secrets.token_urlsafe` strings (mixed case, 32+
characters); serials (upper case, 12) and slugs (lower case) are not secrets and stay readable.
"""

from __future__ import annotations

import re

# Segments that are always secrets: the card page's.
SECRET_AFTER = frozenset({"c"})
SECRETISH = re.compile(r"(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z0-9_-])[A-Za-z0-9_-]{16,}")
CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
HIDDEN = "{redacted}"


def redact_path(path: str) -> str:
    """`path` with secret-looking segments replaced and control characters made visible."""
    segments = path.split("/")
    shown = [
        HIDDEN if segment and _secret(segments, index) else segment
        for index, segment in enumerate(segments)
    ]
    return CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", "/".join(shown))


def _secret(segments: list[str], index: int) -> bool:
    if index == 2 and segments[1] in SECRET_AFTER:
        return True
    return SECRETISH.fullmatch(segments[index]) is not None
