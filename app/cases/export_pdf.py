"""The lawyer's bundle as PDF (fpdf2), written for a judge: a cover page (the case, as of
when, who generated it for which organisation, and a table of contents), the person, documents,
status, incidents, notes, attachments and the timeline as sentences; identifiers and the
machine detail of each timeline entry (kinds, factor codes, weights) only in the appendix.
Every page says "as of" and "Page N of M". The document is signed afterwards (signing.py).

Fonts ship in ``fonts/`` (see its README and ``glyphs.py``): DejaVu Sans, with Noto Sans Khmer,
Thai and Lao as fallbacks, shaped by HarfBuzz so that stacked Khmer consonants and vowel signs
come out right. Text in a script none of them covers is replaced by a visible marker
(``[Myanmar text not shown]``) and listed on the title page, so the PDF never silently drops it.

Headings, labels, the cover, the footer and the timeline's sentences are in the language of the
moment (``app.i18n.using``: the export's ``lang``); the data (names, typed text, numbers, codes
in the appendix) and the document's metadata stay as recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.outline import OutlineSection

from app.cases.glyphs import FALLBACKS, FONT_DIR, FONTS, MAIN, needs_shaping, unshown, visible
from app.cases.readable import ROLES, country, day, moment, sentence, term, value_text
from app.i18n import N_, _

TEXT_MAX = 900  # a table cell must fit on a page; the JSON export has it all
LINE = 5.0

PERSON_FIELDS = (
    ("full_name", N_("Full name")),
    ("native_name", N_("Native name")),
    ("aliases", N_("Aliases")),
    ("date_of_birth", N_("Date of birth")),
    ("sex", N_("Sex")),
    ("nationalities", N_("Nationalities")),
    ("affiliation", N_("Affiliation")),
    ("affiliation_role", N_("Role in affiliation")),
    ("current_country", N_("Current country")),
    ("current_location", N_("Current location")),
    ("contact", N_("Contact")),
    ("notes", N_("Notes")),
)
SECTIONS = {
    "person": N_("Person"),
    "case": N_("Case"),
    "documents": N_("Travel documents"),
    "unhcr_status_history": N_("UNHCR status history"),
    "incidents": N_("Incidents"),
    "notes": N_("Notes"),
    "attachments": N_("Attachments"),
    "timeline": N_("Timeline"),
}


# Formatting -------------------------------------------------------------------------------------
def text_of(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
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


def role_name(code: str) -> str:
    """An assignment role in the reader's words ("counsel" for a lawyer)."""
    return _(ROLES[code]) if code in ROLES else term(code)


def _shorten(text: str, limit: int) -> str:
    return (
        text if len(text) <= limit else text[:limit] + " … " + _("(shortened; see the JSON export)")
    )


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
        shaped = needs_shaping(shown)
        self.set_text_shaping(shaped)
        if shaped:
            self.font_again()
        return shown

    def font_again(self) -> None:
        """Have the next text name its font again: after a line that ended in a fallback font
        (a Khmer full stop), fpdf2 2.8 writes the next shaped line with no font selected."""
        self.current_font_is_set_on_page = False

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(MAIN, "", 7)
        self.set_text_color(90)
        text = _(
            "Haven case record as of %(as_of)s · generated %(generated)s · confidential · "
            "Page %(page)s of %(pages)s"
        ) % {
            "as_of": when(self.bundle["as_of"]),
            "generated": when(self.bundle["generated_at"]),
            "page": self.page_no(),
            "pages": self.str_alias_nb_pages,
        }
        self.cell(0, 4, self.say(text), align="C")
        self.set_text_color(0)

    # Building blocks
    def heading(self, title: str, *, new_page: bool = False) -> None:
        if new_page or self.get_y() > self.h - 60:
            self.add_page()
        self.start_section(title)  # a PDF bookmark and a line of the table of contents
        self.ln(3)
        self.set_font(MAIN, "B", 13)
        self.cell(0, 8, self.say(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(MAIN, "", 9)

    def subheading(self, title: str) -> None:
        self.ln(1)
        self.set_font(MAIN, "B", 10)
        self.set_x(self.l_margin)
        self.line_of(title, LINE + 1)
        self.set_font(MAIN, "", 9)

    def field(self, label: str, value: Any) -> None:
        self.set_font(MAIN, "B", 9)
        shown = self.say(_("%(label)s:") % {"label": label})
        self.cell(self.get_string_width(shown) + 1.5, LINE, shown)
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
        # Shaped text is wrapped here too: fpdf2's multi_cell loses the fallback font of a
        # shaped line it breaks (the next line's glyphs come out of the wrong font).
        lines = self._wrapped(shown, room - 1)
        if lines is None:
            self.multi_cell(room, height, shown, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        shaped = needs_shaping(shown)
        for line in lines:
            self.set_x(left)
            if shaped:
                self.font_again()
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
            self.paragraph(_("None recorded."))
            return
        self.set_font(MAIN, "", 8)
        cells = [[visible(value)[0] for value in values] for values in rows]
        headings = tuple(visible(title)[0] for title in headings)
        # A table renders its cells when it closes, so shaping is set for the table as a whole.
        shaping = any(needs_shaping(value) for values in [headings, *cells] for value in values)
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
    assert isinstance(pdf, BundlePDF)
    pdf.set_x(pdf.l_margin)
    pdf.set_font(MAIN, "B", 11)
    pdf.cell(0, 7, pdf.say(_("Contents")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "", 9.5)
    for section in outline:
        if section.level:
            continue
        label, page = pdf.say(section.name), str(section.page_number)
        room = pdf.w - pdf.l_margin - pdf.r_margin - pdf.get_string_width(page) - 2
        dots = "." * max(
            3, int((room - pdf.get_string_width(label) - 2) / pdf.get_string_width("."))
        )
        pdf.cell(room, 5.2, f"{label} {dots}", link=pdf.add_link(page=section.page_number))
        pdf.set_text_shaping(False)
        pdf.cell(0, 5.2, page, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _cover(pdf: BundlePDF, bundle: dict[str, Any], notices: list[str], signer: str) -> None:
    person, case, by = bundle["person"], bundle["case"], bundle["generated_by"]
    pdf.add_page()
    pdf.set_font(MAIN, "B", 20)
    pdf.cell(0, 11, pdf.say(_("Case record")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(MAIN, "B", 15)
    names = [person.get("full_name") or _("(name not recorded)")]
    if person.get("native_name"):
        names.append(person["native_name"])
    for name in names:
        pdf.multi_cell(0, 8.5, pdf.say(name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(MAIN, "B", 11)
    as_of = when(bundle["as_of"])
    pdf.set_fill_color(235, 240, 248)
    requested = bool(bundle.get("as_of_requested"))
    pdf.multi_cell(
        0,
        7,
        pdf.say(
            _("As of %(moment)s") % {"moment": as_of}
            if requested
            else _("As of %(moment)s (generation)") % {"moment": as_of}
        ),
        fill=True,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(MAIN, "", 9)
    pdf.paragraph(
        _(
            "Everything in this document is as the organisation had recorded it at that "
            "moment: later entries are left out and later changes undone."
        )
        if requested
        else _("Everything in this document is as recorded when it was generated.")
    )
    pdf.ln(2)
    pdf.field(_("Case"), case.get("title") or _("(untitled)"))
    pdf.field(
        _("Status"),
        _("%(status)s, %(priority)s priority")
        % {"status": term(case["status"]), "priority": term(case["priority"])},
    )
    pdf.field(_("Opened"), when(case.get("created_at")))
    pdf.field(_("Generated"), when(bundle["generated_at"]))
    pdf.field(_("Generated by"), f"{by['username']} ({role_name(by['role'])})")
    pdf.field(_("Organisation"), by.get("organisation") or "—")
    pdf.field(_("Signed by"), signer)
    pdf.field(_("Software"), f"Haven {bundle['haven_version']}")
    pdf.ln(2)
    pdf.paragraph(
        _(
            "Integrity: this file carries the organisation's digital signature (PAdES); a PDF "
            "reader's signature panel, poppler's pdfsig or `haven verify-export FILE` shows who "
            "signed it and that no byte has changed since. Its SHA-256 digest is kept in the "
            "organisation's signed audit trail. Identifiers and the machine detail of every "
            "timeline entry are in the appendix."
        )
    )
    pdf.paragraph(
        _(
            "Confidential: personal data of a person at risk. Keep it encrypted at rest and "
            "share it only with those who need it for the person's protection."
        )
    )
    if notices:
        pdf.paragraph(
            _(
                "Some text is in a script this PDF has no font for; it is marked "
                '"[… text not shown]" where it occurs and is complete in the JSON export: '
                "%(where)s."
            )
            % {"where": "; ".join(notices)}
        )
    pdf.ln(3)
    pdf.insert_toc_placeholder(_toc, pages=1, reset_page_indices=False)


def _person(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    person = bundle["person"]
    withheld = set(bundle.get("withheld_fields", []))
    pdf.heading(_(SECTIONS["person"]))  # the table of contents' placeholder ended the cover
    for key, label in PERSON_FIELDS:
        value = person.get(key)
        shown = value_text(key, value) if value not in (None, [], "") else None
        pdf.field(_(label), _("(withheld from your role)") if key in withheld else shown)
    risk = person.get("risk") or {}
    level = risk.get("level")
    pdf.field(
        _("Risk"),
        _("%(level)s (score %(score)s of 100)")
        % {"level": term(level), "score": text_of(risk.get("score"))}
        if level
        else None,
    )
    status = person.get("unhcr_status") or {}
    pdf.field(
        _("UNHCR status"),
        _("%(status)s since %(date)s")
        % {"status": term(text_of(status.get("status"))), "date": day(status.get("effective_date"))}
        if status
        else None,
    )


def _case(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    case = bundle["case"]
    pdf.heading(_(SECTIONS["case"]))
    pdf.field(_("Title"), case.get("title"))
    pdf.field(_("Status"), term(case["status"]))
    pdf.field(_("Priority"), term(case["priority"]))
    pdf.field(_("Opened"), when(case.get("created_at")))
    pdf.field(_("Closed on"), when(case.get("closed_at")))
    pdf.subheading(_("Assigned"))
    pdf.grid(
        (_("Role"), _("User"), _("Since")),
        (30, 90, 60),
        [
            [role_name(a["role"]), a["username"], when(a["assigned_at"])]
            for a in case["assignments"]
        ],
    )


def _documents(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["documents"]))
    rows = [
        [
            term(d["type"]),
            text_of(d["number"]),
            country(d["issuing_country"]) if d["issuing_country"] else "—",
            when(d["issued_on"]),
            when(d["expires_on"]),
            term(d["status"]),
            when(d["status_date"]),
            text_of(d["status_source"]),
        ]
        for d in bundle.get("documents", [])
    ]
    pdf.grid(
        (
            _("Type"),
            _("Number"),
            _("Issuer"),
            _("Issued"),
            _("Expires"),
            _("Status"),
            _("Since"),
            _("Source"),
        ),
        (20, 26, 24, 20, 20, 18, 20, 32),
        rows,
    )
    for document in bundle.get("documents", []):
        changes = document.get("status_history") or []
        if len(changes) > 1:
            pdf.subheading(
                _("Status changes of %(document)s %(number)s")
                % {"document": term(document["type"]), "number": text_of(document["number"])}
            )
            pdf.grid(
                (_("Status"), _("Date"), _("Source"), _("Recorded")),
                (30, 30, 70, 50),
                [
                    [
                        term(c["status"]),
                        when(c["status_date"]),
                        text_of(c["status_source"]),
                        when(c["changed_at"]),
                    ]
                    for c in changes
                ],
            )


def _unhcr(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["unhcr_status_history"]))
    pdf.grid(
        (_("Effective"), _("Status"), _("Reference"), _("Expires"), _("Note"), _("Recorded")),
        (22, 30, 28, 22, 50, 28),
        [
            [
                when(s["effective_date"]),
                term(text_of(s["status"])),
                text_of(s["unhcr_reference"]),
                when(s["expires_on"]),
                _shorten(text_of(s["note"]), TEXT_MAX),
                when(s["recorded_at"]),
            ]
            for s in bundle.get("unhcr_status_history", [])
        ],
    )


def _incidents(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["incidents"]))
    if not bundle.get("incidents", []):
        pdf.paragraph(_("None recorded."))
    for incident in bundle.get("incidents", []):
        source = incident.get("source") or {}
        pdf.subheading(
            _("%(kind)s in %(country)s on %(date)s")
            % {
                "kind": term(incident["type"]).capitalize(),
                "country": country(incident["country"]),
                "date": day(incident["occurred_on"]),
            }
        )
        pdf.field(_("Location"), incident.get("location"))
        pdf.field(_("Description"), incident.get("description"))
        pdf.field(_("Perpetrator"), incident.get("perpetrator"))
        grade, cred = text_of(source.get("reliability")), text_of(source.get("credibility"))
        pdf.field(
            _("Source"),
            _(
                "%(name)s (source %(grade)s: reliability %(reliability)s, "
                "credibility %(credibility)s)"
            )
            % {
                "name": text_of(source.get("name")),
                "grade": f"{grade}{cred}",
                "reliability": grade,
                "credibility": cred,
            },
        )
        pdf.field(
            _("Recorded"),
            _("%(moment)s by %(user)s")
            % {
                "moment": when(incident.get("created_at")),
                "user": text_of(incident.get("created_by")),
            },
        )
        if incident.get("after_return"):
            pdf.field(_("Flag"), _("reported for a date after the person's recorded forced return"))
        others = [i for i in incident.get("individual_ids", []) if i != bundle["person"]["id"]]
        if others:
            pdf.field(
                _("Also concerns"),
                _("%(count)s other person(s) in your scope") % {"count": len(others)},
            )


def _notes(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["notes"]))
    if not bundle.get("notes", []):
        pdf.paragraph(_("None recorded."))
    for note in bundle.get("notes", []):
        values = {"author": text_of(note["author"]), "moment": when(note["created_at"])}
        pdf.subheading(
            _("Legal note by %(author)s, %(moment)s") % values
            if note["kind"] == "legal"
            else _("Note by %(author)s, %(moment)s") % values
        )
        pdf.paragraph(text_of(note["body"]))


def _attachments(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["attachments"]))
    pdf.grid(
        (_("File"), _("Type"), _("Size"), "SHA-256", _("Added")),
        (45, 28, 17, 60, 30),
        [
            [
                a["filename"],
                a["content_type"],
                _("%(size)s bytes") % {"size": f"{a['size']:,}"},
                a["sha256"],
                when(a["created_at"]),
            ]
            for a in bundle.get("attachments", [])
        ],
    )


def _timeline(pdf: BundlePDF, bundle: dict[str, Any]) -> None:
    pdf.heading(_(SECTIONS["timeline"]), new_page=True)
    entries = bundle.get("timeline", [])
    if not entries:
        pdf.paragraph(_("None recorded."))
        return
    pdf.paragraph(
        _(
            "%(count)s entries, oldest first. The number in brackets leads to the entry's "
            "machine record in Appendix B."
        )
        % {"count": len(entries)}
    )
    pdf.ln(1)
    for number, entry in enumerate(entries, start=1):
        if pdf.get_y() > pdf.page_break_trigger - 3 * LINE:
            pdf.add_page()  # keep an entry's lines together
        pdf.set_font(MAIN, "B", 8.5)
        stamp = pdf.say(when(entry["at"]))
        pdf.cell(40, 4.4, stamp)
        pdf.set_font(MAIN, "", 9)
        said = sentence(entry)
        ended = said.endswith((".", "។")) or not said
        pdf.line_of(said if ended else _("%(sentence)s.") % {"sentence": said}, 4.4)
        pdf.set_x(pdf.l_margin + 40)
        pdf.set_font(MAIN, "", 7.5)
        pdf.set_text_color(90)
        pdf.line_of(
            _("Recorded by %(user)s [%(number)s]")
            % {"user": text_of(entry["actor"]), "number": number},
            3.6,
        )
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
    pdf.heading(_("Appendix A: identifiers"), new_page=True)
    pdf.field(_("Case id"), case["id"])
    pdf.field(_("Person id"), person["id"])
    pdf.field(_("Generated by (user id)"), by["id"])
    pdf.field(
        _("Format"),
        _("%(format)s version %(version)s")
        % {"format": bundle["format"], "version": bundle["format_version"]},
    )
    pdf.field(_("As of (ISO 8601)"), bundle["as_of"])
    pdf.field(_("Generated at (ISO 8601)"), bundle["generated_at"])
    for document in bundle.get("documents", []):
        pdf.field(
            _("Document %(number)s") % {"number": text_of(document["number"])}, document["id"]
        )
    for incident in bundle.get("incidents", []):
        pdf.field(_("Incident of %(date)s") % {"date": incident["occurred_on"]}, incident["id"])
    for attachment in bundle.get("attachments", []):
        pdf.field(_("Attachment %(name)s") % {"name": attachment["filename"]}, attachment["id"])
    pdf.heading(_("Appendix B: timeline entries as recorded"), new_page=True)
    pdf.paragraph(_("Each entry's kind, subject and recorded values, as Haven stores them."))
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
    """The bundle (as plain JSON data) as a PDF document, ready to be signed; its words in the
    language of the moment (``with i18n.using(code):``)."""
    pdf = BundlePDF(bundle)
    _cover(pdf, bundle, unshown(bundle, {key: _(title) for key, title in SECTIONS.items()}), signer)
    for section in (_person, _case, _documents, _unhcr, _incidents, _notes, _attachments):
        section(pdf, bundle)
    _timeline(pdf, bundle)
    _appendix(pdf, bundle)
    return bytes(pdf.output())
