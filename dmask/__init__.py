"""digital-mask: identity-free rendered avatars from face photos, videos and cameras."""

from importlib import metadata

try:
    __version__ = metadata.version("digital-mask")
except metadata.PackageNotFoundError:  # run from a checkout that was never pip-installed
    __version__ = "0+unknown"
