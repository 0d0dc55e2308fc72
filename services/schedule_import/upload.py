"""The uploaded file itself: the size limit, UTF-8 text, and whether it is CSV or FHIR."""

from __future__ import annotations

from services.errors import InvalidInput
from services.schedule_import.report import CSV_KIND, FHIR_KIND
from services.settings import get_settings


def check_size(data: bytes) -> None:
    limit = get_settings().max_upload_mb
    if len(data) > limit * 1024 * 1024:
        raise InvalidInput(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the largest accepted is {limit} MB "
            "(PORTAL_MAX_UPLOAD_MB). Export a shorter date range and import it in parts.",
            field="file",
        )


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInput(
            f"The file is not UTF-8 text (byte 0x{data[error.start]:02X} on line {line}). "
            "Save it from your spreadsheet or practice system as 'CSV UTF-8' and upload it "
            "again.",
            field="file",
        ) from None


def file_kind(filename: str, data: bytes) -> str:
    """csv or fhir, from the file name, else from the first character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return FHIR_KIND
    if name.endswith((".csv", ".txt", ".tsv")):
        return CSV_KIND
    return FHIR_KIND if data.lstrip()[:1] in (b"{", b"[") else CSV_KIND
