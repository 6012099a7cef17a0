"""Build signed .pkpass files (storeCard stamp cards) from plain card content."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson
from py_pkpass.models import Barcode, BarcodeFormat, DateField, DateStyle, Field, Pass, StoreCard

from passes.apple.identity import SigningIdentity
from passes.apple.signing import ManifestSigner
from passes.card_facts import RewardSummary
from passes.errors import ConfigError
from passes.notices import Notice
from passes.texts import LANGUAGES, pass_texts, to_go_key

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RELEVANT_KEY = "relevant_text"
MIN_TOKEN_LENGTH = 16
REWARD_DUE_MARK = "🎁"
_IMAGE_CACHE_SIZE = 512
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHI")  # the 4-byte offset follows per archive
_END = struct.Struct("<IHHHHIIH")
_DOS_DATE = 0x21  # 1980-01-01: fixed, so equal content gives an equal archive
_UTF8_NAMES = 0x0800


@dataclass(frozen=True)
class PassContent:
    """What one card's pass shows; images are PNG bytes keyed by file name."""

    serial: str
    authentication_token: str
    organization_name: str
    stamps: int
    stamps_required: int
    rewards_available: int
    total_stamps: int
    reward: str
    background_color: str
    foreground_color: str
    label_color: str
    web_service_url: str | None
    card_url: str
    images: Mapping[str, bytes]
    voided: bool = False
    news: str | None = None
    # Where the pass surfaces on the lock screen: (latitude, longitude), with one text.
    locations: tuple[tuple[float, float], ...] = ()
    # The lock-screen text near those places, per language (pass.strings key RELEVANT_KEY).
    relevant_text: Mapping[str, str] | None = None
    # After a redemption: the one-question feedback page.
    feedback_url: str | None = None
    # A long-standing customer's standing perk ("Immer 10 % auf Kuchen").
    perk: str | None = None
    # Tiers, due rewards, the next one, expiry dates.
    rewards: RewardSummary = field(default_factory=RewardSummary)
    # The latest notice (passes/notices.py) and whether this update announces it: the one
    # field with a change message, so the lock screen shows our text and never a generic one.
    notice: Notice | None = None
    announce: bool = False


class _Member(NamedTuple):
    """One file of the archive with its checksum and zip records encoded once (a tuple:
    three are made per pass, and a frozen dataclass takes longer to build)."""

    name: str
    local_record: bytes  # local header and data: where it starts is only in the directory
    central_header: bytes  # up to, not including, the local header offset
    encoded_name: bytes
    sha1: str = ""  # for the manifest; the manifest itself and the signature have none


def _member(name: str, data: bytes, *, listed: bool = True) -> _Member:
    """A file of the archive; `listed` ones get the SHA-1 the manifest lists."""
    encoded, size, crc = name.encode(), len(data), zlib.crc32(data)
    head = (_UTF8_NAMES, 0, 0, _DOS_DATE, crc, size, size, len(encoded))
    return _Member(
        name=name,
        local_record=b"".join((_LOCAL.pack(0x04034B50, 20, *head, 0), encoded, data)),
        central_header=_CENTRAL.pack(0x02014B50, 20, 20, *head, 0, 0, 0, 0, 0),
        encoded_name=encoded,
        sha1=hashlib.sha1(data).hexdigest() if listed else "",  # noqa: S324 - Apple's format
    )


