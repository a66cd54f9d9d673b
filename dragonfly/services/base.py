"""What layer 5 needs from the layers below it, and what a server of layer 5 offers.

Services never import :mod:`dragonfly.topology`: they are written against these
protocols, which :class:`dragonfly.topology.Pipeline` (or any object of the same
shape) satisfies.

- :class:`HostedPipeline`: one instrument's consolidated views (layer 4's
  broadcasts) and the lifecycle of the layers feeding them.
- :class:`Upstream`: anything below the servers that only starts and stops (a
  topology file's feeds and aggregators, which several servers share).
- :class:`Service`: one server of layer 5 (gRPC, FIX, later a metrics endpoint
  or an execution engine) as :class:`~dragonfly.services.host.ServiceHost`
  runs it: bind, stop, say where it listens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..model import LiquidityView, WorldView
    from ..queues import Broadcast

__all__ = ("HostedPipeline", "HostedPipelineConfig", "Service", "ServiceConfig", "Upstream")


class HostedPipelineConfig(Protocol):
    """The part of a pipeline's configuration services read."""

    @property
    def instrument(self) -> str:
        """Normalised instrument name (``"ETH-BTC"``)."""
        ...

    @property
    def venues(self) -> tuple[str, ...]:
        """Venues feeding the views, in display order."""
        ...

    @property
    def depth(self) -> int:
        """Levels per side in the views."""
        ...


class HostedPipeline(Protocol):
    """One instrument's world views, from venues through the aggregator (layers 1-4).

    ``views`` and ``liquidity`` exist before :meth:`start`, so servers can subscribe
    to them before the first venue is contacted.
    """

    @property
    def config(self) -> HostedPipelineConfig: ...

    @property
    def views(self) -> Broadcast[WorldView]: ...

    @property
    def liquidity(self) -> Broadcast[LiquidityView]: ...

    async def start(self) -> None:
        """Connect to the venues and start publishing views."""
        ...

    async def stop(self) -> None:
        """Disconnect and stop (idempotent)."""
        ...


class Upstream(Protocol):
    """Layers 1-4 a host starts after its servers listen and stops after them."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServiceConfig(Protocol):
    """Where a service listens."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int:
        """0 picks a free port."""
        ...


class Service(Protocol):
    """A server of layer 5 over the host's pipelines.

    :meth:`start` binds and listens, and raises :class:`~dragonfly.errors.BindError`
    (or any ``OSError``, which the host turns into one) when it cannot; :meth:`stop`
    ends what it serves cleanly and is idempotent.
    """

    @property
    def name(self) -> str:
        """Short name for messages and :attr:`ServiceHost.addresses` (``"gRPC"``, ``"FIX"``)."""
        ...

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def address(self) -> str:
        """``host:port`` it listens on (after :meth:`start`)."""
        ...

    async def start(self) -> object: ...

    async def stop(self) -> None: ...
