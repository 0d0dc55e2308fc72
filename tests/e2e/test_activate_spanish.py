"""The activation page in Spanish in Chromium: the link's `lang=es`, refusals in Spanish, the
language switch, and an activation confirmed in Spanish."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from services.pins import format_pin, generate_pin
from tests.e2e import support
from tests.e2e.support import click_button, fill, main_area, open_app, type_date
from tests.factories import make_enrollment, make_guardian, make_patient, make_practice

pytestmark = pytest.mark.e2e

BIRTH = dt.date(2019, 3, 9)
PIN = generate_pin()
PASSWORD = "girasol-montaña-Nube-27"
SEEDED: dict[str, object] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill_rows(session):
        practice = make_practice(session, name="Pediatría del Valle", phone="(555) 010-2000")
        create_user(session, username="desk", name="Desk", email="desk@example.org",
                    role=Role.staff, password="staff-pass-Heron-61", actor="e2e",
                    practice_names=[practice.name])
        patient = make_patient(session, practice, first_name="Mateo", last_name="Peña",
                               date_of_birth=BIRTH)
        guardian = make_guardian(session, practice, patients=[patient], first_name="Lucía",
                                 last_name="Peña", preferred_language="es")
        enrollment = make_enrollment(session, practice, patient=patient, guardian=guardian,
                                     pin=PIN)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        expired = make_enrollment(session, practice, pin=generate_pin(),
                                  issued_at=now - dt.timedelta(days=30),
                                  expires_at=now - dt.timedelta(days=16))
        SEEDED.update(practice=practice.id, token=enrollment.link_token,
                      expired=expired.link_token)

    return fill_rows


def link(token: str, lang: str | None = "es") -> str:
    return f"/activate?practice={SEEDED['practice']}&token={token}" + (
        f"&lang={lang}" if lang else "")


def test_spanish_page_refuses_in_spanish_then_activates(page):
    open_app(page, link(SEEDED["token"]))
    main = main_area(page)
    expect(main.get_by_role("heading", name="Activar la cuenta del portal")).to_be_visible()
    form = main.get_by_test_id("stForm")
    fill(page, "PIN", generate_pin(), scope=form)
    type_date(page, "Fecha de nacimiento del menor", BIRTH, scope=form)
    fill(page, "Correo electrónico", "lucia@example.com", scope=form)
    fill(page, "Contraseña", PASSWORD, scope=form)
    fill(page, "Repita la contraseña", PASSWORD, scope=form)
    click_button(page, "Activar cuenta", scope=form)
    expect(main.get_by_text("El PIN y la fecha de nacimiento no coinciden con nuestros "
                            "registros.")).to_be_visible()
    expect(main.get_by_text("Pediatría del Valle al (555) 010-2000").first).to_be_visible()
    support.screenshot(page, "activate-es")

    fill(page, "PIN", format_pin(PIN), scope=form)
    click_button(page, "Activar cuenta", scope=form)
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        "está activa, con acceso al expediente de Mateo")
    expect(main.get_by_text("Próximos pasos")).to_be_visible()


def test_expired_link_in_spanish_and_the_switch_to_english(page):
    open_app(page, link(SEEDED["expired"]))
    main = main_area(page)
    expect(main.get_by_text("Este PIN ya venció. Llame a Pediatría del Valle al (555) "
                            "010-2000 y pida un PIN nuevo.")).to_be_visible()
    with support.rerun(page):
        main.get_by_text("English", exact=True).click()
    expect(main.get_by_role("heading", name="Activate Portal Account")).to_be_visible()
    expect(main.get_by_text("This PIN has expired.")).to_be_visible()
    assert "lang=" not in page.url