class PassBuilder:
    """Builds signed passes for one identity; reuse it, it caches what does not change."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._identity = identity
        self._signer = ManifestSigner(identity)
        self._strings_text = {lang: strings_file(lang) for lang in LANGUAGES}
        self._strings = [
            _member(f"{lang}.lproj/pass.strings", self._strings_text[lang]) for lang in LANGUAGES
        ]
        self._images: dict[tuple[str, bytes], _Member] = {}

    def build(self, content: PassContent) -> bytes:
        """The signed .pkpass archive (zip bytes) for `content`."""
        check_content(content)
        pass_json = _member("pass.json", render_pass_json(content, self._identity))
        members = [pass_json, *self._strings_of(content), *self._image_members(content.images)]
        manifest = _manifest(members)
        signature = self._signer.sign(manifest)
        return zip_stored(
            [
                *members,
                _member("manifest.json", manifest, listed=False),
                _member("signature", signature, listed=False),
            ]
        )

    def _strings_of(self, content: PassContent) -> list[_Member]:
        """The pass.strings files: the shared texts, plus this pass's own lock-screen text."""
        own = content.relevant_text
        if not own:
            return self._strings
        return [
            _member(
                f"{lang}.lproj/pass.strings",
                self._strings_text[lang] + _strings_line(RELEVANT_KEY, own[lang]),
            )
            for lang in LANGUAGES
        ]

    def _image_members(self, images: Mapping[str, bytes]) -> list[_Member]:
        return [self._image(name, images[name]) for name in sorted(images)]

    def _image(self, name: str, data: bytes) -> _Member:
        # Callers hand in the same cached PNG objects; hashing them per pass would dominate.
        key = (name, data)
        found = self._images.get(key)
        if found is None:
            if len(self._images) >= _IMAGE_CACHE_SIZE:
                del self._images[next(iter(self._images))]
            found = self._images[key] = _member(name, data)
        return found


def check_content(content: PassContent) -> None:
    """Refuse a non-https webServiceURL (loopback excepted), short tokens, odd serials."""
    content.serial.encode("iso-8859-1")  # the barcode's declared encoding must hold it
    url = content.web_service_url
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        raise ConfigError(
            f"webServiceURL {url!r} must use https (plain http only for loopback) "
            "— set PASSES_BASE_URL to the server's public https URL"
        )
    if len(content.authentication_token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"authenticationToken must have at least {MIN_TOKEN_LENGTH} characters")


def render_pass_json(content: PassContent, identity: SigningIdentity) -> bytes:
    """pass.json bytes: py-pkpass's model, deterministic and compact.

    The model leaves out optional keys it was not given, except on fields: _field drops
    those, so no key has an empty string (Wallet refuses some, e.g. an empty label).
    """
    return orjson.dumps(pass_model(content, identity).json_dict(), default=_json_dict)


def pass_model(content: PassContent, identity: SigningIdentity) -> Any:
    """The py-pkpass `Pass` for `content` (changeMessage, localized keys, QR barcode)."""
    card = StoreCard()
    card.secondaryFields = [_stamps_field(content), _reward_field(content)]
    if content.voided:
        card.auxiliaryFields = [_field("status", "voided_label")]
    if content.perk:
        card.auxiliaryFields = [*card.auxiliaryFields, _perk_field(content.perk)]
    card.backFields = _back_fields(content)
    model = Pass(card, passTypeIdentifier=identity.pass_type_id, teamIdentifier=identity.team_id)
    model.organizationName = content.organization_name
    model.serialNumber = content.serial
    model.description = "description"
    model.logoText = content.organization_name
    model.backgroundColor = content.background_color
    model.foregroundColor = content.foreground_color
    model.labelColor = content.label_color
    model.barcode = Barcode(content.serial, BarcodeFormat.QR, content.serial, "iso-8859-1")
    model.voided = content.voided
    # One pass, one phone: a copy AirDropped to a friend would become a second holder of the card.
    model.sharingProhibited = True
    if content.locations:
        model.locations = [
            {"latitude": lat, "longitude": lon}
            | ({"relevantText": RELEVANT_KEY} if content.relevant_text else {})
            for lat, lon in content.locations[:10]
        ]
    if content.web_service_url is not None:
        model.webServiceURL = content.web_service_url
        model.authenticationToken = content.authentication_token
    return model


def _stamps_field(content: PassContent) -> Any:
    # No change message here, nor on any field but the notice (see _notice_field).
    value = f"{content.stamps} / {content.stamps_required}"
    return _field("stamps", value, "stamps_label")


def _reward_field(content: PassContent) -> Any:
    due = content.rewards_available
    if due == 0:
        upcoming = content.rewards.next
        if content.rewards.tiers and upcoming is not None:
            return _field("reward", upcoming[1], to_go_key(upcoming[0]))
        return _field("reward", content.reward, "next_reward_label")
    label = "rewards_due_label" if due > 1 else "reward_due_label"
    listed = content.rewards.due_text(content.reward, due)
    return _field("reward", f"{REWARD_DUE_MARK} {listed}", label)


