"""What the user wrote: the configuration of a Sentinel service, and every way to write it.

- `sentinel_config`: `SentinelConfig`, its fields, defaults and checks.
- `url`: ``redis+sentinel://`` URLs: parsing, and redaction for logs.
- `converters`: one converter per kind of setting (addresses, seconds, booleans ...), each
  naming the setting in its error.
- `vocabularies`: other libraries' names for the same settings (redis-py's, kombu's ...).
- `nat`: `AddressMap`, translating the addresses Sentinels report into reachable ones.

Nothing here opens a socket or starts a thread.
"""
