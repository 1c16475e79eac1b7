"""mtp_emulator: an offline, HTTPS stand-in for Entra ID, Microsoft Graph and the Defender XDR APIs."""

__version__ = "0.1.0"
