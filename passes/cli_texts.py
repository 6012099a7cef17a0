"""The CLI's words in the language its environment names (gettext's LANGUAGE, LC_ALL,
LC_MESSAGES, LANG), English by default."""

from __future__ import annotations

import os
from collections.abc import Mapping

from passes.texts import LANGUAGES, SOURCE_LANGUAGE, counted, text


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """The first supported language of the environment, as gettext reads it: the locale
    (LC_ALL, then LC_MESSAGES, then LANG) decides, and LANGUAGE lists preferences unless
    the locale is C; English when none is supported."""
    env = os.environ if environ is None else environ
    locale = next((env[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(name)), "")
    if locale in ("", "C", "POSIX") or locale.startswith("C."):
        return SOURCE_LANGUAGE
    for wanted in [*env.get("LANGUAGE", "").split(":"), locale]:
        code = wanted[:2].lower()
        if code in LANGUAGES:
            return code
    return SOURCE_LANGUAGE


def say(key: str, /, **values: object) -> str:
    """The CLI text `key` in the environment's language, with `values` filled in."""
    return text(key, cli_language()).format(**values)


def say_counted(key: str, count: int, /, **values: object) -> str:
    """The CLI text `key` in the environment's language and the form for `count`."""
    return counted(key, count, cli_language()).format(**values)
