"""passes: loyalty stamp cards in Apple Wallet and Google Wallet."""

__version__ = "0.1.0"
