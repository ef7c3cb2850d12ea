"""shieldwall.bus: the primary hub's input log, fanned out to its replicas.

``records`` is what travels (recorded inputs and the alliance's charter), ``base`` the
interface a bus offers and how a bus URL is read, ``memory`` the in-process bus (tests,
one process) and ``jetstream`` NATS JetStream, opt-in by URL (``hub serve --bus``).
"""
