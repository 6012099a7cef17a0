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
        "reward_changed": "Prämie: %@",
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
        "page_stamps": "{stamps} von {required} Stempeln",
        "page_to_go": "Noch {missing} Stempel bis: {reward}",
        "page_reward_ready": "Ihre Prämie ist bereit: {reward}",
        "add_to_apple": "Zu Apple Wallet hinzufügen",
        "page_not_found": "Diese Karte gibt es nicht (mehr).",
        "switch_language": "English",
    },
    "en": {
        "stamps_label": "Stamps",
        "stamps_changed": "New stamp: %@",
        "reward_label": "Reward",
        "reward_changed": "Reward: %@",
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
        "page_stamps": "{stamps} of {required} stamps",
        "page_to_go": "{missing} more stamps to: {reward}",
        "page_reward_ready": "Your reward is ready: {reward}",
        "add_to_apple": "Add to Apple Wallet",
        "page_not_found": "This card does not exist (any more).",
        "switch_language": "Deutsch",
    },
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


def text(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The text for `key` in `language`, falling back to the default language."""
    return TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE]).get(key) or TEXTS[DEFAULT_LANGUAGE][key]
