"""A client library for accessing Tally"""

from .client import AuthenticatedClient, Client
from .recorder import AsyncRecorder, Recorder

__all__ = (
    "AsyncRecorder",
    "AuthenticatedClient",
    "Client",
    "Recorder",
)
