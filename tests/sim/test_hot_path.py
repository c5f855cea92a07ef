"""The request hot path's fast forms give exactly what their plain definitions give (ADR-026)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.sim.auth import _strip_signature, sign
from grinder.sim.render import WireFormat, order_object
from grinder.sim.synthetic import SyntheticMarket
from grinder.venue.views import OrderView

RULES = {"BTCUSDT": btcusdt_rules(), "ETHUSDT": ethusdt_rules()}


def _strip_by_split(part: str) -> tuple[str, str | None]:
    """The definition: drop the first `&`-separated piece that starts with `signature=`."""
    pieces = part.split("&") if part else []
    for i, piece in enumerate(pieces):
        if piece.startswith("signature="):
            return "&".join(pieces[:i] + pieces[i + 1 :]), piece[len("signature=") :]
    return part, None


_PIECES = st.sampled_from(
    ["a=1", "signature=ab", "signature=", "b=", "", "signatur=x", "xsignature=1", "c=%20", "signature=ff"]
)


@given(st.lists(_PIECES, max_size=6))
def test_signature_strip_equals_the_split_definition(pieces: list[str]) -> None:
    part = "&".join(pieces)
    assert _strip_signature(part) == _strip_by_split(part)


@given(st.text(max_size=200), st.text(max_size=300))
def test_sign_equals_hmac_sha256_for_any_key_length(secret: str, message: str) -> None:
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert sign(secret, message) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=0, max_value=9))
def test_decimal_text_equals_decimal_formatting(value: int, dp: int) -> None:
    expected = format(Decimal(value).scaleb(-dp), "f")
    assert WireFormat._text(value, 10**dp, dp) == expected


@given(
    status=st.sampled_from(list(OrderStatus)),
    executed=st.integers(min_value=0, max_value=1000),
    avg=st.sampled_from([Decimal(0), Decimal("0.0"), Decimal("61234.5"), Decimal("61234.56789")]),
    cum_quote=st.sampled_from([Decimal(0), Decimal("12.5"), Decimal("0.00")]),
    price_ticks=st.sampled_from([0, 1, 612345]),
    query=st.booleans(),
    ack=st.booleans(),
)
def test_order_object_fields(
    status: OrderStatus,
    executed: int,
    avg: Decimal,
    cum_quote: Decimal,
    price_ticks: int,
    query: bool,
    ack: bool,
) -> None:
    rules = RULES["BTCUSDT"]
    view = OrderView(
        order_id=7, symbol="BTCUSDT", status=status, client_order_id="c1", price_ticks=price_ticks,
        avg_price=avg, orig_qty_lots=1000, executed_lots=executed, cum_quote=cum_quote,
        time_in_force=TimeInForce.GTC, order_type=OrderType.LIMIT, reduce_only=False, side=Side.SELL,
        position_side=PositionSide.BOTH, time_ms=5, update_time_ms=9, orig_type=OrderType.LIMIT,
    )  # fmt: skip
    doc = order_object(rules, view, query=query, ack=ack)
    assert all(type(v) in (str, int, bool) for v in doc.values())  # plain JSON types, no enums
    assert doc["status"] == ("NEW" if ack else status.value)
    assert doc["executedQty"] == rules.qty_str(0 if ack else executed)
    assert ("cumQty" in doc) is not query and ("time" in doc) is query
    if not query:
        assert doc["cumQty"] == doc["executedQty"]
    assert doc["price"] == (rules.price_str(price_ticks) if price_ticks else "0")
    texts = {Decimal("61234.5"): "61234.50", Decimal("61234.56789"): "61234.56789", Decimal("12.5"): "12.50"}
    zero = rules.price_str(0)
    assert doc["avgPrice"] == (zero if ack or not avg else texts[avg])
    assert doc["cumQuote"] == (zero if ack or not cum_quote else texts[cum_quote])
    assert doc["updateTime"] == (5 if ack else 9)
    assert list(doc)[-1] == "updateTime" and list(doc)[:3] == ["orderId", "symbol", "status"]


def test_synthetic_market_is_the_same_for_the_same_seed_across_versions() -> None:
    """Pins seed 11's first 400 batches (digest taken before the hot-path rewrite of ADR-026). If the
    generator is changed on purpose, re-take the digest and say so in the commit."""
    batches = list(itertools.islice(SyntheticMarket(RULES, 11, 100, 1_700_000_000_000).batches(), 400))
    digest = hashlib.sha256(msgspec.json.encode(batches)).hexdigest()
    assert digest == "c129ddd0565c135ceeedf5a7820f6fa65725109a26175aa615b5d50c7876e508"
