"""Apple Wallet passes for stored cards: content from the card, images from the artwork cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from passes.apple.identity import SigningIdentity
from passes.apple.pkpass import PassBuilder, PassContent
from passes.card_facts import CardFacts
from passes.render import Artwork, StripStyle, css_rgb
from passes.store.branches import Location
from passes.store.cards import CardRow
from passes.store.shops import ShopRow
from passes.texts import LANGUAGES, counted, text


class Logos(Protocol):
    """Where a shop's own logo is found by its digest (passes/design.py)."""

    async def image(self, digest: str | None) -> bytes | None:
        """The logo's PNG, or None for the default artwork."""


class AppleWallet:
    """Builds the signed .pkpass of a card; one per process (the identity is loaded once)."""

    def __init__(
        self,
        identity: SigningIdentity,
        artwork: Artwork,
        web_service_url: str | None,
        logos: Logos | None = None,
    ) -> None:
        self.identity = identity
        self.artwork = artwork
        self.web_service_url = web_service_url
        self.builder = PassBuilder(identity)
        self.logos = logos

    def content(
        self,
        shop: ShopRow,
        card: CardRow,
        card_url: str,
        locations: Sequence[Location] = (),
        logo: bytes | None = None,
    ) -> PassContent:
        """What the pass shows for this card now; `logo` is the shop's own (logo and icon)."""
        program = shop.program
        facts = CardFacts.of(program, card)
        style = StripStyle.of(program)
        images = {**self.artwork.brand(logo, logo), **self.artwork.strip(style, facts.stamps)}
        return PassContent(
            serial=card.serial,
            authentication_token=card.auth_token,
            organization_name=shop.name,
            stamps=facts.stamps,
            stamps_required=facts.stamps_required,
            rewards_available=facts.rewards_available,
            total_stamps=facts.total_stamps,
            reward=facts.reward,
            background_color=css_rgb(program.background_color),
            foreground_color=css_rgb(program.foreground_color),
            label_color=css_rgb(program.label_color),
            web_service_url=self.web_service_url,
            card_url=card_url,
            images=images,
            voided=facts.voided,
            news=card.news,
            locations=tuple((place.latitude, place.longitude) for place in locations),
            relevant_text=relevant_text(facts) if locations else None,
            feedback_url=f"{card_url}/feedback" if facts.rewards_redeemed else None,
            perk=facts.perk,
            rewards=facts.rewards,
            notice=card.notice,
            announce=card.notice is not None and card.notice.current(card.version),
        )

    async def pass_file(
        self, shop: ShopRow, card: CardRow, card_url: str, locations: Sequence[Location] = ()
    ) -> bytes:
        """The signed .pkpass bytes, with the shop's own logo if it has one."""
        digest = shop.program.logo_digest
        logo = None if self.logos is None else await self.logos.image(digest)
        return self.builder.build(self.content(shop, card, card_url, locations, logo))


def relevant_text(facts: CardFacts) -> dict[str, str]:
    """What the lock screen says near the shop, per language: the reward that waits, or how
    close it is (the pass's own pass.strings carry it, so the phone picks its language)."""
    if facts.oldest_due is not None:
        ready = facts.oldest_due
        return {lang: text("page_reward_ready", lang).format(reward=ready) for lang in LANGUAGES}
    missing, reward = facts.next_reward
    return {
        lang: counted("page_to_go", missing, lang).format(missing=missing, reward=reward)
        for lang in LANGUAGES
    }
