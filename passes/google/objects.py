"""Google Wallet loyalty classes (one per program) and objects (one per card), as plain dicts.

Pure: no I/O. The dicts follow the walletobjects v1 LoyaltyClass/LoyaltyObject schemas.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from passes.card_facts import RewardSummary
from passes.render import parse_hex_colour
from passes.texts import DEFAULT_LANGUAGE, LANGUAGES, local_date, text, to_go_key

REWARD_DUE_MARK = "🎁"
ONE_HOLDER = "ONE_USER_ALL_DEVICES"
MAX_SUFFIX = 64
_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class GoogleProgramContent:
    """What a shop's loyalty class shows; image URLs must be public https."""

    shop_slug: str
    shop_name: str
    stamps_required: int
    reward: str
    background_color: str
    logo_url: str
    callback_url: str | None = None
    # The shop's places (latitude, longitude), as the class's merchantLocations (up to 10).
    locations: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class GoogleCardContent:
    """What one card's loyalty object shows."""

    serial: str
    shop_slug: str
    shop_name: str
    stamps: int
    stamps_required: int
    rewards_available: int
    reward: str
    background_color: str
    card_url: str
    strip_image_url: str
    logo_url: str
    voided: bool = False
    # A long-standing customer's standing perk, shown as a text module.
    perk: str | None = None
    # As on the Apple pass: tiers, due rewards, the next one, expiry dates.
    rewards: RewardSummary = field(default_factory=RewardSummary)


def resource_id(issuer_id: str, name: str) -> str:
    """`{issuerId}.{suffix}` with only the characters Google allows, the same for the same name."""
    if _ALLOWED.fullmatch(name) and len(name) <= MAX_SUFFIX:
        return f"{issuer_id}.{name}"
    # Folding alone could map two names to one id; the hash of the original keeps them apart.
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    readable = _NOT_ALLOWED.sub("_", folded).strip("_")[: MAX_SUFFIX - 17]
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{issuer_id}.{readable}-{digest}" if readable else f"{issuer_id}.{digest}"


def class_id(issuer_id: str, shop_slug: str) -> str:
    """The loyalty class id of a shop's program."""
    return resource_id(issuer_id, shop_slug)


def object_id(issuer_id: str, serial: str) -> str:
    """The loyalty object id of a card."""
    return resource_id(issuer_id, serial)


def loyalty_class(issuer_id: str, program: GoogleProgramContent) -> dict[str, Any]:
    """The LoyaltyClass for a shop's program."""
    result: dict[str, Any] = {
        "id": class_id(issuer_id, program.shop_slug),
        "issuerName": program.shop_name,
        "programName": text("description"),
        "localizedProgramName": localized("description"),
        "programLogo": image(program.logo_url, localized_value(program.shop_name)),
        "hexBackgroundColor": hex_colour(program.background_color),
        "reviewStatus": "UNDER_REVIEW",
        # One card, one holder: a shared save link must not put the card into a second
        # person's wallet (they would see each other's stamps); all the holder's devices are fine.
        "multipleDevicesAndHoldersAllowedStatus": ONE_HOLDER,
        "textModulesData": [_terms_module(program), _text_module("how", "how_label", "how_text")],
    }
    if program.callback_url is not None:
        result["callbackOptions"] = {"url": program.callback_url}
    if program.locations:
        result["merchantLocations"] = merchant_locations(program.locations)
    return result


MAX_MERCHANT_LOCATIONS = 10


def merchant_locations(places: tuple[tuple[float, float], ...]) -> list[dict[str, float]]:
    """Google's MerchantLocation list (at most 10 a class). It replaces the deprecated
    `locations` (LatLongPoint), which Google says no longer triggers anything."""
    return [{"latitude": lat, "longitude": lon} for lat, lon in places[:MAX_MERCHANT_LOCATIONS]]


def loyalty_object(issuer_id: str, card: GoogleCardContent) -> dict[str, Any]:
    """The LoyaltyObject for a card: stamps as points, strip as hero image, QR with the serial."""
    balance = f"{card.stamps} / {card.stamps_required}"
    return {
        "id": object_id(issuer_id, card.serial),
        "classId": class_id(issuer_id, card.shop_slug),
        "state": "INACTIVE" if card.voided else "ACTIVE",
        "loyaltyPoints": {
            "label": text("stamps_label"),
            "localizedLabel": localized("stamps_label"),
            "balance": {"string": balance},
        },
        # Google notifies on a change of the points it watches, not of a text module: the
        # rewards due are points too, so the stamp that makes one due notifies as well.
        "secondaryLoyaltyPoints": {
            "label": text("rewards_due_label"),
            "localizedLabel": localized("rewards_due_label"),
            "balance": {"int": card.rewards_available},
        },
        "heroImage": image(card.strip_image_url, _stamps_description(balance)),
        "barcode": {"type": "QR_CODE", "value": card.serial, "alternateText": card.serial},
        "textModulesData": _card_modules(card),
        "linksModuleData": {"uris": [_card_link(card.card_url)]},
    }


