"""The lawyer's bundle as PDF (fpdf2): title page, person, documents, status, incidents,
notes, attachments and the timeline.

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

from app.cases.glyphs import FALLBACKS, FONT_DIR, FONTS, MAIN, needs_shaping, unshown, visible

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
    """An ISO timestamp as "2025-06-01 10:30 UTC" (dates stay as they are)."""
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if "T" not in value:
        return value
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " … (shortened; see the JSON export)"


# The document -----------------------------------------------------------------------------------
class BundlePDF(FPDF):
    def __init__(self, bundle: dict[str, Any]) -> None:
        super().__init__(format="A4")
        self.bundle = bundle
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
            f"Haven case export · case {self.bundle['case']['id']} · "
            f"generated {when(self.bundle['generated_at'])} · confidential · page {self.page_no()}",
            align="C",
        )
        self.set_text_color(0)

    # Building blocks
    def heading(self, title: str) -> None:
        if self.get_y() > self.h - 60:
            self.add_page()
        self.start_section(title)  # a PDF bookmark
        self.ln(3)
        self.set_font(MAIN, "B", 13)
        self.cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(MAIN, "", 9)

    def subheading(self, title: str) -> None:
        self.ln(1)
        self.set_font(MAIN, "B", 10)
        self.multi_cell(0, LINE + 1, self.say(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        room = self.w - self.r_margin - self.get_x()
        if "\n" not in shown and self.get_string_width(shown) < room - 1:
            self.cell(room, height, shown, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            self.multi_cell(room, height, shown, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

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


def _title_page(pdf: BundlePDF, bundle: dict[str, Any], notices: list[str]) -> None:
    person, case, by = bundle["person"], bundle["case"], bundle["generated_by"]
    pdf.add_page()
    pdf.set_font(MAIN, "B", 20)
    pdf.cell(0, 12, "Case bundle", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "B", 15)
    names = [person.get("full_name") or "(name not recorded)"]
    if person.get("native_name"):
        names.append(person["native_name"])
    for name in names:
        pdf.multi_cell(0, 9, pdf.say(name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(MAIN, "", 10)
    pdf.field("Case", case.get("title") or "(untitled)")
    pdf.field("Case id", case["id"])
    pdf.field("Person id", person["id"])
    pdf.field("Status", f"{case['status']}, priority {case['priority']}")
    pdf.field("Opened", when(case.get("created_at")))
    pdf.field("Generated", when(bundle["generated_at"]))
    pdf.field("Generated by", f"{by['username']} ({by['role']})")
    pdf.field("Haven version", bundle["haven_version"])
    pdf.field("Format", f"{bundle['format']} v{bundle['format_version']}")
    pdf.ln(4)
    pdf.paragraph(
        "Confidential. This bundle holds personal data of a person at risk; keep it encrypted "
        "at rest and share it only with those who need it for the person's protection."
    )
    pdf.paragraph(
        "Integrity: the SHA-256 digest of this file was sent with it (HTTP header "
        "X-Content-SHA256) and is kept in Haven's audit log; compare it before relying on a copy."
    )
    pdf.ln(3)
    pdf.set_font(MAIN, "B", 10)
    pdf.cell(0, 6, "Scripts", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "", 9)
    if not notices:
        pdf.paragraph("All text is shown in its own script.")
    else:
        pdf.paragraph(
            "Some text is in a script this PDF has no font for; it is marked "
            '"[… text not shown]" where it occurs and is complete in the JSON export:'
        )
        for notice in notices:
            pdf.paragraph(f"• {notice}")
    pdf.ln(3)
    pdf.set_font(MAIN, "B", 10)
    pdf.cell(0, 6, "Contents", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "", 9)
    pdf.paragraph(", ".join(SECTIONS.values()) + ".")


def _person(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    person = bundle["person"]
    withheld = set(bundle.get("withheld_fields", []))
    pdf.heading("Person")
    for key, label in PERSON_FIELDS:
        pdf.field(label, "(withheld from your role)" if key in withheld else person.get(key))
    risk = person.get("risk") or {}
    pdf.field("Risk", f"{text_of(risk.get('level'))} (score {text_of(risk.get('score'))})")
    status = person.get("unhcr_status") or {}
    pdf.field(
        "UNHCR status",
        f"{text_of(status.get('status'))} since {text_of(status.get('effective_date'))}"
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
        [[a["role"], a["username"], when(a["assigned_at"])] for a in case["assignments"]],
    )


def _documents(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Travel documents")
    rows = [
        [
            text_of(d["type"]),
            text_of(d["number"]),
            text_of(d["issuing_country"]),
            text_of(d["issued_on"]),
            text_of(d["expires_on"]),
            text_of(d["status"]),
            text_of(d["status_date"]),
            text_of(d["status_source"]),
        ]
        for d in bundle.get("documents", [])
    ]
    pdf.grid(
        ("Type", "Number", "Issuer", "Issued", "Expires", "Status", "Since", "Source"),
        (20, 30, 15, 21, 21, 21, 21, 31),
        rows,
    )
    for document in bundle.get("documents", []):
        changes = document.get("status_history") or []
        if len(changes) > 1:
            pdf.subheading(f"Status changes of {document['type']} {text_of(document['number'])}")
            pdf.grid(
                ("Status", "Date", "Source", "Recorded"),
                (30, 30, 70, 50),
                [
                    [
                        c["status"],
                        text_of(c["status_date"]),
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
                text_of(s["effective_date"]),
                text_of(s["status"]),
                text_of(s["unhcr_reference"]),
                text_of(s["expires_on"]),
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
        pdf.subheading(f"{incident['occurred_on']} · {incident['type']} · {incident['country']}")
        source = incident.get("source") or {}
        pdf.field("Location", incident.get("location"))
        pdf.field("Description", incident.get("description"))
        pdf.field("Perpetrator", incident.get("perpetrator"))
        pdf.field(
            "Source",
            f"{text_of(source.get('name'))} (reliability {text_of(source.get('reliability'))}, "
            f"credibility {text_of(source.get('credibility'))})",
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
        pdf.subheading(f"{kind} · {text_of(note['author'])} · {when(note['created_at'])}")
        pdf.paragraph(text_of(note["body"]))


def _attachments(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Attachments")
    pdf.grid(
        ("File", "Type", "Bytes", "SHA-256", "Added"),
        (45, 30, 17, 60, 28),
        [
            [a["filename"], a["content_type"], str(a["size"]), a["sha256"], when(a["created_at"])]
            for a in bundle.get("attachments", [])
        ],
    )


def _changes(entry: dict[str, Any]) -> str:
    changes = entry.get("changes")
    if not changes:
        return ""
    lines = [f"{key}: {text_of(value)}" for key, value in sorted(changes.items())]
    return _shorten("\n".join(lines), TEXT_MAX)


def _timeline(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading("Timeline")
    if not bundle.get("timeline", []):
        pdf.paragraph("None recorded.")
    for entry in bundle.get("timeline", []):
        if pdf.get_y() > pdf.page_break_trigger - 3 * LINE:
            pdf.add_page()  # keep an entry's first lines together
        pdf.set_text_shaping(False)
        pdf.set_font(MAIN, "B", 8.5)
        stamp = when(entry["at"])
        pdf.cell(pdf.get_string_width(stamp) + 2, 4.2, stamp)
        pdf.set_font(MAIN, "", 8.5)
        pdf.line_of(f"{entry['summary']} — {text_of(entry['actor'])} ({entry['kind']})", 4.2)
        values = _changes(entry)
        if values:
            pdf.set_font(MAIN, "", 8)
            pdf.set_text_color(60)
            for line in values.split("\n"):
                pdf.set_x(pdf.l_margin + 6)
                pdf.line_of(line, 3.8)
            pdf.set_text_color(0)
        pdf.ln(1.2)


def render_pdf(bundle: dict[str, Any]) -> bytes:
    """The bundle (as plain JSON data) as a PDF document."""
    pdf = BundlePDF(bundle)
    _title_page(pdf, bundle, unshown(bundle, SECTIONS))
    pdf.add_page()
    for section in (_person, _case, _documents, _unhcr, _incidents, _notes, _attachments):
        section(pdf, bundle)
    _timeline(pdf, bundle)
    return bytes(pdf.output())
