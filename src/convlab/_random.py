"""One seeded random generator that every random function and every layer init draws from.

``convlab.manual_seed(0)`` makes a whole program repeatable: tensors from ``rand``/``randn``,
layer initialization, dropout masks and data-loader shuffles all come from
``convlab.default_generator`` unless a function is handed its own ``generator``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "rng",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A seedable source of random numbers (PCG64 underneath), like ``torch.Generator``."""

    def __init__(self, seed: int = 0):
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._initial_seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed & 0xFFFF_FFFF_FFFF_FFFF))
        return self

    def initial_seed(self) -> int:
        return self._initial_seed

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) & 0x7FFF_FFFF_FFFF_FFFF)
        return self._initial_seed

    def get_state(self) -> dict:
        """The generator's state as plain data (JSON-friendly), for checkpoints."""
        return {"initial_seed": self._initial_seed, "bit_generator": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._initial_seed = int(state["initial_seed"])
        bit_generator = np.random.PCG64()
        bit_generator.state = state["bit_generator"]
        self.rng = np.random.Generator(bit_generator)


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it, as PyTorch does."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one."""
    return (generator or default_generator).rng
