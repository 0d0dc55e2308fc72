"""Carriers' email-to-SMS gateways, with closed and closing ones flagged by date."""

from __future__ import annotations

import datetime as dt

import pytest

from services import carriers
from services.errors import InvalidInput

BEFORE_VERIZON = dt.date(2027, 3, 31)
AFTER_VERIZON = dt.date(2027, 4, 1)


def test_att_is_listed_but_flagged_closed_since_june_2025():
    att = carriers.get_carrier("att")
    assert att.shut_down and "June 2025" in att.shut_down
    assert att.label == "AT&T (gateway closed)"
    assert carriers.carrier_warning("att") == att.shut_down


@pytest.mark.parametrize(("key", "announced"), [
    ("att", "June 2025"), ("tmobile", "December 2024"), ("sprint", "April 2020"),
])
def test_closed_gateways_name_their_date_and_are_closed_now(key, announced):
    carrier = carriers.get_carrier(key)
    assert carrier.is_closed(dt.date(2026, 1, 1))
    notice = carrier.closing_notice(dt.date(2026, 1, 1))
    assert announced in notice and carrier.gateway in notice and "no longer arrive" in notice


def test_tmobile_gateway_was_tmomail_and_closed_in_december_2024():
    tmobile = carriers.get_carrier("tmobile")
    assert tmobile.gateway == "tmomail.net"
    assert not tmobile.is_closed(dt.date(2024, 11, 30))
    assert tmobile.is_closed(dt.date(2024, 12, 1))


def test_verizon_is_closing_on_march_31_2027_and_closed_the_day_after():
    verizon = carriers.get_carrier("verizon")
    assert not verizon.is_closed(BEFORE_VERIZON)
    assert "closes" in carriers.carrier_warning("verizon", today=BEFORE_VERIZON)
    assert "March 31, 2027" in carriers.carrier_warning("verizon", today=BEFORE_VERIZON)
    assert verizon.is_closed(AFTER_VERIZON)
    assert "closed" in carriers.carrier_warning("verizon", today=AFTER_VERIZON)


def test_a_closed_carrier_is_refused_without_the_sms_api_and_allowed_with_it():
    refusal = carriers.closed_carrier_refusal("att", sms_api_configured=False)
    assert refusal and "June 2025" in refusal
    assert carriers.closed_carrier_refusal("att", sms_api_configured=True) is None
    assert carriers.closed_carrier_refusal("cricket", sms_api_configured=False) is None
    assert carriers.closed_carrier_refusal("verizon", sms_api_configured=False,
                                           today=BEFORE_VERIZON) is None
    assert carriers.closed_carrier_refusal("verizon", sms_api_configured=False,
                                           today=AFTER_VERIZON)


def test_working_carriers_have_no_warning():
    assert carriers.carrier_warning("cricket") is None
    assert carriers.get_carrier("cricket").label == "Cricket Wireless"


def test_list_is_sorted_by_name_and_keys_fit_the_column():
    names = [carrier.name for carrier in carriers.list_carriers()]
    assert names == sorted(names, key=str.casefold)
    assert all(len(carrier.key) <= 40 for carrier in carriers.list_carriers())


def test_gateway_address_uses_the_ten_digit_number():
    address = carriers.gateway_address(carrier_key="uscellular", cell_phone="+16175550123")
    assert address == "6175550123@email.uscc.net"


def test_gateway_refuses_numbers_outside_north_america():
    with pytest.raises(InvalidInput) as raised:
        carriers.gateway_address(carrier_key="cricket", cell_phone="+447700900123")
    assert raised.value.field == "Text Message"


@pytest.mark.parametrize("key", [None, "", "nope"])
def test_unknown_carrier_names_the_field(key):
    with pytest.raises(InvalidInput) as raised:
        carriers.get_carrier(key)
    assert raised.value.field == "Cell Carrier"
