"""German and English texts shared by passes and pages.

Keys are stable identifiers; pass.json carries the keys and each
`<lang>.lproj/pass.strings` maps them to the phone's language.
"""

from collections.abc import Mapping

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "stamps_label": "Stempel",
        "stamps_changed": "Neuer Stempel: %@",
        "reward_label": "Prämie",
        "reward_due_label": "Prämie bereit",
        "rewards_due_label": "Prämien bereit",
        "next_reward_label": "Nächste Prämie",
        "how_label": "So geht's",
        "how_text": "Bei jedem Einkauf zeigen Sie diese Karte an der Kasse. "
        "Sind alle Felder voll, erhalten Sie Ihre Prämie.",
        "card_link_label": "Ihre Karte",
        "total_label": "Stempel insgesamt",
        "voided_label": "Karte ungültig",
        "description": "Stempelkarte",
        "privacy_label": "Datenschutz",
        "privacy_text": "Diese Karte ist anonym: kein Name, keine E-Mail nötig.",
    },
    "en": {
        "stamps_label": "Stamps",
        "stamps_changed": "New stamp: %@",
        "reward_label": "Reward",
        "reward_due_label": "Reward ready",
        "rewards_due_label": "Rewards ready",
        "next_reward_label": "Next reward",
        "how_label": "How it works",
        "how_text": "Show this card at the counter with every purchase. "
        "When all stamps are collected, your reward is ready.",
        "card_link_label": "Your card",
        "total_label": "Stamps in total",
        "voided_label": "Card void",
        "description": "Stamp card",
        "privacy_label": "Privacy",
        "privacy_text": "This card is anonymous: no name or e-mail needed.",
    },
}


def text(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The text for `key` in `language`, falling back to the default language."""
    return TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE]).get(key) or TEXTS[DEFAULT_LANGUAGE][key]
