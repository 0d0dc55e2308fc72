"""How a message repeats a value a person typed."""

from services.errors import LONGEST_QUOTED, InvalidInput, quoted


def test_a_value_is_written_in_typographic_double_quotes_as_typed():
    assert quoted("O'Brien") == "“O'Brien”"
    assert quoted('say "hi"') == "“say \"hi\"”"


def test_surrounding_whitespace_is_dropped_and_inner_whitespace_kept():
    assert quoted("  Main  Street \n") == "“Main  Street”"


def test_nothing_and_non_text_values_read_as_words_not_python():
    assert quoted(None) == "“”"
    assert quoted(42) == "“42”"


def test_a_very_long_value_is_shortened_with_an_ellipsis():
    value = "x" * 200
    shown = quoted(value)
    assert shown == "“" + "x" * (LONGEST_QUOTED - 1) + "…”"
    assert len(shown) == LONGEST_QUOTED + 2
    assert quoted("y" * LONGEST_QUOTED) == "“" + "y" * LONGEST_QUOTED + "”"


def test_an_error_keeps_the_message_it_was_given():
    error = InvalidInput(f"Role {quoted('boss')} is unknown.", field="Role")
    assert error.message == "Role “boss” is unknown." and error.field == "Role"
