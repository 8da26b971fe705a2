"""Entropy from the operating system."""

from __future__ import annotations

import random
import secrets


class SystemEntropy:
    """Jitter from a CSPRNG-seeded generator, nonces from `secrets` (the OS CSPRNG)."""

    def __init__(self) -> None:
        self._rng = random.SystemRandom()

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        return self._rng.random()

    def nonce(self) -> str:
        """32 URL-safe characters of fresh randomness (192 bits)."""
        return secrets.token_urlsafe(24)
