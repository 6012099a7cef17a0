"""Google Wallet: class/object mapping, save links, the REST client and callbacks."""

from passes.google.callbacks import CallbackEvent, CallbackVerifier
from passes.google.client import GoogleWalletClient
from passes.google.config import GoogleAccount, GoogleConfig, load_google, public_base_warning
from passes.google.errors import (
    GoogleAuthError,
    GoogleError,
    GoogleQuotaExceeded,
    GoogleRequestError,
    GoogleUnavailable,
)
from passes.google.objects import (
    GoogleCardContent,
    GoogleProgramContent,
    class_id,
    loyalty_class,
    loyalty_object,
    object_id,
)
from passes.google.savelink import SaveLinkSigner

__all__ = [
    "CallbackEvent",
    "CallbackVerifier",
    "GoogleAccount",
    "GoogleAuthError",
    "GoogleCardContent",
    "GoogleConfig",
    "GoogleError",
    "GoogleProgramContent",
    "GoogleQuotaExceeded",
    "GoogleRequestError",
    "GoogleUnavailable",
    "GoogleWalletClient",
    "SaveLinkSigner",
    "class_id",
    "load_google",
    "loyalty_class",
    "loyalty_object",
    "object_id",
    "public_base_warning",
]
