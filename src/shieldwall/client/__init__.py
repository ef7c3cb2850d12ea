"""Talking to a hub: signed requests, errors users can act on, the SSE stream."""

from shieldwall.client.hub import HubClient, HubError, next_seq

__all__ = ["HubClient", "HubError", "next_seq"]
