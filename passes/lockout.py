"""Who may try a staff PIN now: a limit per client address and per device, and a shop-wide
ceiling that only slows.

Pure: counts in, a verdict out. The counts are taken in the database before any PIN is
checked (store/sign_in_limits.py), so parallel tries, in one process or many, never get more
checks than the limit. A guesser locks out their own address and device, not the shop: a
device that signed in before is held to its own count alone, and the shop-wide ceiling
refuses fresh devices for the rest of a minute at most.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from passes.errors import PassesError
from passes.store.sign_in_limits import Count

MAX_TRIES = 5
LOCK_TIME = timedelta(minutes=15)
# Tries a minute from devices the shop does not know yet, across all addresses.
SHOP_TRIES = 30
SHOP_WINDOW = timedelta(minutes=1)
SHOP_BUCKET = "shop"


class PinLocked(PassesError):
    """Too many wrong PINs from this client or device: no check until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many wrong PINs: locked until {until:%H:%M} UTC")
        self.until = until


class PinsSlowed(PassesError):
    """Many tries at this shop from many places: fresh devices wait until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"many PIN tries at this shop: try again after {until:%H:%M:%S} UTC")
        self.until = until


@dataclass(frozen=True)
class Client:
    """Who is signing in: the client address and the device cookie (None without one)."""

    address: str
    device: str | None

    @property
    def device_bucket(self) -> str | None:
        """The device's bucket (a hash: the cookie itself is not stored)."""
        if not self.device:
            return None
        return "device:" + hashlib.sha256(self.device.encode()).hexdigest()[:40]

    @property
    def address_bucket(self) -> str:
        """The address's bucket; IPv6 by its /64, which one subscriber usually holds whole."""
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:
            return "address:" + self.address[:60]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return "address:" + str(ip.ipv4_mapped)
            return "address:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return "address:" + str(ip)


@dataclass(frozen=True)
class Tries:
    """The counts of one sign-in: its device (if any), and address unless the device is known."""

    device: Count | None
    address: Count | None

    @property
    def known(self) -> bool:
        """A device that signed in before is held to its own count alone."""
        return self.device is not None and self.device.known

    def binding(self) -> list[Count]:
        """The counts that limit this sign-in."""
        counts = [self.device] if self.known else [self.device, self.address]
        return [count for count in counts if count is not None]


def client_verdict(tries: Tries) -> PinLocked | None:
    """Refuse unchecked when the device or address has used its tries."""
    over = [count for count in tries.binding() if count.tries > MAX_TRIES]
    return PinLocked(max(count.window_ends for count in over)) if over else None


def shop_verdict(count: Count) -> PinsSlowed | None:
    """Refuse a fresh device for the rest of the minute once the shop's ceiling is reached."""
    return PinsSlowed(count.window_ends) if count.tries > SHOP_TRIES else None


def after_wrong_pin(tries: Tries) -> tuple[int, datetime | None]:
    """Tries left after a wrong PIN, and when the lock it started ends (None if none)."""
    binding = tries.binding()
    used = max((count.tries for count in binding), default=0)
    left = max(MAX_TRIES - used, 0)
    if left or not binding:
        return left, None
    return 0, max(count.window_ends for count in binding if count.tries >= MAX_TRIES)
