"""What a browser route hands the launcher: the executable, its environment and flags.

Its own module because both :mod:`.resolve` (which picks a route) and :mod:`.sparticuz`
(one route, which installs and unpacks the Lambda build) make one; with the type in
``resolve`` the two imported each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChromeBinary:
    """An executable plus the environment and flags it needs to start."""

    path: str
    source: str  # "env" | "bundled" | "sparticuz" | "playwright" | "debian"
    env: dict[str, str] = field(default_factory=dict)
    extra_flags: tuple[str, ...] = ()
    # The build's name when the route knows it (the pinned sparticuz package); else
    # browser_build() asks the binary for its version.
    build: str = ""