def _rule_fields(content: PassContent) -> list[Any]:
    """What is next, every reward of a tiered program, and when stamps or a reward expire."""
    fields = []
    rewards = content.rewards
    if rewards.next is not None and rewards.shows_next(content.rewards_available):
        missing, reward = rewards.next
        fields.append(_field("next", reward, to_go_key(missing)))
    if rewards.tiers:
        fields.append(_field("rewards", rewards.tiers_text(), "rewards_label"))
    for key, moment in (
        ("stamps_expire", rewards.stamps_expire_on),
        ("reward_expires", rewards.reward_expires_on),
    ):
        if moment is not None:
            fields.append(_date_field(key, moment, f"{key}_label"))
    return fields


def _date_field(key: str, moment: datetime, label: str) -> Any:
    """A date Wallet writes in the phone's language and time zone."""
    value = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    field = DateField(key, value, label, dateStyle=DateStyle.MEDIUM, timeStyle=DateStyle.NONE)
    return _without_empty_texts(field)


def _perk_field(perk: str) -> Any:
    return _field("perk", perk, "perk_label")


def _notice_field(content: PassContent) -> Any:
    """The latest notice, first on the back. Only while this update announces it does it carry
    its change message: a silent update (undo, redeem, expiry, refresh) keeps the value and
    drops the message, and the next notice changes the value, which is what Wallet announces.
    The field is there from the first pass on, so the first stamp has a value to change."""
    notice = content.notice
    if notice is None:
        return _field("notice", "notice_none", "notice_label")
    if not notice.announces:
        return _field("notice", notice.value, "notice_latest_label")
    change = f"notice_{notice.kind}_changed" if content.announce else ""
    return _field("notice", notice.value, f"notice_{notice.kind}_label", change=change)


def _back_fields(content: PassContent) -> list[Any]:
    # The shop's latest message, unless the notice shows it already.
    notice = content.notice
    repeated = notice is not None and notice.kind == "news" and notice.value == content.news
    news = [_field("news", content.news, "news_label")] if content.news and not repeated else []
    feedback = (
        [_field("feedback", content.feedback_url, "feedback_label")] if content.feedback_url else []
    )
    return [
        _notice_field(content),
        *news,
        *feedback,
        *_rule_fields(content),
        _field("how", "how_text", "how_label"),
        _field("total", content.total_stamps, "total_label"),
        _field("card", content.card_url, "card_link_label"),
        _field("privacy", "privacy_text", "privacy_label"),
    ]


def _field(key: str, value: object, label: str = "", change: str = "") -> Any:
    """A py-pkpass field, with a changeMessage when `change` is given."""
    field = Field(key, value, label)
    field.changeMessage = change
    return _without_empty_texts(field)


def _without_empty_texts(field: Any) -> Any:
    """Every field goes through here: py-pkpass starts them with an empty label and
    changeMessage, which must not reach pass.json."""
    for name in ("label", "changeMessage"):
        if getattr(field, name) == "":
            delattr(field, name)
    return field


def _json_dict(model: Any) -> Any:
    """What orjson cannot write itself: a py-pkpass object (the barcode), as its dict."""
    return model.json_dict()


def strings_file(language: str) -> bytes:
    """`<language>.lproj/pass.strings`: every text key mapped to its translation."""
    texts = pass_texts(language)
    return b"".join(_strings_line(key, texts[key]) for key in sorted(texts))


def _strings_line(key: str, value: str) -> bytes:
    return f'"{_escape(key)}" = "{_escape(value)}";\n'.encode()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def _manifest(members: Iterable[_Member]) -> bytes:
    return orjson.dumps({member.name: member.sha1 for member in members})


def zip_stored(members: list[_Member]) -> bytes:
    """A zip archive of `members`, stored uncompressed (PNGs do not shrink; JSON is tiny)."""
    central: list[bytes] = []
    offset = 0
    for member in members:
        central += (member.central_header, offset.to_bytes(4, "little"), member.encoded_name)
        offset += len(member.local_record)
    directory = b"".join(central)
    end = _END.pack(0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0)
    return b"".join([*(member.local_record for member in members), directory, end])
