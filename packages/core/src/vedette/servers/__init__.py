"""Reaching one Redis or Sentinel server.

- `clients`: redis-py clients for a Sentinel or a Redis node, with the configuration's
  credentials, TLS and timeouts.
- `tls`: the TLS connection class, closing a socket a failed handshake leaves open.
- `role`: what a server says it is (``HELLO``, which any ACL user may run; ``ROLE`` before 6.2).
"""
