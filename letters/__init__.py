"""letters: nightly demand letters ready for certified mail, with proof of what was mailed."""

__version__ = "0.1.0"
