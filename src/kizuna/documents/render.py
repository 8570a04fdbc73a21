"""Render a :class:`Document` as HTML, PDF (WeasyPrint) or a PowerPoint deck (python-pptx).

Templates ship with the package (``templates/document.html.j2``, ``style.css``);
a folder set in ``documents_templates_dir`` overrides any of them, and a
``master.pptx`` there replaces the deck master (python-pptx's own default, in
16:9, is used otherwise). Vendor name, logo and colour come from the settings.
"""

from __future__ import annotations

import base64
import mimetypes
from functools import cache
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from kizuna.documents.charts import font_family
from kizuna.documents.i18n import Lang
from kizuna.documents.model import Document, Section
from kizuna.settings import Settings

ROWS_PER_SLIDE = 9
IMAGES_PER_SLIDE = 2


def _data_uri(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(png).decode()}"


@cache
def template_environment(override: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override is not None:
        loaders.append(jinja2.FileSystemLoader(str(override)))
    loaders.append(jinja2.PackageLoader("kizuna.documents", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True)
    env.filters["data_uri"] = _data_uri
    return env


def _logo(settings: Settings) -> str | None:
    path = settings.vendor_logo
    if path is None or not path.is_file():
        return None
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return _data_uri(path.read_bytes(), mime)


def css_font_stack(lang: str) -> str:
    first = font_family(lang)
    return f'"{first}", "Noto Sans CJK JP", "Noto Sans", "DejaVu Sans", sans-serif'


def render_html(doc: Document, settings: Settings) -> str:
    env = template_environment(settings.documents_templates_dir)
    assert env.loader is not None
    css_source, _path, _up = env.loader.get_source(env, "style.css")
    css = css_source.replace("{{FONT}}", css_font_stack(doc.language)).replace(
        "{{COLOR}}", settings.vendor_color
    )
    lang = Lang(doc.language)
    footer = lang._("As of {day}").format(day=lang.date(doc.as_of))
    return env.get_template("document.html.j2").render(
        doc=doc, css=css, logo=_logo(settings), footer=footer
    )


def render_pdf(doc: Document, settings: Settings) -> bytes:
    from weasyprint import HTML  # imported late: it loads Pango, slow to start

    pdf: bytes = HTML(string=render_html(doc, settings)).write_pdf()
    return pdf


# -- decks ------------------------------------------------------------------------


def _master(settings: Settings) -> Any:
    folder = settings.documents_templates_dir
    if folder is not None and (folder / "master.pptx").is_file():
        return Presentation(str(folder / "master.pptx"))
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    return prs


def _rgb(color: str) -> RGBColor:
    return RGBColor.from_string(color.lstrip("#").upper())


def _style_runs(
    frame: Any, font: str, size: int | None = None, color: RGBColor | None = None
) -> None:
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.name = font
            rpr = run._r.get_or_add_rPr()
            for tag in ("a:ea", "a:cs"):
                el = rpr.find(qn(tag))
                if el is None:
                    el = rpr.makeelement(qn(tag), {})
                    rpr.append(el)
                el.set("typeface", font)
            if size:
                run.font.size = Pt(size)
            if color is not None:
                run.font.color.rgb = color


def _title_slide(prs: Any, doc: Document, settings: Settings, font: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    slide.shapes.title.text = doc.title
    _style_runs(slide.shapes.title.text_frame, font, 36, _rgb(settings.vendor_color))
    if len(slide.placeholders) > 1:
        body = slide.placeholders[1]
        body.text = f"{doc.subtitle}\n{doc.edition_label}\n{doc.vendor_name}"
        _style_runs(body.text_frame, font, 16)
    if settings.vendor_logo is not None and settings.vendor_logo.is_file():
        slide.shapes.add_picture(
            str(settings.vendor_logo), Inches(0.4), Inches(0.3), height=Inches(0.6)
        )


def _content_slide(prs: Any, heading: str, settings: Settings, font: str) -> Any:
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    bar = slide.shapes.add_shape(
        MSO_SHAPE.RECTANGLE,
        0,
        0,
        prs.slide_width,
        Inches(0.15),
    )
    bar.fill.solid()
    bar.fill.fore_color.rgb = _rgb(settings.vendor_color)
    bar.line.fill.background()
    title = slide.shapes.title
    title.text = heading
    title.left, title.top, title.width, title.height = (
        Inches(0.5),
        Inches(0.3),
        prs.slide_width - Inches(1.0),
        Inches(0.9),
    )
    _style_runs(title.text_frame, font, 28, _rgb(settings.vendor_color))
    return slide


def _section_slides(prs: Any, s: Section, settings: Settings, font: str) -> None:
    width = prs.slide_width - Inches(1.0)
    text = list(s.paragraphs) + [f"• {b}" for b in s.bullets]
    tables = [
        (t, rows)
        for t in s.tables
        for rows in [
            t.rows[i : i + ROWS_PER_SLIDE] for i in range(0, max(len(t.rows), 1), ROWS_PER_SLIDE)
        ]
    ]
    if text or not tables:
        slide = _content_slide(prs, s.heading, settings, font)
        box = slide.shapes.add_textbox(Inches(0.5), Inches(1.4), width, Inches(5.5))
        frame = box.text_frame
        frame.word_wrap = True
        for i, line in enumerate(text or [""]):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            para.text = line
        _style_runs(frame, font, 16)
    for table, rows in tables:
        slide = _content_slide(prs, s.heading, settings, font)
        shape = slide.shapes.add_table(
            len(rows) + 1,
            len(table.headers),
            Inches(0.5),
            Inches(1.4),
            width,
            Emu(Inches(0.4) * (len(rows) + 1)),
        )
        grid = shape.table
        for c, header in enumerate(table.headers):
            cell = grid.cell(0, c)
            cell.text = header
            cell.fill.solid()
            cell.fill.fore_color.rgb = _rgb(settings.vendor_color)
            _style_runs(cell.text_frame, font, 12, RGBColor(0xFF, 0xFF, 0xFF))
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                cell = grid.cell(r, c)
                cell.text = value
                _style_runs(cell.text_frame, font, 12)
    for i in range(0, len(s.images), IMAGES_PER_SLIDE):
        slide = _content_slide(prs, s.heading, settings, font)
        for j, image in enumerate(s.images[i : i + IMAGES_PER_SLIDE]):
            slide.shapes.add_picture(
                BytesIO(image.png),
                Inches(0.5 + j * 6.3),
                Inches(1.6),
                width=Inches(6.0),
            )


def render_pptx(doc: Document, settings: Settings) -> bytes:
    font = font_family(doc.language)
    prs: Any = _master(settings)
    _title_slide(prs, doc, settings, font)
    for s in doc.sections:
        _section_slides(prs, s, settings, font)
    out = BytesIO()
    prs.save(out)
    return out.getvalue()


def package_templates() -> Path:
    """The folder of the shipped templates (copy it to start an override folder)."""
    return Path(str(resources.files("kizuna.documents") / "templates"))
