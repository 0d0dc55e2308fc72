"""The activation page in the parent's language: the link's `lang`, the switch, and every
refusal and form message in Spanish."""

from __future__ import annotations

import datetime as dt

from models import EnrollmentStatus
from services.pins import format_pin, generate_pin
from tests.factories import make_enrollment, make_patient, make_practice, make_user
from tests.pages.helpers import app_test, texts

PAGE = "pages/activate.py"
DOB = dt.date(2017, 8, 30)
PASSWORD = "tulip orchard sunrise 42"


def spanish_link(session, **fields):
    practice = make_practice(session, name="Pediatría del Valle", phone="(617) 555-0100")
    make_user(session, practices=[practice])  # past first-run setup
    patient = make_patient(session, practice, first_name="Mateo", date_of_birth=DOB)
    pin = generate_pin()
    enrollment = make_enrollment(session, practice, patient=patient, pin=pin, **fields)
    session.commit()
    return practice, enrollment, pin


def open_link(practice, enrollment, lang="es"):
    at = app_test()
    at.query_params["practice"] = str(practice.id)
    at.query_params["token"] = enrollment.link_token
    if lang:
        at.query_params["lang"] = lang
    at.switch_page(PAGE)
    return at.run()


def submit(at, *, pin, dob=DOB, password=PASSWORD):
    at.text_input(key="pin").input(pin)
    at.date_input(key="date_of_birth").set_value(dob)
    at.text_input(key="email").input("lucia@example.com")
    at.text_input(key="password").input(password)
    at.text_input(key="repeat_password").input(password)
    return next(b for b in at.button if b.label == "Activar cuenta").click().run()


def test_the_link_with_lang_es_opens_the_page_in_spanish(session):
    practice, enrollment, _ = spanish_link(session)
    at = open_link(practice, enrollment)
    assert not at.exception
    assert at.title[0].value == "Activar la cuenta del portal"
    assert [w.label for w in at.text_input] == [
        "PIN", "Correo electrónico", "Contraseña", "Repita la contraseña"]
    assert at.date_input(key="date_of_birth").label == "Fecha de nacimiento del menor"
    assert "Ingrese el PIN de su correo de bienvenida" in texts(at)


def test_the_switch_changes_the_language_and_keeps_it_in_the_link(session):
    practice, enrollment, _ = spanish_link(session)
    at = open_link(practice, enrollment, lang=None)
    assert at.title[0].value == "Activate Portal Account"
    assert at.radio(key="language").options == ["English", "Español"]
    at.radio(key="language").set_value("es").run()
    assert at.query_params["lang"] in ("es", ["es"])
    assert at.title[0].value == "Activar la cuenta del portal"
    at.radio(key="language").set_value("en").run()
    assert "lang" not in at.query_params
    assert at.title[0].value == "Activate Portal Account"


def test_wrong_pin_and_bad_input_are_refused_in_spanish(session):
    practice, enrollment, pin = spanish_link(session)
    at = submit(open_link(practice, enrollment), pin=generate_pin())
    assert ("El PIN y la fecha de nacimiento no coinciden con nuestros registros." in texts(at))
    assert "llamar a Pediatría del Valle al (617) 555-0100" in texts(at)
    at = submit(open_link(practice, enrollment), pin=format_pin(pin), password="corta")
    assert "La contraseña es demasiado corta: use al menos 12 caracteres." in texts(at)


def test_an_expired_pin_is_refused_in_spanish(session):
    now = dt.datetime.now(dt.UTC)
    practice, enrollment, _ = spanish_link(session, issued_at=now - dt.timedelta(days=20),
                                           expires_at=now - dt.timedelta(days=6))
    at = open_link(practice, enrollment)
    assert ("Este PIN ya venció. Llame a Pediatría del Valle al (617) 555-0100 y pida un PIN "
            "nuevo.") in [error.value for error in at.error]


def test_a_locked_pin_is_refused_in_spanish(session):
    practice, enrollment, _ = spanish_link(session, status=EnrollmentStatus.locked)
    at = open_link(practice, enrollment)
    assert "Este PIN se bloqueó por demasiados intentos fallidos." in texts(at)


def test_activation_in_spanish_confirms_in_spanish(session):
    practice, enrollment, pin = spanish_link(session)
    at = submit(open_link(practice, enrollment), pin=format_pin(pin))
    assert not at.exception
    assert ("Su cuenta del portal lucia@example.com está activa, con acceso al expediente de "
            "Mateo.") in texts(at).replace("\\", "")
    assert "Próximos pasos" in texts(at)


def test_an_unknown_language_falls_back_to_english(session):
    practice, enrollment, _ = spanish_link(session)
    at = open_link(practice, enrollment, lang="tlh")
    assert not at.exception and at.title[0].value == "Activate Portal Account"


def test_the_password_rules_are_explained_in_spanish(session):
    practice, enrollment, pin = spanish_link(session)
    at = submit(open_link(practice, enrollment), pin=format_pin(pin), password="qwertyuiop12")
    assert ("La contraseña es una de las más comunes y fácil de adivinar: elija otra."
            in texts(at))
    at = submit(open_link(practice, enrollment), pin=format_pin(pin), password=f" {PASSWORD}")
    assert ("La contraseña empieza o termina con un espacio: quítelo (los espacios en medio "
            "sí se permiten)." in texts(at))
    assert "Password" not in texts(at)
