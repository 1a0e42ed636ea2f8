"""The recording's clinical summary as a PDF, filed as Encapsulated PDF Storage (PS3.3 A.45.1).

The PDF holds what `dmask report` writes for the recording (the same
sections, from dmask.clinical.report), laid out by matplotlib: text pages,
then the plots. It is made from the signals alone, so it holds no pixel of
the camera, and it names the recording only as "segment N" (a file name may
hold a patient's name). Its PDF metadata carries no creation date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import textwrap
from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

from dmask.clinical.recording import Recording
from dmask.clinical.report import method_paragraph, write_recording
from dmask.clinical.summary import ClinicalSummary
from dmask.report_folder import cell, pyplot
from dmask.export.identity import Series, StudyIdentity, new_instance

TITLE = "Clinical summary of a masked recording"
_PAGE = (8.27, 11.69)  # A4, inches
_MARGIN = 0.06  # of the page
_LINE = 0.0125  # of the page height, at _FONT_SIZE
_FONT_SIZE = 7.5
_WIDTH = 110  # characters a line


class PdfLayout:
    """Report's heading / paragraph / table / figure, laid out as PDF pages."""

    def __init__(self, title: str) -> None:
        self._lines: list[tuple[str, str]] = [("bold", title), ("", "")]
        self._figures: list[tuple[Any, str]] = []

    def heading(self, text: str, level: int = 2) -> None:
        self._lines += [("bold", text), ("", "")]

    def paragraph(self, text: str) -> None:
        self._lines += [("", line) for line in textwrap.wrap(text.replace("`", ""), _WIDTH)] + [("", "")]

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        cells = [[str(h) for h in header]] + [[cell(v, 2) for v in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for number, row in enumerate(cells):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths))
            self._lines.append(("bold" if number == 0 else "", line))
        self._lines.append(("", ""))

    def figure(self, name: str, figure: Any, caption: str) -> None:
        self._figures.append((figure, caption))

    def render(self) -> bytes:
        """The PDF: text pages, then a page per figure."""
        plt = pyplot()
        from matplotlib.backends.backend_pdf import PdfPages as Writer

        buffer = io.BytesIO()
        with Writer(buffer, metadata={"Title": TITLE, "Creator": "digital-mask", "CreationDate": None}) as pdf:
            per_page = int((1 - 2 * _MARGIN) / _LINE)
            for start in range(0, len(self._lines), per_page):
                page = plt.figure(figsize=_PAGE)
                for row, (weight, text) in enumerate(self._lines[start:start + per_page]):
                    page.text(_MARGIN, 1 - _MARGIN - row * _LINE, text, family="monospace", size=_FONT_SIZE,
                              weight=weight or "normal", va="top")
                pdf.savefig(page)
                plt.close(page)
            for figure, caption in self._figures:
                figure.suptitle(caption, fontsize=9)
                pdf.savefig(figure)
                plt.close(figure)
        return buffer.getvalue()


def summary_pdf(recording: Recording | None, summary: ClinicalSummary | None, label: str) -> bytes:
    """The clinical summary (summarise's) of one recording's signals as PDF bytes; None: no face was tracked."""
    pages = PdfLayout(TITLE)
    pages.paragraph(method_paragraph())
    if recording is None:
        pages.heading(label)
        pages.paragraph("No face was tracked in this recording, so there is nothing to measure.")
    else:
        write_recording(pages, recording, dataclasses.replace(summary, recording=label), "")
    return pages.render()


def pdf_instance(pdf: bytes, identity: StudyIdentity, series: Series, number: int, recorded: dt.datetime,
                 title: str) -> Dataset:
    """An Encapsulated PDF instance in the recording's study."""
    ds = new_instance(EncapsulatedPDFStorage, ExplicitVRLittleEndian, identity, series, number, recorded)
    ds.ConversionType = "SYN"  # synthetic: made by software, not scanned
    ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    return ds


def read_pdf(ds: Dataset) -> bytes:
    """The PDF an Encapsulated PDF instance holds, without its padding."""
    return bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)]
