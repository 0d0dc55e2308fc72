"""Page shape shared by the pages: narrow forms and phone keyboard hints."""

from __future__ import annotations

import json

import streamlit as st

from services.db import session_scope
from services.practices import practices_on_loopback

# What a phone keyboard should do in a field, by the field's label: PINs and addresses must not
# be capitalised or "corrected" on the way in.
KEYBOARD_HINTS: dict[str, dict[str, str]] = {
    "PIN": {"autocapitalize": "characters", "autocorrect": "off", "spellcheck": "false",
            "inputmode": "text"},
    "Answer": {"autocorrect": "off", "spellcheck": "false"},
    "Email address": {"autocapitalize": "none", "autocorrect": "off", "spellcheck": "false",
                      "inputmode": "email"},
    "Username": {"autocapitalize": "none", "autocorrect": "off", "spellcheck": "false"},
}

# Streamlit has no parameter for these attributes: set them on the inputs by label, again
# whenever Streamlit redraws a field.
_HINTS_SCRIPT = """<script>
(() => {
  const hints = %s;
  const apply = () => {
    for (const [label, attributes] of Object.entries(hints)) {
      for (const input of document.querySelectorAll(`input[aria-label="${CSS.escape(label)}"]`)) {
        for (const [name, value] of Object.entries(attributes)) {
          if (input.getAttribute(name) !== value) input.setAttribute(name, value);
        }
      }
    }
  };
  apply();
  if (!window.__portalKeyboardHints) {
    window.__portalKeyboardHints = new MutationObserver(apply);
    window.__portalKeyboardHints.observe(document.body, {childList: true, subtree: true});
  }
})();
</script>"""


def narrow_page() -> None:
    """A form page (sign-in, setup, activation): centred, not stretched across a wide screen."""
    st.set_page_config(layout="centered")


def keyboard_hints() -> None:
    """Phone keyboards that suit the fields (see KEYBOARD_HINTS); call at the page's end."""
    st.html(_HINTS_SCRIPT % json.dumps(KEYBOARD_HINTS), unsafe_allow_javascript=True)


def public_address_warning(practice_ids: list[int]) -> None:
    """For admins: a banner while a practice's links would point at the server itself."""
    with session_scope(read_only=True) as session:
        names = practices_on_loopback(session, practice_ids=practice_ids)
    if names:
        st.warning(
            f"Activation links, letters and QR codes of {', '.join(names)} point to this server "
            "itself (localhost), so parents cannot open them. Enter the app's public address "
            "as the Portal URL in Practice Settings.", icon=":material/link_off:")
