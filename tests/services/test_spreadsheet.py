"""CSV cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from services.spreadsheet import csv_text, frame_csv, neutralise_cell

HYPERLINK = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize("value", [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_starts_a_formula_gets_a_quote(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Emma", "O'Neil", "a=b", "", 5, -3, None])
def test_other_values_are_left_alone(value):
    assert neutralise_cell(value) == value


def test_csv_text_neutralises_every_cell_and_stays_readable_csv():
    text = csv_text(["Name", "=Header"], [[HYPERLINK, 3], ["Ann, Jr.", "-1"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["Name", "'=Header"], ["'" + HYPERLINK, "3"], ["Ann, Jr.", "'-1"]]


def test_frame_csv_neutralises_text_cells_only():
    frame = pd.DataFrame({"Patient": [HYPERLINK, "Emma"], "Visits": [-1, 2]})
    rows = list(csv.reader(io.StringIO(frame_csv(frame))))
    assert rows == [["Patient", "Visits"], ["'" + HYPERLINK, "-1"], ["Emma", "2"]]
