"""Carriers' email-to-SMS gateways, with closed ones flagged."""

from __future__ import annotations

import pytest

from services import carriers
from services.errors import InvalidInput


def test_att_is_listed_but_flagged_closed_since_june_2025():
    att = carriers.get_carrier("att")
    assert att.shut_down and "June 2025" in att.shut_down
    assert att.label == "AT&T (gateway closed)"
    assert carriers.carrier_warning("att") == att.shut_down
    assert carriers.carrier_warning("verizon") is None


def test_list_is_sorted_by_name_and_keys_fit_the_column():
    names = [carrier.name for carrier in carriers.list_carriers()]
    assert names == sorted(names, key=str.casefold)
    assert all(len(carrier.key) <= 40 for carrier in carriers.list_carriers())


def test_gateway_address_uses_the_ten_digit_number():
    address = carriers.gateway_address(carrier_key="verizon", cell_phone="+16175550123")
    assert address == "6175550123@vtext.com"


def test_gateway_refuses_numbers_outside_north_america():
    with pytest.raises(InvalidInput) as raised:
        carriers.gateway_address(carrier_key="tmobile", cell_phone="+447700900123")
    assert raised.value.field == "Text Message"


@pytest.mark.parametrize("key", [None, "", "nope"])
def test_unknown_carrier_names_the_field(key):
    with pytest.raises(InvalidInput) as raised:
        carriers.get_carrier(key)
    assert raised.value.field == "Cell Carrier"
