"""bcdtool: offline editor for Windows BCD stores and serial-console settings."""

from bcdtool.errors import BcdToolError

__all__ = ["BcdToolError", "__version__"]
__version__ = "0.1.0"
