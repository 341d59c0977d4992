"""The lawyer's bundle as PDF (fpdf2), written for a judge: a cover page (the case, as of
when, who generated it for which organisation, and a table of contents), the person, documents,
status, incidents, notes, attachments and the timeline as sentences; identifiers and the
machine detail of each timeline entry (kinds, factor codes, weights) only in the appendix.
Every page says "as of" and "Page N of M". The document is signed afterwards (signing.py).

Fonts ship in ``fonts/`` (see its README and ``glyphs.py``): DejaVu Sans, with Noto Sans Khmer,
Thai and Lao as fallbacks, shaped by HarfBuzz so that stacked Khmer consonants and vowel signs
come out right. Text in a script none of them covers is replaced by a visible marker
(``[Myanmar text not shown]``) and listed on the title page, so the PDF never silently drops it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.outline import OutlineSection

from app.cases.glyphs import FALLBACKS, FONT_DIR, FONTS, MAIN, needs_shaping, unshown, visible
from app.cases.readable import country, day, moment, sentence, value_text, words

TEXT_MAX = 900  # a table cell must fit on a page; the JSON export has it all
LINE = 5.0

PERSON_FIELDS = (
    ("full_name", "Full name"),
    ("native_name", "Native name"),
    ("aliases", "Aliases"),
    ("date_of_birth", "Date of birth"),
    ("sex", "Sex"),
    ("nationalities", "Nationalities"),
    ("affiliation", "Affiliation"),
    ("affiliation_role", "Role in affiliation"),
    ("current_country", "Current country"),
    ("current_location", "Current location"),
    ("contact", "Contact"),
    ("notes", "Notes"),
)
SECTIONS = {
    "person": "Person",
    "case": "Case",
    "documents": "Travel documents",
    "unhcr_status_history": "UNHCR status history",
    "incidents": "Incidents",
    "notes": "Notes",
    "attachments": "Attachments",
    "timeline": "Timeline",
}
ROLE_NAMES = {"lawyer": "counsel"}


# Formatting -------------------------------------------------------------------------------------
def text_of(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, dict):
        if value.keys() == {"from", "to"}:
            return f"{text_of(value['from'])} → {text_of(value['to'])}"
        return "; ".join(f"{k}: {text_of(v)}" for k, v in value.items())
    return str(value)


def when(value: str | None) -> str:
    """An ISO timestamp as "1 Jun 2025, 10:30 UTC", a date as "1 Jun 2025"."""
    if not value:
        return "—"
    return moment(value) if "T" in value else day(value)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " … (shortened; see the JSON export)"


# The document -----------------------------------------------------------------------------------
class BundlePDF(FPDF):
    def __init__(self, bundle: dict[str, Any]) -> None:
        super().__init__(format="A4")
        self.bundle = bundle
        self._widths: dict[tuple[str, str, float, str], float] = {}
        for family, styles in FONTS.items():
            for style, filename in styles.items():
                self.add_font(family, style, str(FONT_DIR / filename))
        self.set_fallback_fonts(list(FALLBACKS), exact_match=False)
        self.set_auto_page_break(True, margin=16)
        self.set_margins(15, 15, 15)
        generated = dt.datetime.fromisoformat(bundle["generated_at"])
        self.set_creation_date(generated)
        # No names in the metadata: file indexes and previews show it without opening the file.
        self.set_title(f"Haven case export {bundle['case']['id']}")
        self.set_author("Haven")
        self.set_creator(f"Haven {bundle['haven_version']}")
        self.set_subject(f"Case record as of {bundle['as_of']}")
        # Read back by `haven verify-export`: which case, as of when (ids, no names).
        self.set_keywords(
            f"haven-case:{bundle['case']['id']} haven-as-of:{bundle['as_of']} "
            f"haven-generated-at:{bundle['generated_at']}"
        )

    def say(self, text: str) -> str:
        """The text as it can be shown; turns shaping on for the output call that follows.

        HarfBuzz shaping is what makes Khmer (and Thai, Lao, Arabic) legible, but fpdf2
        re-shapes a line for every character it measures: used everywhere, it makes a long
        timeline take tens of seconds. Latin text needs none, so it is on only where needed.
        """
        shown = visible(text)[0]
        self.set_text_shaping(needs_shaping(shown))
        return shown

    def footer(self) -> None:
        self.set_text_shaping(False)
        self.set_y(-12)
        self.set_font(MAIN, "", 7)
        self.set_text_color(90)
        self.cell(
            0,
            4,
            f"Haven case record as of {when(self.bundle['as_of'])} · generated "
            f"{when(self.bundle['generated_at'])} · confidential · "
            f"Page {self.page_no()} of {{nb}}",
            align="C",
        )
        self.set_text_color(0)

    # Building blocks
    def heading(self, title: str, *, new_page: bool = False) -> None:
        if new_page or self.get_y() > self.h - 60:
            self.add_page()
        self.start_section(title)  # a PDF bookmark and a line of the table of contents
        self.ln(3)
        self.set_font(MAIN, "B", 13)
        self.cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(MAIN, "", 9)

    def subheading(self, title: str) -> None:
        self.ln(1)
        self.set_font(MAIN, "B", 10)
        self.set_x(self.l_margin)
        self.line_of(title, LINE + 1)
        self.set_font(MAIN, "", 9)

    def field(self, label: str, value: Any) -> None:
        self.set_text_shaping(False)
        self.set_font(MAIN, "B", 9)
        self.cell(self.get_string_width(f"{label}:") + 1.5, LINE, f"{label}:")
        self.set_font(MAIN, "", 9)
        self.line_of(text_of(value), LINE)

    def line_of(self, text: str, height: float) -> None:
        """Text from the current position to the right margin, then a new line.

        A plain cell when it fits on the line: fpdf2's line breaking measures (and with shaping
        re-shapes) the line for every character it adds, which makes long bundles slow.
        """
        shown = self.say(text)
        left = self.get_x()
        room = self.w - self.r_margin - left
        lines = None if needs_shaping(shown) else self._wrapped(shown, room - 1)
        if lines is None:
            self.multi_cell(room, height, shown, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        for line in lines:
            self.set_x(left)
            self.cell(room, height, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def width_of(self, word: str) -> float:
        """get_string_width, remembered per font and size (words repeat a lot)."""
        key = (self.font_family, self.font_style, self.font_size_pt, word)
        found = self._widths.get(key)
        if found is None:
            found = self._widths[key] = self.get_string_width(word)
        return found

    def _wrapped(self, text: str, room: float) -> list[str] | None:
        """Greedy word wrap measuring each word once (fpdf2's multi_cell measures the line
        again for every character, which made a 200-entry export take seconds); None when a
        word is wider than the line, for multi_cell to break inside it."""
        space = self.width_of(" ")
        out: list[str] = []
        for paragraph in text.split("\n"):
            line, width = "", 0.0
            for word in paragraph.split(" "):
                size = self.width_of(word)
                if size > room:
                    return None
                if line and width + space + size > room:
                    out.append(line)
                    line, width = word, size
                else:
                    line, width = (f"{line} {word}", width + space + size) if line else (word, size)
            out.append(line)
        return out

    def paragraph(self, text: str) -> None:
        self.set_x(self.l_margin)
        self.line_of(text, LINE)

    def grid(
        self, headings: tuple[str, ...], widths: tuple[int, ...], rows: list[list[str]]
    ) -> None:
        if not rows:
            self.paragraph("None recorded.")
            return
        self.set_font(MAIN, "", 8)
        cells = [[visible(value)[0] for value in values] for values in rows]
        # A table renders its cells when it closes, so shaping is set for the table as a whole.
        shaping = any(needs_shaping(value) for values in cells for value in values)
        with self.table(
            col_widths=widths,
            line_height=4.2,
            text_align="LEFT",
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            padding=1,
        ) as table:
            head = table.row()
            for title in headings:
                head.cell(title)
            for values in cells:
                row = table.row()
                for value in values:
                    row.cell(value)
            self.set_text_shaping(shaping)
        self.set_font(MAIN, "", 9)


def _toc(pdf: FPDF, outline: list[OutlineSection]) -> None:
    pdf.set_text_shaping(False)
    pdf.set_x(pdf.l_margin)
    pdf.set_font(MAIN, "B", 11)
    pdf.cell(0, 7, "Contents", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "", 9.5)
    for section in outline:
        if section.level:
            continue
        label, page = section.name, str(section.page_number)
        room = pdf.w - pdf.l_margin - pdf.r_margin - pdf.get_string_width(page) - 2
        dots = "." * max(
            3, int((room - pdf.get_string_width(label) - 2) / pdf.get_string_width("."))
        )
        pdf.cell(room, 5.2, f"{label} {dots}", link=pdf.add_link(page=section.page_number))
        pdf.cell(0, 5.2, page, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _cover(pdf: BundlePDF, bundle: dict[str, Any], notices: list[str], signer: str) -> None:
    person, case, by = bundle["person"], bundle["case"], bundle["generated_by"]
    pdf.add_page()
    pdf.set_font(MAIN, "B", 20)
    pdf.cell(0, 11, "Case record", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "B", 15)
    names = [person.get("full_name") or "(name not recorded)"]
    if person.get("native_name"):
        names.append(person["native_name"])
    for name in names:
        pdf.multi_cell(0, 8.5, pdf.say(name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(MAIN, "B", 11)
    as_of = when(bundle["as_of"])
    pdf.set_fill_color(235, 240, 248)
    pdf.multi_cell(
        0,
        7,
        f"As of {as_of}" if bundle.get("as_of_requested") else f"As of {as_of} (generation)",
        fill=True,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(MAIN, "", 9)
    pdf.paragraph(
        "Everything in this document is as the organisation had recorded it at that moment: "
        "later entries are left out and later changes undone."
        if bundle.get("as_of_requested")
        else "Everything in this document is as recorded when it was generated."
    )
    pdf.ln(2)
    pdf.field("Case", case.get("title") or "(untitled)")
    pdf.field("Status", f"{case['status']}, {case['priority']} priority")
    pdf.field("Opened", when(case.get("created_at")))
    pdf.field("Generated", when(bundle["generated_at"]))
    role = ROLE_NAMES.get(by["role"], by["role"])
    pdf.field("Generated by", f"{by['username']} ({role})")
    pdf.field("Organisation", by.get("organisation") or "—")
    pdf.field("Signed by", signer)
    pdf.field("Software", f"Haven {bundle['haven_version']}")
    pdf.ln(2)
    pdf.paragraph(
        "Integrity: this file carries the organisation's digital signature (PAdES); a PDF "
        "reader's signature panel, poppler's pdfsig or `haven verify-export FILE` shows who "
        "signed it and that no byte has changed since. Its SHA-256 digest is kept in the "
        "organisation's signed audit trail. Identifiers and the machine detail of every "
        "timeline entry are in the appendix."
    )
    pdf.paragraph(
        "Confidential: personal data of a person at risk. Keep it encrypted at rest and share "
        "it only with those who need it for the person's protection."
    )
    if notices:
        pdf.paragraph(
            "Some text is in a script this PDF has no font for; it is marked "
            '"[… text not shown]" where it occurs and is complete in the JSON export: '
            + "; ".join(notices)
            + "."
        )
    pdf.ln(3)
    pdf.insert_toc_placeholder(_toc, pages=1, reset_page_indices=False)


def _person(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    person = bundle["person"]
    withheld = set(bundle.get("withheld_fields", []))
    pdf.heading("Person")  # the table of contents' placeholder ended the cover page
    for key, label in PERSON_FIELDS:
        value = person.get(key)
        shown = value_text(key, value) if value not in (None, [], "") else None
        pdf.field(label, "(withheld from your role)" if key in withheld else shown)
    risk = person.get("risk") or {}
    level = risk.get("level")
    pdf.field("Risk", f"{level} (score {text_of(risk.get('score'))} of 100)" if level else None)
    status = person.get("unhcr_status") or {}
    pdf.field(
        "UNHCR status",
        f"{words(text_of(status.get('status')))} since {day(status.get('effective_date'))}"
        if status
        else None,
    )


def _case(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    case = bundle["case"]
    pdf.heading("Case")
    pdf.field("Title", case.get("title"))
    pdf.field("Status", case["status"])
    pdf.field("Priority", case["priority"])
    pdf.field("Opened", when(case.get("created_at")))
    pdf.field("Closed", when(case.get("closed_at")))
    pdf.subheading("Assigned")
    pdf.grid(
        ("Role", "User", "Since"),
        (30, 90, 60),
        [
            [ROLE_NAMES.get(a["role"], a["role"]), a["username"], when(a["assigned_at"])]
            for a in case["assignments"]
        ],
    )


def _documents(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Travel documents")
    rows = [
        [
            words(d["type"]),
            text_of(d["number"]),
            country(d["issuing_country"]) if d["issuing_country"] else "—",
            when(d["issued_on"]),
            when(d["expires_on"]),
            words(d["status"]),
            when(d["status_date"]),
            text_of(d["status_source"]),
        ]
        for d in bundle.get("documents", [])
    ]
    pdf.grid(
        ("Type", "Number", "Issuer", "Issued", "Expires", "Status", "Since", "Source"),
        (20, 26, 24, 20, 20, 18, 20, 32),
        rows,
    )
    for document in bundle.get("documents", []):
        changes = document.get("status_history") or []
        if len(changes) > 1:
            pdf.subheading(
                f"Status changes of {words(document['type'])} {text_of(document['number'])}"
            )
            pdf.grid(
                ("Status", "Date", "Source", "Recorded"),
                (30, 30, 70, 50),
                [
                    [
                        words(c["status"]),
                        when(c["status_date"]),
                        text_of(c["status_source"]),
                        when(c["changed_at"]),
                    ]
                    for c in changes
                ],
            )


def _unhcr(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("UNHCR status history")
    pdf.grid(
        ("Effective", "Status", "Reference", "Expires", "Note", "Recorded"),
        (22, 30, 28, 22, 50, 28),
        [
            [
                when(s["effective_date"]),
                words(text_of(s["status"])),
                text_of(s["unhcr_reference"]),
                when(s["expires_on"]),
                _shorten(text_of(s["note"]), TEXT_MAX),
                when(s["recorded_at"]),
            ]
            for s in bundle.get("unhcr_status_history", [])
        ],
    )


def _incidents(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Incidents")
    if not bundle.get("incidents", []):
        pdf.paragraph("None recorded.")
    for incident in bundle.get("incidents", []):
        source = incident.get("source") or {}
        pdf.subheading(
            f"{words(incident['type']).capitalize()} in {country(incident['country'])} "
            f"on {day(incident['occurred_on'])}"
        )
        pdf.field("Location", incident.get("location"))
        pdf.field("Description", incident.get("description"))
        pdf.field("Perpetrator", incident.get("perpetrator"))
        grade, cred = text_of(source.get("reliability")), text_of(source.get("credibility"))
        pdf.field(
            "Source",
            f"{text_of(source.get('name'))} (source {grade}{cred}: reliability {grade}, "
            f"credibility {cred})",
        )
        pdf.field(
            "Recorded",
            f"{when(incident.get('created_at'))} by {text_of(incident.get('created_by'))}",
        )
        if incident.get("after_return"):
            pdf.field("Flag", "reported for a date after the person's recorded forced return")
        others = [i for i in incident.get("individual_ids", []) if i != bundle["person"]["id"]]
        if others:
            pdf.field("Also concerns", f"{len(others)} other person(s) in your scope")


def _notes(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Notes")
    if not bundle.get("notes", []):
        pdf.paragraph("None recorded.")
    for note in bundle.get("notes", []):
        kind = "Legal note" if note["kind"] == "legal" else "Note"
        pdf.subheading(f"{kind} by {text_of(note['author'])}, {when(note['created_at'])}")
        pdf.paragraph(text_of(note["body"]))


def _attachments(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Attachments")
    pdf.grid(
        ("File", "Type", "Size", "SHA-256", "Added"),
        (45, 28, 17, 60, 30),
        [
            [
                a["filename"],
                a["content_type"],
                f"{a['size']:,} bytes",
                a["sha256"],
                when(a["created_at"]),
            ]
            for a in bundle.get("attachments", [])
        ],
    )


def _timeline(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Timeline", new_page=True)
    entries = bundle.get("timeline", [])
    if not entries:
        pdf.paragraph("None recorded.")
        return
    pdf.paragraph(
        f"{len(entries)} entries, oldest first. The number in brackets leads to the entry's "
        "machine record in Appendix B."
    )
    pdf.ln(1)
    for number, entry in enumerate(entries, start=1):
        if pdf.get_y() > pdf.page_break_trigger - 3 * LINE:
            pdf.add_page()  # keep an entry's lines together
        pdf.set_text_shaping(False)
        pdf.set_font(MAIN, "B", 8.5)
        stamp = when(entry["at"])
        pdf.cell(40, 4.4, stamp)
        pdf.set_font(MAIN, "", 9)
        said = sentence(entry)
        pdf.line_of(said if said.endswith(".") else f"{said}.", 4.4)
        pdf.set_x(pdf.l_margin + 40)
        pdf.set_font(MAIN, "", 7.5)
        pdf.set_text_color(90)
        pdf.line_of(f"Recorded by {text_of(entry['actor'])} [{number}]", 3.6)
        pdf.set_text_color(0)
        pdf.ln(1.4)


def _changes(entry: dict[str, Any]) -> str:
    changes = entry.get("changes")
    if not changes:
        return ""
    lines = [f"{key}: {text_of(value)}" for key, value in sorted(changes.items())]
    return _shorten("\n".join(lines), TEXT_MAX)


def _appendix(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    """The identifiers and each timeline entry as recorded: for the other side's expert."""
    case, person, by = bundle["case"], bundle["person"], bundle["generated_by"]
    pdf.heading("Appendix A: identifiers", new_page=True)
    pdf.field("Case id", case["id"])
    pdf.field("Person id", person["id"])
    pdf.field("Generated by (user id)", by["id"])
    pdf.field("Format", f"{bundle['format']} version {bundle['format_version']}")
    pdf.field("As of (ISO 8601)", bundle["as_of"])
    pdf.field("Generated at (ISO 8601)", bundle["generated_at"])
    for document in bundle.get("documents", []):
        pdf.field(f"Document {text_of(document['number'])}", document["id"])
    for incident in bundle.get("incidents", []):
        pdf.field(f"Incident of {incident['occurred_on']}", incident["id"])
    for attachment in bundle.get("attachments", []):
        pdf.field(f"Attachment {attachment['filename']}", attachment["id"])
    pdf.heading("Appendix B: timeline entries as recorded", new_page=True)
    pdf.paragraph("Each entry's kind, subject and recorded values, as Haven stores them.")
    for number, entry in enumerate(bundle.get("timeline", []), start=1):
        if pdf.get_y() > pdf.page_break_trigger - 3 * LINE:
            pdf.add_page()
        pdf.set_text_shaping(False)
        pdf.set_font(MAIN, "B", 8)
        pdf.set_x(pdf.l_margin)
        subject = (
            f" · {entry['subject_type']} {entry['subject_id']}" if entry.get("subject_id") else ""
        )
        pdf.line_of(f"[{number}] {entry['at']} · {entry['kind']}{subject}", 4)
        values = _changes(entry)
        pdf.set_font(MAIN, "", 7.5)
        pdf.set_text_color(60)
        for line in values.split("\n") if values else []:
            pdf.set_x(pdf.l_margin + 6)
            pdf.line_of(line, 3.6)
        pdf.set_text_color(0)
        pdf.ln(0.8)


def render_pdf(bundle: dict[str, Any], *, signer: str = "the organisation") -> bytes:
    """The bundle (as plain JSON data) as a PDF document, ready to be signed."""
    pdf = BundlePDF(bundle)
    _cover(pdf, bundle, unshown(bundle, SECTIONS), signer)
    for section in (_person, _case, _documents, _unhcr, _incidents, _notes, _attachments):
        section(pdf, bundle)
    _timeline(pdf, bundle)
    _appendix(pdf, bundle)
    return bytes(pdf.output())