def _stamps_description(balance: str) -> dict[str, str]:
    return {lang: f"{balance} {text('stamps_label', lang)}" for lang in LANGUAGES}


def _card_modules(card: GoogleCardContent) -> list[dict[str, Any]]:
    modules = [_reward_module(card), *_rule_modules(card)]
    if card.voided:
        modules.insert(0, _text_module("status", "voided_label", "voided_label"))
    if card.perk:
        modules.append(_module("perk", "perk_label", localized_value(card.perk)))
    return modules


def _reward_module(card: GoogleCardContent) -> dict[str, Any]:
    due = card.rewards_available
    if due == 0:
        upcoming = card.rewards.next
        if card.rewards.tiers and upcoming is not None:
            return _module("reward", to_go_key(upcoming[0]), localized_value(upcoming[1]))
        return _module("reward", "next_reward_label", localized_value(card.reward))
    label = "rewards_due_label" if due > 1 else "reward_due_label"
    listed = card.rewards.due_text(card.reward, due)
    return _module("reward", label, localized_value(f"{REWARD_DUE_MARK} {listed}"))


def _rule_modules(card: GoogleCardContent) -> list[dict[str, Any]]:
    """The same as the Apple pass's back: what is next, every reward, expiry dates."""
    modules = []
    rewards = card.rewards
    if rewards.next is not None and rewards.shows_next(card.rewards_available):
        missing, reward = rewards.next
        modules.append(_module("next", to_go_key(missing), localized_value(reward)))
    if rewards.tiers:
        modules.append(_module("rewards", "rewards_label", localized_value(rewards.tiers_text())))
    for key, moment in (
        ("stamps_expire", rewards.stamps_expire_on),
        ("reward_expires", rewards.reward_expires_on),
    ):
        if moment is not None:
            body = {lang: local_date(moment, lang) for lang in LANGUAGES}
            modules.append(_module(key, f"{key}_label", body))
    return modules


def _terms_module(program: GoogleProgramContent) -> dict[str, Any]:
    body = {
        lang: f"{program.stamps_required} {text('stamps_label', lang)}: {program.reward}"
        for lang in LANGUAGES
    }
    return _module("terms", "reward_label", body)


def _text_module(module_id: str, header_key: str, body_key: str) -> dict[str, Any]:
    return _module(module_id, header_key, {lang: text(body_key, lang) for lang in LANGUAGES})


def _module(module_id: str, header_key: str, body: dict[str, str]) -> dict[str, Any]:
    return {
        "id": module_id,
        "header": text(header_key),
        "localizedHeader": localized(header_key),
        "body": body[DEFAULT_LANGUAGE],
        "localizedBody": _localized(body),
    }


def _card_link(url: str) -> dict[str, Any]:
    return {
        "id": "card",
        "uri": url,
        "description": text("card_link_label"),
        "localizedDescription": localized("card_link_label"),
    }


def image(url: str, description: dict[str, str]) -> dict[str, Any]:
    """An Image whose source Google fetches from `url`, described per language."""
    return {"sourceUri": {"uri": url}, "contentDescription": _localized(description)}


def localized(key: str) -> dict[str, Any]:
    """A LocalizedString of a text key: German by default, English translated."""
    return _localized({lang: text(key, lang) for lang in LANGUAGES})


def localized_value(value: str) -> dict[str, str]:
    """The same value in every language (shop-written texts are not translated)."""
    return dict.fromkeys(LANGUAGES, value)


def _localized(values: dict[str, str]) -> dict[str, Any]:
    others = [
        {"language": lang, "value": values[lang]} for lang in LANGUAGES if lang != DEFAULT_LANGUAGE
    ]
    return {
        "defaultValue": {"language": DEFAULT_LANGUAGE, "value": values[DEFAULT_LANGUAGE]},
        "translatedValues": others,
    }


def hex_colour(value: str) -> str:
    """ "#RGB" or "#RRGGBB" as Google's "#rrggbb"."""
    red, green, blue = parse_hex_colour(value)
    return f"#{red:02x}{green:02x}{blue:02x}"
