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
        "news_label": "Neuigkeiten",
        "news_changed": "%@",
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
        "news_label": "News",
        "news_changed": "%@",
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


# Texts of the web pages only (the pass.strings files carry TEXTS alone).
PAGE_TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "offer": "{stamps} Stempel = {reward}",
        "join_how": "Bei jedem Einkauf gibt es einen Stempel. Die Karte liegt in Ihrer Wallet – "
        "ohne App, ohne Anmeldung.",
        "badge_add_to": "Hinzufügen zu",
        "join_have_card": "Sie haben hier schon eine Karte.",
        "open_card": "Meine Karte öffnen",
        "desktop_qr": "Am Handy öffnen: diesen Code mit der Kamera scannen.",
        "rate_limited": "Von diesem Netz wurden gerade sehr viele Karten erstellt. "
        "Bitte in ein paar Minuten noch einmal versuchen.",
        "poster_title": "Plakat für die Theke",
        "poster_scan": "Scannen und Stempelkarte in die Wallet legen",
        "poster_small": "Keine App. Kein Name. Keine E-Mail.",
        "poster_print": "Drucken",
        "poster_png": "Als Bild (PNG) herunterladen",
        "show_at_counter": "An der Kasse zeigen:",
        "card_stamps_picture": "Stempel",
        "staff_title": "Stempeln",
        "staff_sign_in": "Anmeldung für das Personal",
        "pin": "PIN",
        "sign_in": "Anmelden",
        "sign_out": "Abmelden",
        "wrong_pin": "Falsche PIN. Noch {left} Versuche, dann ist die Anmeldung 15 Minuten gesperrt.",
        "pin_locked": "Zu viele falsche PINs: Die Anmeldung ist für {minutes} Minuten gesperrt.",
        "no_pin": "Für diesen Laden ist noch keine Personal-PIN gesetzt. Die Inhaberin setzt sie "
        "im Dashboard oder mit „passes shop pin“.",
        "scan": "Mit der Kamera scannen",
        "scan_stop": "Kamera aus",
        "scan_hint": "Den QR-Code der Karte vor die Kamera halten.",
        "camera_unavailable": "Keine Kamera verfügbar – bitte die Nummer eintippen.",
        "serial": "Kartennummer",
        "open": "Öffnen",
        "stamp_one": "+1 Stempel",
        "stamp_n": "+{n}",
        "count": "Anzahl",
        "redeem": "Einlösen",
        "undo": "Rückgängig",
        "stamped": "+{n} gestempelt",
        "redeemed": "Prämie eingelöst",
        "undone": "Stempel zurückgenommen",
        "reward_due": "Prämie fällig: {reward}",
        "network_error": "Keine Verbindung. Einfach noch einmal tippen – es wird nicht doppelt "
        "gestempelt.",
        "no_such_card": "Diese Karte gibt es in diesem Laden nicht.",
        "signed_out": "Abgemeldet. Bitte neu anmelden.",
        "refusal_no_reward_due": "Auf dieser Karte ist noch keine Prämie fällig.",
        "refusal_card_voided": "Diese Karte ist ungültig.",
        "refusal_reward_redeemed": "Die Prämie dieser Stempel wurde schon eingelöst; "
        "sie lassen sich nicht mehr zurücknehmen.",
        "refusal_undo_window_passed": "Stempel lassen sich nur 10 Minuten lang zurücknehmen.",
        # English shows the rule's own message, which carries how many stamps are left today.
        "refusal_daily_cap": "So viele Stempel lässt das Tageslimit dieser Karte heute nicht "
        "mehr zu – mehr ab morgen.",
        "dashboard_title": "Dashboard",
        "owner_sign_in": "Anmeldung für Inhaber",
        "api_key": "API-Schlüssel",
        "api_key_hint": "Der Schlüssel, den „passes shop create“ einmal angezeigt hat.",
        "wrong_key": "Dieser Schlüssel gehört nicht zu diesem Laden.",
        "too_many_tries": "Zu viele Versuche. Bitte in ein paar Minuten noch einmal.",
        "cards_issued": "Karten ausgegeben",
        "active_cards": "Aktiv in {days} Tagen",
        "returning": "Wiederkehrend ({days} Tage)",
        "returning_hint": "an mindestens zwei Tagen gestempelt",
        "rewards_redeemed": "Prämien eingelöst",
        "stamps_per_day": "Stempel pro Tag, letzte {days} Tage (UTC)",
        "stamps_total": "Stempel insgesamt",
        "wallets": "Karten in Wallets",
        "ledger_csv": "Alle Buchungen als CSV",
        "program": "Programm",
        "set_pin": "Personal-PIN setzen",
        "new_pin": "Neue PIN (4–12 Ziffern)",
        "save": "Speichern",
        "pin_saved": "PIN gespeichert. Alle Geräte des Personals sind abgemeldet.",
        "links": "Seiten",
        "join_page": "Beitrittsseite",
        "staff_page": "Stempelseite",
        "form_expired": "Das Formular ist abgelaufen. Bitte die Seite neu laden und noch "
        "einmal senden.",
        "shop_not_found": "Diesen Laden gibt es hier nicht.",
    },
    "en": {
        "offer": "{stamps} stamps = {reward}",
        "join_how": "One stamp with every purchase. The card lives in your phone's wallet – "
        "no app, no sign-up.",
        "badge_add_to": "Add to",
        "join_have_card": "You already have a card here.",
        "open_card": "Open my card",
        "desktop_qr": "Open it on your phone: scan this code with the camera.",
        "rate_limited": "Very many cards were just created from this network. "
        "Please try again in a few minutes.",
        "poster_title": "Counter poster",
        "poster_scan": "Scan to put the stamp card in your wallet",
        "poster_small": "No app. No name. No e-mail.",
        "poster_print": "Print",
        "poster_png": "Download as image (PNG)",
        "show_at_counter": "Show at the counter:",
        "card_stamps_picture": "Stamps",
        "staff_title": "Stamping",
        "staff_sign_in": "Staff sign-in",
        "pin": "PIN",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "wrong_pin": "Wrong PIN. {left} tries left, then sign-in is locked for 15 minutes.",
        "pin_locked": "Too many wrong PINs: sign-in is locked for {minutes} minutes.",
        "no_pin": "This shop has no staff PIN yet. The owner sets it on the dashboard "
        "or with “passes shop pin”.",
        "scan": "Scan with the camera",
        "scan_stop": "Camera off",
        "scan_hint": "Hold the card's QR code in front of the camera.",
        "camera_unavailable": "No camera available – please type the number.",
        "serial": "Card number",
        "open": "Open",
        "stamp_one": "+1 stamp",
        "stamp_n": "+{n}",
        "count": "Count",
        "redeem": "Redeem",
        "undo": "Undo",
        "stamped": "+{n} stamped",
        "redeemed": "Reward redeemed",
        "undone": "Stamp taken back",
        "reward_due": "Reward due: {reward}",
        "network_error": "No connection. Just tap again – it will not stamp twice.",
        "no_such_card": "This shop has no such card.",
        "signed_out": "Signed out. Please sign in again.",
        "refusal_no_reward_due": "No reward is due on this card yet.",
        "refusal_card_voided": "This card is void.",
        "refusal_reward_redeemed": "The reward these stamps completed was already redeemed; "
        "they cannot be taken back.",
        "refusal_undo_window_passed": "Stamps can be taken back for 10 minutes only.",
        "dashboard_title": "Dashboard",
        "owner_sign_in": "Owner sign-in",
        "api_key": "API key",
        "api_key_hint": "The key that “passes shop create” showed once.",
        "wrong_key": "This key does not belong to this shop.",
        "too_many_tries": "Too many tries. Please try again in a few minutes.",
        "cards_issued": "Cards issued",
        "active_cards": "Active in {days} days",
        "returning": "Returning ({days} days)",
        "returning_hint": "stamped on two days or more",
        "rewards_redeemed": "Rewards redeemed",
        "stamps_per_day": "Stamps per day, last {days} days (UTC)",
        "stamps_total": "Stamps in total",
        "wallets": "Cards in wallets",
        "ledger_csv": "All ledger entries as CSV",
        "program": "Program",
        "set_pin": "Set the staff PIN",
        "new_pin": "New PIN (4–12 digits)",
        "save": "Save",
        "pin_saved": "PIN saved. Every staff device is signed out.",
        "links": "Pages",
        "join_page": "Join page",
        "staff_page": "Stamping page",
        "form_expired": "This form has expired. Please reload the page and send it again.",
        "shop_not_found": "There is no such shop here.",
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
    for table in (PAGE_TEXTS, TEXTS):
        found = table.get(language, table[DEFAULT_LANGUAGE]).get(key)
        if found:
            return found
    return PAGE_TEXTS[DEFAULT_LANGUAGE].get(key) or TEXTS[DEFAULT_LANGUAGE][key]
