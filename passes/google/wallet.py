"""Google Wallet for stored cards: content from shop and card, kept live through the REST API."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from passes.card_facts import CardFacts
from passes.config import Settings
from passes.google.client import GoogleWalletClient, Resource
from passes.google.config import GoogleAccount, load_google
from passes.google.errors import GoogleAuthError, GoogleRequestError
from passes.google.images import hero_path, program_logo_path
from passes.google.objects import (
    GoogleCardContent,
    GoogleProgramContent,
    class_id,
    loyalty_class,
    loyalty_object,
    object_id,
)
from passes.google.savelink import SaveLinkSigner
from passes.render import StripStyle
from passes.store.branches import Location
from passes.store.cards import CardRow
from passes.store.shops import ShopRow

CALLBACK_PATH = "/wallet/google/callback"
NOTIFY_ON_UPDATE = "NOTIFY_ON_UPDATE"
# A save link is signed once and reused for a while: signing costs about a millisecond.
LINK_SECONDS = 3600.0
LINKS_KEPT = 10_000


class GoogleWallet:
    """One per process: the REST client, the save-link signer and what was sent already."""

    def __init__(
        self,
        account: GoogleAccount,
        client: GoogleWalletClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.issuer_id = account.config.issuer_id
        self.base_url = account.config.base_url
        self.client = client
        self._signer = SaveLinkSigner(account, clock)
        self._clock = clock
        self._classes: dict[str, dict[str, Any]] = {}
        # One sender per class: after a program change the worker patches many objects of
        # one shop at once, and the changed class should go to Google once, not per object.
        self._class_locks: dict[str, asyncio.Lock] = {}
        self._links: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def aclose(self) -> None:
        """Close the REST client's connections."""
        await self.client.aclose()

    def object_id(self, card: CardRow) -> str:
        """The card's loyalty object id."""
        return object_id(self.issuer_id, card.serial)

    def program(self, shop: ShopRow, locations: Sequence[Location] = ()) -> GoogleProgramContent:
        """What the shop's loyalty class shows."""
        # Google only calls back to public https; a development server gets no callbacks.
        callback = self.base_url + CALLBACK_PATH if self.base_url.startswith("https://") else None
        return GoogleProgramContent(
            shop_slug=shop.slug,
            shop_name=shop.name,
            stamps_required=shop.program.stamps_required,
            reward=shop.program.reward,
            background_color=shop.program.background_color,
            logo_url=self.base_url + _logo_path(shop),
            callback_url=callback,
            locations=tuple((place.latitude, place.longitude) for place in locations),
        )

    def content(self, shop: ShopRow, card: CardRow, card_url: str) -> GoogleCardContent:
        """What the card's loyalty object shows now."""
        program = shop.program
        facts = CardFacts.of(program, card)
        style = StripStyle.of(program)
        return GoogleCardContent(
            serial=card.serial,
            shop_slug=shop.slug,
            shop_name=shop.name,
            stamps=facts.stamps,
            stamps_required=facts.stamps_required,
            rewards_available=facts.rewards_available,
            reward=facts.reward,
            background_color=program.background_color,
            card_url=card_url,
            strip_image_url=self.base_url + hero_path(style, facts.stamps),
            logo_url=self.base_url + _logo_path(shop),
            voided=facts.voided,
            perk=facts.perk,
            rewards=facts.rewards,
        )

    def save_url(self, card: CardRow) -> str:
        """The card's 'Add to Google Wallet' link (the object must be published first)."""
        key = self.object_id(card)
        now = self._clock()
        cached = self._links.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        url = self._signer.save_url([key])
        self._links[key] = (now + LINK_SECONDS, url)
        self._links.move_to_end(key)
        while len(self._links) > LINKS_KEPT:
            self._links.popitem(last=False)
        return url

    async def publish(
        self,
        shop: ShopRow,
        card: CardRow,
        card_url: str,
        locations: Sequence[Location] = (),
        *,
        notify: bool = False,
    ) -> Resource:
        """Make Google show the card as it is now: ensure the class, then patch or insert the
        object; returns the object as Google holds it. Silent unless `notify` (then Google
        notifies the holder if a field it watches, like the stamp count, changed).

        Every caller passes the shop's `locations`, or the class would flip between versions.
        """
        resource = loyalty_object(self.issuer_id, self.content(shop, card, card_url))
        if notify:
            resource["notifyPreference"] = NOTIFY_ON_UPDATE
        fresh = await self._ensure_class(shop, locations)
        try:
            return await self.client.upsert_object(resource)
        except GoogleRequestError as exc:
            if fresh or isinstance(exc, GoogleAuthError):
                raise
        # The class we remembered may be gone at Google: make it again, then retry once.
        self._classes.pop(class_id(self.issuer_id, shop.slug), None)
        await self._ensure_class(shop, locations)
        return await self.client.upsert_object(resource)

    async def add_message(
        self,
        shop: ShopRow,
        card: CardRow,
        message_id: str,
        body: str,
        *,
        notify: bool,
        shown: tuple[datetime, datetime] | None = None,
    ) -> bool:
        """Show a message on the card, TEXT_AND_NOTIFY if `notify` else TEXT; False when the
        pass has a message with this id already (a retry after a lost answer)."""
        try:
            await self.client.add_message(
                self.object_id(card), shop.name, body, message_id, notify=notify, shown=shown
            )
        except GoogleRequestError as exc:
            if exc.conflict:
                return False
            raise
        return True

    async def _ensure_class(self, shop: ShopRow, locations: Sequence[Location] = ()) -> bool:
        """Insert or patch the shop's class unless this process sent the same one (a changed
        program differs, so it is sent again); True if sent."""
        resource = loyalty_class(self.issuer_id, self.program(shop, locations))
        key = resource["id"]
        async with self._class_locks.setdefault(key, asyncio.Lock()):
            if self._classes.get(key) == resource:
                return False
            await self.client.ensure_class(resource)
            self._classes[key] = resource
            return True


def _logo_path(shop: ShopRow) -> str:
    """Google's program logo: the shop's own, on the card's colour."""
    return program_logo_path(shop.program.background_color, shop.program.logo_digest)


def open_google(settings: Settings) -> GoogleWallet | None:
    """Google Wallet as configured, or None when it is off; ConfigError for a broken key."""
    account = load_google(
        settings.google_issuer_id,
        settings.google_service_account,
        settings.google_api_url,
        settings.base_url,
    )
    if account is None:
        return None
    return GoogleWallet(account, GoogleWalletClient(account, ca_file=settings.ssl_cert_file))
