"""The texts of passes, pages and the CLI, from the gettext catalogs in passes/locale.

Message ids are stable keys: pass.json carries them and each `<lang>.lproj/pass.strings`
maps them to the phone's language. The English catalog holds the source texts; a language
is one more `passes/locale/<lang>/LC_MESSAGES/messages.po` (README: "Adding a language").
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from passes.text_keys import PASS_TEXT_KEYS

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"
# Every language with a catalog: adding one takes a .po file, no code.
LANGUAGES = tuple(sorted(path.parent.parent.name for path in LOCALE_DIR.glob("*/*/messages.po")))
DEFAULT_LANGUAGE = "de"
MAX_TO_GO = 30
TO_GO_PREFIX = "to_go_"


def catalog_path(language: str) -> Path:
    """Where `language`'s catalog lives."""
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def compile_catalog(language: str) -> Translations:
    """`language`'s .po compiled in memory (no .mo files to build or commit)."""
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of `language` (the default language for an unknown one); a text
    it lacks comes from the English source catalog."""
    found = compile_catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    if language != SOURCE_LANGUAGE:
        found.add_fallback(translations(SOURCE_LANGUAGE))
    return found


def text(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The text for `key` in `language` (a text with plural forms: its form for 2)."""
    if key.startswith(TO_GO_PREFIX):
        missing = int(key.removeprefix(TO_GO_PREFIX))
        return counted("to_go", missing, language).format(n=missing)
    return counted(key, 2, language)


def counted(key: str, count: int, language: str = DEFAULT_LANGUAGE) -> str:
    """The text for `key` in the plural form `language` uses for `count` (French says
    "0 tampon", German and English "0 Stempel"/"0 stamps"); a text without plural forms
    reads the same for every count."""
    found = translations(language).ngettext(key, key, count)
    return found if found != key else translations(language).gettext(key)


def translated(key: str, language: str) -> bool:
    """Whether `language` has its own text for `key` (an empty msgstr says: use another)."""
    return text(key, language) != key


def refusal_text(code: str, values: Mapping[str, object], language: str) -> str | None:
    """What the rules' refusal `code` says to people in `language` ("refusal_<code>", filled
    with what the rule named, e.g. the minutes to wait); None where the pages have no words
    for it."""
    key = f"refusal_{code}"
    return text(key, language).format(**values) if translated(key, language) else None


def to_go_key(missing: int) -> str:
    """The pass label "noch N Stempel bis" as a text key: pass.strings cannot hold numbers
    (beyond MAX_TO_GO the label says MAX_TO_GO)."""
    return f"{TO_GO_PREFIX}{min(missing, MAX_TO_GO)}"


def pass_texts(language: str) -> dict[str, str]:
    """What `<language>.lproj/pass.strings` carries: the pass texts and the to-go labels."""
    keys = [*PASS_TEXT_KEYS, *(to_go_key(missing) for missing in range(1, MAX_TO_GO + 1))]
    return {key: text(key, language) for key in keys}


def page_texts(language: str) -> dict[str, str]:
    """Every other text of `language` (pages, e-mails and notices, the CLI)."""
    with catalog_path(SOURCE_LANGUAGE).open("rb") as source:
        ids = {message.id for message in read_po(source)}
    keys = {found if isinstance(found, str) else found[0] for found in ids if found}
    return {key: text(key, language) for key in sorted(keys - {*PASS_TEXT_KEYS, "to_go"})}


# Read-only views for callers that list texts (tests, tools); lookups go through text().
TEXTS: Mapping[str, Mapping[str, str]] = {language: pass_texts(language) for language in LANGUAGES}
PAGE_TEXTS: Mapping[str, Mapping[str, str]] = {
    language: page_texts(language) for language in LANGUAGES
}


def pick_language(accept_language: str, chosen: str | None = None) -> str:
    """The page language: an explicit choice, else the first supported one the browser names."""
    if chosen in LANGUAGES:
        return chosen
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def local_date(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """A date as people write it: 27.02.2027 in German, 27 Feb 2027 in English (UTC); the
    catalog's `date_pattern` says how (CLDR symbols)."""
    day = moment.astimezone(UTC).date()
    return format_date(day, text("date_pattern", language), locale=_locale(language))


def local_day(day: date, language: str = DEFAULT_LANGUAGE) -> str:
    """A day without its year, for chart axes: 27.02. in German, 27 Feb in English."""
    return format_date(day, text("day_pattern", language), locale=_locale(language))


def _locale(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE
