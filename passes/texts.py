"""German and English texts shared by passes and pages.

Keys are stable identifiers; pass.json carries the keys and each
`<lang>.lproj/pass.strings` maps them to the phone's language.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"

_BASE_TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "stamps_label": "Stempel",
        "reward_label": "Prämie",
        "news_label": "Neuigkeiten",
        # The notice (passes/notices.py): label and lock-screen text per kind.
        "notice_label": "Neuigkeiten",
        "notice_none": "Neue Stempel und Nachrichten erscheinen hier.",
        "notice_stamp_label": "Neuer Stempel",
        "notice_stamp_changed": "Neuer Stempel: %@",
        "notice_bonus_label": "Bonusstempel",
        "notice_bonus_changed": "Bonusstempel! Jetzt %@",
        "notice_reward_label": "Prämie bereit",
        "notice_reward_changed": "Ihre Prämie ist bereit: %@",
        "notice_news_label": "Neuigkeiten",
        "notice_news_changed": "%@",
        "notice_perk_label": "Neu als Stammkunde",
        "notice_perk_changed": "Neu für Sie als Stammkunde: %@",
        "notice_latest_label": "Zuletzt",
        "notice_redeemed": "Prämie eingelöst – danke!",
        "notice_undone": "Ein Stempel wurde zurückgenommen.",
        "notice_expired": "Stempel oder Prämien sind verfallen.",
        "notice_voided": "Diese Karte ist ungültig.",
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
        "feedback_label": "Wie war's? Eine Frage, ein Tipp:",
        "page_stamps": "{stamps} von {required} Stempeln",
        "page_to_go": "Noch {missing} Stempel bis: {reward}",
        "page_reward_ready": "Ihre Prämie ist bereit: {reward}",
        "add_to_apple": "Zu Apple Wallet hinzufügen",
        "page_not_found": "Diese Karte gibt es nicht (mehr).",
        "switch_language": "English",
        "perk_label": "Ihr Stammkunden-Vorteil",
        "rewards_label": "Prämien",
        "stamps_expire_label": "Stempel verfallen am",
        "reward_expires_label": "Prämie gültig bis",
    },
    "en": {
        "stamps_label": "Stamps",
        "reward_label": "Reward",
        "news_label": "News",
        "notice_label": "News",
        "notice_none": "New stamps and messages appear here.",
        "notice_stamp_label": "New stamp",
        "notice_stamp_changed": "New stamp: %@",
        "notice_bonus_label": "Bonus stamps",
        "notice_bonus_changed": "Bonus stamps! Now %@",
        "notice_reward_label": "Reward ready",
        "notice_reward_changed": "Your reward is ready: %@",
        "notice_news_label": "News",
        "notice_news_changed": "%@",
        "notice_perk_label": "New as a regular",
        "notice_perk_changed": "New for you as a regular: %@",
        "notice_latest_label": "Latest",
        "notice_redeemed": "Reward redeemed – thank you!",
        "notice_undone": "A stamp was taken back.",
        "notice_expired": "Stamps or rewards have expired.",
        "notice_voided": "This card is void.",
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
        "feedback_label": "How was it? One question, one tap:",
        "page_stamps": "{stamps} of {required} stamps",
        "page_to_go": "{missing} more stamps to: {reward}",
        "page_reward_ready": "Your reward is ready: {reward}",
        "add_to_apple": "Add to Apple Wallet",
        "page_not_found": "This card does not exist (any more).",
        "switch_language": "Deutsch",
        "perk_label": "Your regular's perk",
        "rewards_label": "Rewards",
        "stamps_expire_label": "Stamps expire on",
        "reward_expires_label": "Reward valid until",
    },
}

MAX_TO_GO = 30


def to_go_key(missing: int) -> str:
    """The pass label "noch N Stempel bis" as a text key: pass.strings cannot hold numbers
    (beyond MAX_TO_GO the label says MAX_TO_GO)."""
    return f"to_go_{min(missing, MAX_TO_GO)}"


def _to_go(language: str) -> dict[str, str]:
    if language == "de":
        return {to_go_key(n): f"Noch {n} Stempel bis" for n in range(1, MAX_TO_GO + 1)}
    return {
        to_go_key(n): f"{n} more stamp{'s' if n > 1 else ''} to" for n in range(1, MAX_TO_GO + 1)
    }


TEXTS: Mapping[str, Mapping[str, str]] = {
    language: {**texts, **_to_go(language)} for language, texts in _BASE_TEXTS.items()
}


# Texts of the web pages only (the pass.strings files carry TEXTS alone).
PAGE_TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "offer": "{stamps} Stempel = {reward}",
        "join_how": "Bei jedem Einkauf gibt es einen Stempel. Die Karte liegt in Ihrer Wallet – "
        "ohne App, ohne Anmeldung.",
        "badge_add_to": "Hinzufügen zu",
        # The words on Apple's and Google's German badges, so the name matches what shows.
        "badge_apple": "Hinzufügen zu Apple Wallet",
        "badge_google": "Hinzufügen zu Google Wallet",
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
        # Sign-in locks (passes/lockout.py): what happened, how long, what to do.
        "pin_locked": "Zu viele falsche PINs von diesem Gerät oder Netz: Die Anmeldung ist hier "
        "für {minutes} Minuten gesperrt. Bitte so lange warten – oder die Inhaberin setzt eine "
        "neue PIN (im Dashboard oder mit „passes shop pin --shop {slug}“), das hebt die Sperre "
        "auf. Geräte, die hier schon angemeldet waren, sind nicht gesperrt.",
        "pins_slowed": "Gerade wurden bei diesem Laden viele falsche PINs versucht, deshalb warten "
        "neue Geräte kurz: Bitte in {seconds} Sekunden noch einmal versuchen. Geräte, die hier "
        "schon angemeldet waren, können sich sofort anmelden; eine neue PIN (im Dashboard oder "
        "mit „passes shop pin --shop {slug}“) hebt jede Sperre auf.",
        "too_many_keys": "Zu viele falsche Schlüssel aus diesem Netz: Bitte {seconds} Sekunden "
        "warten und noch einmal versuchen. Schlüssel verloren? „passes shop key --shop {slug}“ "
        "erzeugt einen neuen (der alte gilt dann nicht mehr).",
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
        # referral
        "share_heading": "Weiterempfehlen",
        "share_text": "Wer über Ihren Link eine Karte holt, bekommt beim ersten Stempel "
        "{bonus} Bonusstempel – und Sie auch.",
        "share_link": "Ihr Empfehlungslink",
        "share_button": "Teilen",
        "copy_button": "Link kopieren",
        "copied": "Link kopiert.",
        "copy_failed": "Kopieren ging nicht – bitte den Link oben markieren und kopieren.",
        "share_message": "Die Stempelkarte von {shop}: {offer}",
        "join_referred": "Sie wurden empfohlen: Beim ersten Stempel bekommen Sie und wer Sie "
        "empfohlen hat je {bonus} Bonusstempel.",
        # feedback
        "feedback_title": "Wie war's?",
        "feedback_question": "Wie zufrieden sind Sie mit {shop}?",
        "feedback_link": "Wie war Ihre Prämie? Sagen Sie es uns",
        "star_n": "{n} von 5 Sternen",
        "feedback_words": "Möchten Sie uns noch etwas sagen? (freiwillig, höchstens 500 Zeichen)",
        "feedback_send": "Absenden",
        "feedback_anonymous": "Ihre Antwort bleibt anonym.",
        "feedback_thanks": "Danke für Ihre Meinung!",
        "feedback_done": "Danke – Ihre Antwort zu dieser Prämie haben wir schon.",
        "feedback_not_yet": "Nach Ihrer ersten eingelösten Prämie können Sie hier Ihre Meinung "
        "sagen.",
        "feedback_stars_missing": "Bitte 1 bis 5 Sterne wählen.",
        "feedback_too_long": "Bitte höchstens 500 Zeichen.",
        "back_to_card": "Zurück zur Karte",
        "feedback_heading": "Meinungen der Kundschaft",
        "feedback_average": "Sterne im Schnitt",
        "feedback_count": "Antworten",
        "feedback_latest": "Neueste Kommentare",
        "feedback_none": "Noch keine Antworten. Nach jeder eingelösten Prämie zeigt die Karte "
        "einen Link zu der Frage.",
        # campaigns
        "campaign_heading": "Nachricht an die Kundschaft",
        "segment": "An wen?",
        "segment_all": "Alle Karten",
        "segment_new": "Neue Karten (jünger als 30 Tage)",
        "segment_lapsed": "Länger nicht da (45 Tage ohne Besuch)",
        "segment_top": "Stammkundschaft (die häufigsten Besuche)",
        "segment_reward_due": "Prämie fällig",
        "segment_apple": "Karten in Apple Wallet",
        "segment_google": "Karten in Google Wallet",
        "campaign_text": "Nachricht (höchstens 200 Zeichen)",
        "campaign_hint": "Erscheint auf dem Sperrbildschirm. Höchstens {per_week} Nachrichten pro "
        "Karte und Woche; {holdout} % der Gruppe bekommen zum Vergleich nichts.",
        "preview": "Vorschau",
        "send": "Senden",
        "preview_recipients": "Bekommen die Nachricht",
        "preview_held_out": "Vergleichsgruppe (bekommt nichts)",
        "preview_over_limit": "Wochenlimit erreicht",
        "preview_google_notified": "Android (Google Wallet): mit Benachrichtigung",
        "preview_google_silent": "Android: nur still aktualisiert (Googles Limit von 3 "
        "Benachrichtigungen am Tag erreicht)",
        "campaign_sent": "Die Nachricht geht an {recipients} Karten ({held_out} zum Vergleich "
        "zurückgehalten).",
        # A campaign that reaches nobody: why, and the question before sending it anyway.
        "n_messages": "{n} Nachrichten",
        "n_messages_one": "1 Nachricht",
        "nobody_empty": "0 Karten: In der Gruppe „{segment}“ ist keine Karte.",
        "nobody_at_limit": "0 Karten: {members} in der Gruppe „{segment}“, alle {members} haben "
        "das Wochenlimit von {limit} erreicht.",
        "nobody_at_limit_one": "0 Karten: Die eine Karte der Gruppe „{segment}“ hat das "
        "Wochenlimit von {limit} erreicht.",
        "nobody_mixed": "0 Karten: {members} in der Gruppe „{segment}“, {over} am Wochenlimit "
        "von {limit}, {held} in der Vergleichsgruppe.",
        "nobody_limit_hint": "Das Limit zählt die letzten 7 Tage, später geht es also wieder – "
        "oder erhöhen Sie unter „Regeln“ die Nachrichten pro Karte und Woche.",
        "nobody_confirm": "Trotzdem senden, obwohl sie niemanden erreicht",
        "nobody_confirm_needed": "Diese Nachricht erreicht niemanden. Haken Sie „Trotzdem "
        "senden“ an, wenn Sie sie dennoch senden wollen.",
        "campaign_invalid_text": "Die Nachricht braucht 1 bis 200 Zeichen.",
        "campaign_invalid_segment": "Bitte eine Gruppe aus der Liste wählen.",
        "campaign_history": "Bisherige Nachrichten",
        "campaign_none": "Noch keine Nachrichten.",
        "col_date": "Datum",
        "col_segment": "Gruppe",
        "col_text": "Nachricht",
        "col_recipients": "Empfänger",
        "col_held_out": "Zurückgehalten",
        "col_delivered": "Zugestellt",
        "col_failed": "Fehlgeschlagen",
        "col_removed": "Geräte entfernt",
        # program settings and locations
        "settings_heading": "Regeln",
        "daily_cap": "Höchstens Stempel pro Karte und Tag (leer = kein Limit)",
        "messages_per_week": "Nachrichten pro Karte und Woche",
        "holdout_percent": "Vergleichsgruppe in Prozent",
        "welcome_stamps": "Willkommensstempel für neue Karten",
        "settings_saved": "Regeln gespeichert.",
        "settings_range": "{field}: bitte eine ganze Zahl von {low} bis {high}.",
        "stamp_expiry_days": "Stempel verfallen nach so vielen Tagen ohne Besuch (leer = nie)",
        "reward_expiry_days": "Prämien verfallen so viele Tage nach Fälligkeit (leer = nie)",
        "tiers_heading": "Zwischenprämien",
        "tiers_hint": "Kleine Prämien auf dem Weg, z. B. bei 5 Stempeln „1 Cookie“. "
        "Die Hauptprämie bleibt bei {stamps} Stempeln: {reward}.",
        "tier_at": "Stufe {n}: Stempelzahl",
        "tier_reward": "Stufe {n}: Prämie",
        "tiers_invalid": "Zwischenprämien: je eine Stempelzahl von 1 bis {high} mit ihrer Prämie, "
        "jede Zahl einmal, höchstens {most}.",
        "rewards_list": "Prämien",
        "stamps_expire_on": "Stempel verfallen am {date}, wenn Sie bis dahin nicht vorbeikommen.",
        "reward_expires_on": "Prämie gültig bis {date}.",
        "redeem_tier": "Einlösen: {reward}",
        "locations_heading": "Standorte",
        "locations_hint": "Bis zu 10 Orte. In ihrer Nähe zeigt das iPhone die Karte auf dem "
        "Sperrbildschirm.",
        "locations_none": "Noch keine Standorte.",
        "address": "Adresse",
        "latitude": "Breitengrad (z. B. 52,5200)",
        "longitude": "Längengrad (z. B. 13,4050)",
        "add_location": "Standort hinzufügen",
        "location_added": "Standort hinzugefügt. Karten zeigen ihn beim nächsten Update.",
        "location_invalid": "Bitte eine Adresse (bis 200 Zeichen) und Koordinaten angeben: "
        "Breite −90 bis 90, Länge −180 bis 180.",
        "too_many_locations": "Mehr als 10 Standorte zeigt die Wallet nicht.",
        # promotions and long-standing customers
        "promotion": "Aktion: Stempel zählen mehrfach",
        "promotion_none": "Keine Aktion, nur die Nachricht",
        "promotion_multiplier": "Wie oft zählt ein Stempel?",
        "promotion_times": "Jeder Stempel zählt {n}-fach",
        "promotion_from": "Von (leer = ab sofort)",
        "promotion_until": "Bis",
        "promotion_hint": "Für die Empfänger der Nachricht, höchstens 14 Tage, Beginn innerhalb "
        "von 30 Tagen. Zeiten in der Zeitzone des Servers ({zone}).",
        "promotion_invalid": "Die Aktion braucht ein Ende nach dem Beginn, höchstens 14 Tage "
        "lang, Beginn innerhalb von 30 Tagen.",
        "col_promotion": "Aktion",
        "loyal_heading": "Stammkunden",
        "loyal_after_cards": "Stammkunde nach so vielen vollen Karten (0 = nicht danach)",
        "loyal_after_months": "… oder nach so vielen Monaten seit dem ersten Tag (0 = nicht danach)",
        "loyal_bonus_stamps": "Einmalige Bonusstempel dafür",
        "loyal_perk": "Dauerhafter Vorteil auf der Karte (z. B. „Immer 10 % auf Kuchen“)",
        "loyal_hint": "Was zuerst erreicht ist, zählt. Geprüft beim nächsten Stempel der Karte; "
        "der Bonus kommt einmal pro Karte.",
        "loyal_perk_invalid": "Der Vorteil darf höchstens 100 Zeichen haben.",
        # the pass's look; program changes refresh the passes in wallets
        "look_heading": "Aussehen der Karte",
        "shop_name": "Name des Geschäfts",
        "background_color": "Hintergrund",
        "foreground_color": "Schrift",
        "label_color": "Beschriftungen",
        "stamp_color": "Stempel",
        "shop_name_invalid": "Der Name braucht 1 bis 200 druckbare Zeichen.",
        "colour_invalid": "{field}: bitte eine Farbe wie #3B2A20.",
        "refresh_hint": "Name, Farben, Prämien, Verfall und Standorte stehen auf jeder Karte. "
        "Eine Änderung aktualisiert alle Karten in Wallets (jetzt {n}), ohne Mitteilung auf "
        "dem Handy.",
        # the card designer (passes/web/designer.py)
        "design_heading": "Kartendesign",
        "design_hint": "Logo, Farben und Stempel Ihrer Karte. Die Vorschau zeigt sofort, was Sie "
        "wählen; gespeichert und an alle Karten in Wallets verteilt wird erst mit „Speichern“.",
        "logo_file": "Logo (PNG oder SVG)",
        "logo_hint": "Mindestens 300 px breit oder hoch, höchstens 2 MB, am besten mit "
        "durchsichtigem Hintergrund. Es wird für Apple Wallet (Logo und Symbol) und Google "
        "Wallet (660 × 660 px) skaliert.",
        "logo_current_own": "Jetzt: Ihr eigenes Logo.",
        "logo_current_default": "Jetzt: das Standardlogo.",
        "logo_remove": "Wieder das Standardlogo verwenden",
        "colours_heading": "Farben",
        "stamp_symbol": "Stempelsymbol",
        "symbol_check": "Haken",
        "symbol_cup": "Tasse",
        "symbol_star": "Stern",
        "symbol_heart": "Herz",
        "symbol_paw": "Pfote",
        "symbol_dot": "Punkt",
        "design_preview": "Vorschau",
        "preview_apple": "Apple Wallet – Vorderseite",
        "preview_google": "Google Wallet – Karte",
        "preview_note": "Eine Karte mit {n} Stempeln, wie sie mit Ihren Eingaben aussieht.",
        "strip_alt": "Stempelstreifen mit {n} Stempeln",
        "design_saved": "Kartendesign gespeichert.",
        "design_saved_refreshed": "Kartendesign gespeichert. Karten in Wallets, die aktualisiert "
        "werden: {n}.",
        "contrast_low": "{field} auf dem Hintergrund: Kontrast {ratio}:1, nötig sind mindestens "
        "{needed}:1, damit man es lesen kann. Wählen Sie eine hellere oder dunklere Farbe.",
        "contrast_ok": "Kontrast in Ordnung: Schrift {text}:1, Beschriftungen {label}:1, "
        "Stempel {stamp}:1.",
        "symbol_invalid": "Bitte eines der Stempelsymbole wählen.",
        "logo_too_big": "Die Datei ist größer als {mb} MB. Bitte ein kleineres Bild hochladen.",
        "logo_not_image": "Das ist kein PNG- oder SVG-Bild. Bitte Ihr Logo als PNG oder SVG "
        "hochladen.",
        "logo_too_small": "Das Logo hat {width} × {height} px. Bitte eines mit mindestens {min} "
        "px Breite oder Höhe hochladen (oder ein SVG), damit es auf dem Handy scharf bleibt.",
        "logo_too_many_pixels": "Das Logo hat zu viele Pixel. Höchstens 4096 × 4096 px.",
        "logo_too_narrow": "Das Logo ist {width} × {height} px groß: höchstens {most}-mal so "
        "breit wie hoch (oder umgekehrt), sonst wird es ein dünner Strich.",
        "logo_empty": "Das Logo ist ganz durchsichtig – es wäre nichts zu sehen.",
        "logo_svg_unsafe": "Dieses SVG lädt andere Dateien oder Adressen nach oder deklariert "
        "Entitäten. Bitte als einfaches SVG speichern (Schrift in Pfade umgewandelt, Bilder "
        "eingebettet) oder ein PNG hochladen.",
        "logo_svg_unavailable": "SVG-Logos gehen auf diesem Server nicht. Bitte ein PNG hochladen.",
        "settings_saved_refreshed": "Regeln gespeichert. Karten in Wallets, die aktualisiert "
        "werden: {n}.",
        # the staff page's answer to a stamp: what was given, and why
        "stamped_with": "+{n} gestempelt ({parts})",
        "given_promotion": "{n} Aktion ×{multiplier}",
        "given_bonus": "{n} Bonus",
        # the dashboard's stamp figures: bonus stamps counted apart
        "stamps_bonus": "davon {n} Bonusstempel",
        "chart_stamps": "Stempel",
        "chart_bonus": "Bonusstempel",
        "chart_day": "{date}: Stempel {stamps}, Bonus {bonus}",
        # the main reward, removing a location (passes/web/program_form.py)
        "goal_heading": "Hauptprämie",
        "stamps_required": "Stempel für die Hauptprämie",
        "main_reward": "Hauptprämie (z. B. „1 Kaffee gratis“)",
        "goal_hint": "Laufende Karten behalten ihre Stempel. Wer die neue Zahl schon erreicht "
        "hat, bekommt die Prämie sofort; übrige Stempel zählen weiter. Fällige Prämien bleiben "
        "fällig und heißen wie die neue Hauptprämie.",
        "reward_invalid": "Die Prämie braucht 1 bis 200 Zeichen.",
        "goal_below_tiers": "Die Zwischenprämien müssen unter der Stempelzahl der Hauptprämie "
        "liegen: bitte auch sie ändern oder entfernen.",
        "remove_location": "Entfernen",
        "remove_location_named": "Standort {address} entfernen",
        "location_removed": "Standort entfernt. Karten verlieren ihn beim nächsten Update.",
        "locations_changed": "Die Standorte haben sich inzwischen geändert. Bitte die Seite neu "
        "laden und noch einmal versuchen.",
        # the root page (passes/web/home.py)
        "home_title": "Digitale Stempelkarten",
        "home_intro": "Dieser Server gibt Stempelkarten für Apple Wallet und Google Wallet aus. "
        "Ohne App und ohne Konto.",
        "home_customers_heading": "Sie möchten eine Karte?",
        "home_customers": "Scannen Sie den QR-Code an der Theke Ihres Geschäfts: er führt zur "
        "Karte. Ihre Karte öffnen Sie danach in der Wallet oder über den Link, den Sie bekommen "
        "haben.",
        "home_shops_heading": "Sie führen ein Geschäft?",
        "home_shops": "Das Stempeln finden Sie unter /staff/…, die Übersicht unter "
        "/dashboard/…, jeweils mit dem Kürzel Ihres Geschäfts. Wer den Server betreibt, sieht alle "
        "Links mit „passes shop list“.",
        "home_list_heading": "Geschäfte",
    },
    "en": {
        "offer": "{stamps} stamps = {reward}",
        "join_how": "One stamp with every purchase. The card lives in your phone's wallet – "
        "no app, no sign-up.",
        "badge_add_to": "Add to",
        "badge_apple": "Add to Apple Wallet",
        "badge_google": "Add to Google Wallet",
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
        # Sign-in locks (passes/lockout.py): what happened, how long, what to do.
        "pin_locked": "Too many wrong PINs from this device or network: sign-in here is locked "
        "for {minutes} minutes. Please wait that long, or the owner sets a new PIN (on the "
        "dashboard or with “passes shop pin --shop {slug}”), which lifts the lock. Devices that "
        "signed in here before are not locked.",
        "pins_slowed": "Many wrong PINs were just tried at this shop, so new devices wait a "
        "little: please try again in {seconds} seconds. Devices that signed in here before can "
        "sign in now; a new PIN (on the dashboard or with “passes shop pin --shop {slug}”) "
        "lifts every lock.",
        "too_many_keys": "Too many wrong keys from this network: please wait {seconds} seconds "
        "and try again. Lost the key? “passes shop key --shop {slug}” makes a new one (the old "
        "one stops working).",
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
        # referral
        "share_heading": "Recommend us",
        "share_text": "Whoever gets a card through your link receives {bonus} bonus stamps at "
        "their first stamp – and so do you.",
        "share_link": "Your referral link",
        "share_button": "Share",
        "copy_button": "Copy link",
        "copied": "Link copied.",
        "copy_failed": "Copying did not work – please select the link above and copy it.",
        "share_message": "The stamp card of {shop}: {offer}",
        "join_referred": "You were recommended: at your first stamp, you and the person who "
        "recommended you each get {bonus} bonus stamps.",
        # feedback
        "feedback_title": "How was it?",
        "feedback_question": "How happy are you with {shop}?",
        "feedback_link": "How was your reward? Tell us",
        "star_n": "{n} of 5 stars",
        "feedback_words": "Anything else you would like to tell us? (optional, at most 500 "
        "characters)",
        "feedback_send": "Send",
        "feedback_anonymous": "Your answer stays anonymous.",
        "feedback_thanks": "Thank you for your feedback!",
        "feedback_done": "Thank you – we already have your answer for this reward.",
        "feedback_not_yet": "You can tell us what you think here after your first redeemed reward.",
        "feedback_stars_missing": "Please choose 1 to 5 stars.",
        "feedback_too_long": "At most 500 characters, please.",
        "back_to_card": "Back to my card",
        "feedback_heading": "Customer feedback",
        "feedback_average": "Average stars",
        "feedback_count": "Answers",
        "feedback_latest": "Latest comments",
        "feedback_none": "No answers yet. After each redeemed reward the card shows a link to "
        "the question.",
        # campaigns
        "campaign_heading": "Message to customers",
        "segment": "To whom?",
        "segment_all": "All cards",
        "segment_new": "New cards (less than 30 days old)",
        "segment_lapsed": "Lapsed (no visit for 45 days)",
        "segment_top": "Top customers (most visits)",
        "segment_reward_due": "Reward due",
        "segment_apple": "Cards in Apple Wallet",
        "segment_google": "Cards in Google Wallet",
        "campaign_text": "Message (at most 200 characters)",
        "campaign_hint": "Shows on the lock screen. At most {per_week} messages per card and "
        "week; {holdout} % of the group get nothing, for comparison.",
        "preview": "Preview",
        "send": "Send",
        "preview_recipients": "Receive the message",
        "preview_held_out": "Held out (get nothing)",
        "preview_over_limit": "Weekly limit reached",
        "preview_google_notified": "Android (Google Wallet): notified",
        "preview_google_silent": "Android: updated silently (Google's limit of 3 "
        "notifications a day reached)",
        "campaign_sent": "The message goes to {recipients} cards ({held_out} held out for "
        "comparison).",
        "n_messages": "{n} messages",
        "n_messages_one": "1 message",
        "nobody_empty": "0 cards: no card is in the group “{segment}”.",
        "nobody_at_limit": "0 cards: {members} in the group “{segment}”, all {members} reached "
        "the weekly limit of {limit}.",
        "nobody_at_limit_one": "0 cards: the one card in the group “{segment}” reached the "
        "weekly limit of {limit}.",
        "nobody_mixed": "0 cards: {members} in the group “{segment}”, {over} at the weekly limit "
        "of {limit}, {held} held out for comparison.",
        "nobody_limit_hint": "The limit counts the last 7 days, so it works again later – or "
        "raise the messages per card and week under “Rules”.",
        "nobody_confirm": "Send anyway, though it reaches nobody",
        "nobody_confirm_needed": "This message reaches nobody. Tick “Send anyway” if you want to "
        "send it all the same.",
        "campaign_invalid_text": "The message needs 1 to 200 characters.",
        "campaign_invalid_segment": "Please choose a group from the list.",
        "campaign_history": "Past messages",
        "campaign_none": "No messages yet.",
        "col_date": "Date",
        "col_segment": "Group",
        "col_text": "Message",
        "col_recipients": "Recipients",
        "col_held_out": "Held out",
        "col_delivered": "Delivered",
        "col_failed": "Failed",
        "col_removed": "Devices removed",
        # program settings and locations
        "settings_heading": "Rules",
        "daily_cap": "Max. stamps per card per day (empty = no limit)",
        "messages_per_week": "Messages per card per week",
        "holdout_percent": "Hold-out group in percent",
        "welcome_stamps": "Welcome stamps for new cards",
        "settings_saved": "Rules saved.",
        "settings_range": "{field}: please a whole number from {low} to {high}.",
        "stamp_expiry_days": "Stamps expire after this many days without a visit (empty = never)",
        "reward_expiry_days": "Rewards expire this many days after they fall due (empty = never)",
        "tiers_heading": "Reward tiers",
        "tiers_hint": "Small rewards on the way, e.g. “1 Cookie” at 5 stamps. "
        "The main reward stays at {stamps} stamps: {reward}.",
        "tier_at": "Tier {n}: stamp count",
        "tier_reward": "Tier {n}: reward",
        "tiers_invalid": "Reward tiers: each a stamp count from 1 to {high} with its reward, "
        "each count once, at most {most}.",
        "rewards_list": "Rewards",
        "stamps_expire_on": "Stamps expire on {date} unless you visit before.",
        "reward_expires_on": "Reward valid until {date}.",
        "redeem_tier": "Redeem: {reward}",
        "locations_heading": "Locations",
        "locations_hint": "Up to 10 places. Near them the iPhone shows the card on the lock "
        "screen.",
        "locations_none": "No locations yet.",
        "address": "Address",
        "latitude": "Latitude (e.g. 52.5200)",
        "longitude": "Longitude (e.g. 13.4050)",
        "add_location": "Add location",
        "location_added": "Location added. Cards show it with their next update.",
        "location_invalid": "Please give an address (up to 200 characters) and coordinates: "
        "latitude −90 to 90, longitude −180 to 180.",
        "too_many_locations": "Wallet shows no more than 10 locations.",
        # promotions and long-standing customers
        "promotion": "Promotion: stamps count more",
        "promotion_none": "No promotion, just the message",
        "promotion_multiplier": "How often does a stamp count?",
        "promotion_times": "Every stamp counts {n} times",
        "promotion_from": "From (empty = now)",
        "promotion_until": "Until",
        "promotion_hint": "For the message's recipients, at most 14 days, starting within 30 "
        "days. Times in the server's time zone ({zone}).",
        "promotion_invalid": "The promotion needs an end after its start, at most 14 days long, "
        "starting within 30 days.",
        "col_promotion": "Promotion",
        "loyal_heading": "Regulars",
        "loyal_after_cards": "A regular after this many full cards (0 = not by cards)",
        "loyal_after_months": "… or after this many months since joining (0 = not by months)",
        "loyal_bonus_stamps": "One-time bonus stamps for it",
        "loyal_perk": 'Standing perk shown on the card (e.g. "Always 10 % off cake")',
        "loyal_hint": "Whichever comes first. Checked at the card's next stamp; the bonus comes "
        "once per card.",
        "loyal_perk_invalid": "The perk may have at most 100 characters.",
        "look_heading": "How the card looks",
        "shop_name": "Shop name",
        "background_color": "Background",
        "foreground_color": "Text",
        "label_color": "Labels",
        "stamp_color": "Stamps",
        "shop_name_invalid": "The name needs 1 to 200 printable characters.",
        "colour_invalid": "{field}: please give a colour like #3B2A20.",
        "refresh_hint": "Name, colours, rewards, expiry and locations are on every card. A "
        "change updates every card in a wallet (now {n}), without a notification on the phone.",
        "design_heading": "Card design",
        "design_hint": "Your card's logo, colours and stamps. The preview shows your choice at "
        "once; it is saved and sent to every card in a wallet only when you press “Save”.",
        "logo_file": "Logo (PNG or SVG)",
        "logo_hint": "At least 300 px wide or tall, at most 2 MB, best with a transparent "
        "background. It is scaled for Apple Wallet (logo and icon) and Google Wallet "
        "(660 × 660 px).",
        "logo_current_own": "Now: your own logo.",
        "logo_current_default": "Now: the default logo.",
        "logo_remove": "Go back to the default logo",
        "colours_heading": "Colours",
        "stamp_symbol": "Stamp symbol",
        "symbol_check": "Tick",
        "symbol_cup": "Cup",
        "symbol_star": "Star",
        "symbol_heart": "Heart",
        "symbol_paw": "Paw",
        "symbol_dot": "Dot",
        "design_preview": "Preview",
        "preview_apple": "Apple Wallet – front",
        "preview_google": "Google Wallet – card",
        "preview_note": "A card with {n} stamps, as it looks with your choices.",
        "strip_alt": "Stamp strip with {n} stamps",
        "design_saved": "Card design saved.",
        "design_saved_refreshed": "Card design saved. Cards in wallets being updated: {n}.",
        "contrast_low": "{field} on the background: contrast {ratio}:1, at least {needed}:1 is "
        "needed to be readable. Choose a lighter or darker colour.",
        "contrast_ok": "Contrast is fine: text {text}:1, labels {label}:1, stamps {stamp}:1.",
        "symbol_invalid": "Please choose one of the stamp symbols.",
        "logo_too_big": "The file is larger than {mb} MB. Please upload a smaller picture.",
        "logo_not_image": "That is not a PNG or SVG picture. Please upload your logo as PNG or "
        "SVG.",
        "logo_too_small": "The logo is {width} × {height} px. Please upload one at least {min} px "
        "wide or tall (or an SVG), so it stays sharp on phones.",
        "logo_too_many_pixels": "The logo has too many pixels. At most 4096 × 4096 px.",
        "logo_too_narrow": "The logo is {width} × {height} px: at most {most} times wider than "
        "tall (or taller than wide), or it becomes a thin line.",
        "logo_empty": "The logo is fully transparent – nothing would show.",
        "logo_svg_unsafe": "This SVG loads other files or addresses, or declares entities. Please "
        "save it as plain SVG (text turned into paths, pictures embedded) or upload a PNG.",
        "logo_svg_unavailable": "SVG logos do not work on this server. Please upload a PNG.",
        "settings_saved_refreshed": "Rules saved. Cards in wallets being updated: {n}.",
        "stamped_with": "+{n} stamped ({parts})",
        "given_promotion": "{n} promotion ×{multiplier}",
        "given_bonus": "{n} bonus",
        "stamps_bonus": "of which {n} bonus stamps",
        "chart_stamps": "Stamps",
        "chart_bonus": "Bonus stamps",
        "chart_day": "{date}: stamps {stamps}, bonus {bonus}",
        # the main reward, removing a location (passes/web/program_form.py)
        "goal_heading": "Main reward",
        "stamps_required": "Stamps for the main reward",
        "main_reward": 'Main reward (e.g. "1 free coffee")',
        "goal_hint": "Cards in progress keep their stamps. Cards that already have the new "
        "number get the reward at once; extra stamps carry over. Rewards already due stay due "
        "and read as the new main reward.",
        "reward_invalid": "The reward needs 1 to 200 characters.",
        "goal_below_tiers": "The intermediate rewards must lie below the main reward's stamps: "
        "please change or remove them too.",
        "remove_location": "Remove",
        "remove_location_named": "Remove location {address}",
        "location_removed": "Location removed. Cards drop it with their next update.",
        "locations_changed": "The locations have changed in the meantime. Please reload the "
        "page and try again.",
        # the root page (passes/web/home.py)
        "home_title": "Digital stamp cards",
        "home_intro": "This server issues stamp cards for Apple Wallet and Google Wallet. "
        "No app, no account.",
        "home_customers_heading": "Looking for a card?",
        "home_customers": "Scan the QR code at your shop's counter: it leads to the card. "
        "Afterwards open your card in your wallet or with the link you were given.",
        "home_shops_heading": "Running a shop?",
        "home_shops": "Stamping is at /staff/…, the overview at /dashboard/…, each with your "
        "shop's short name. Whoever runs this server sees every link with `passes shop list`.",
        "home_list_heading": "Shops",
    },
}


# Singular forms of texts that carry a count: `counted` picks them for 1, and the text
# itself (the plural) for any other number. Texts that read right for every number have none.
SINGULAR_TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "wrong_pin": "Falsche PIN. Noch 1 Versuch, dann ist die Anmeldung 15 Minuten gesperrt.",
        "pin_locked": "Zu viele falsche PINs von diesem Gerät oder Netz: Die Anmeldung ist "
        "hier für 1 Minute gesperrt. Bitte so lange warten – oder die Inhaberin setzt eine neue "
        "PIN (im Dashboard oder mit „passes shop pin --shop {slug}“), das hebt die Sperre auf. "
        "Geräte, die hier schon angemeldet waren, sind nicht gesperrt.",
        "pins_slowed": "Gerade wurden bei diesem Laden viele falsche PINs versucht, deshalb "
        "warten neue Geräte kurz: Bitte in 1 Sekunde noch einmal versuchen. Geräte, die hier "
        "schon angemeldet waren, können sich sofort anmelden; eine neue PIN (im Dashboard oder "
        "mit „passes shop pin --shop {slug}“) hebt jede Sperre auf.",
        "page_stamps": "{stamps} von {required} Stempel",
        "campaign_sent": "Die Nachricht geht an {recipients} Karte ({held_out} zum Vergleich "
        "zurückgehalten).",
        "campaign_hint": "Erscheint auf dem Sperrbildschirm. Höchstens {per_week} Nachricht pro "
        "Karte und Woche; {holdout} % der Gruppe bekommen zum Vergleich nichts.",
        "tiers_hint": "Kleine Prämien auf dem Weg, z. B. bei 5 Stempeln „1 Cookie“. "
        "Die Hauptprämie bleibt bei {stamps} Stempel: {reward}.",
    },
    "en": {
        "wrong_pin": "Wrong PIN. 1 try left, then sign-in is locked for 15 minutes.",
        "pin_locked": "Too many wrong PINs from this device or network: sign-in here is "
        "locked for 1 minute. Please wait that long, or the owner sets a new PIN (on the "
        "dashboard or with “passes shop pin --shop {slug}”), which lifts the lock. Devices that "
        "signed in here before are not locked.",
        "pins_slowed": "Many wrong PINs were just tried at this shop, so new devices wait a "
        "little: please try again in 1 second. Devices that signed in here before can sign in "
        "now; a new PIN (on the dashboard or with “passes shop pin --shop {slug}”) lifts every "
        "lock.",
        "offer": "{stamps} stamp = {reward}",
        "page_stamps": "{stamps} of {required} stamp",
        "page_to_go": "{missing} more stamp to: {reward}",
        "share_text": "Whoever gets a card through your link receives {bonus} bonus stamp at "
        "their first stamp – and so do you.",
        "join_referred": "You were recommended: at your first stamp, you and the person who "
        "recommended you each get {bonus} bonus stamp.",
        "campaign_sent": "The message goes to {recipients} card ({held_out} held out for "
        "comparison).",
        "campaign_hint": "Shows on the lock screen. At most {per_week} message per card and "
        "week; {holdout} % of the group get nothing, for comparison.",
        "tiers_hint": "Small rewards on the way, e.g. “1 Cookie” at 5 stamps. "
        "The main reward stays at {stamps} stamp: {reward}.",
        "stamps_bonus": "of which {n} bonus stamp",
    },
}


def counted(key: str, count: int, language: str = DEFAULT_LANGUAGE) -> str:
    """The text for `key` in the grammatical number of `count` (German and English both
    use the singular for exactly 1 and the plural otherwise, 0 included)."""
    if count == 1:
        singular = SINGULAR_TEXTS.get(language, SINGULAR_TEXTS[DEFAULT_LANGUAGE]).get(key)
        if singular:
            return singular
    return text(key, language)


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


def local_date(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """A date as people write it: 27.02.2027 in German, 27 Feb 2027 in English (UTC)."""
    day = moment.astimezone(UTC)
    if language == "de":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{day.day} {months[day.month - 1]} {day.year}"


def local_day(day: date, language: str = DEFAULT_LANGUAGE) -> str:
    """A day without its year, for chart axes: 27.02. in German, 27 Feb in English."""
    if language == "de":
        return f"{day.day:02d}.{day.month:02d}."
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{day.day} {months[day.month - 1]}"
