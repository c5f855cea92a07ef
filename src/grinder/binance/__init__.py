"""GRINDER's Binance USDⓈ-M wire client: signing, REST, rate-limit governor, streams, local book.

Modules (Hummingbot-style set): constants, auth, errors, governor, rest, schemas, units, parse,
book, streams, user_stream, metrics, config. See docs/wire_client.md.
"""
