"""The catalogs: every text the code and templates show is translated into English and
Russian, none fuzzy or empty, none out of date with the extraction, placeholders kept.

(docs/translating.md says how to fix a failure here: `make i18n`, translate, run again.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from mcqs import i18n, messages

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "mcqs"
LOCALE = SRC / "locale"
TRANSLATED = [lang for lang in i18n.Language if lang != i18n.DEFAULT]

# What must survive translation unchanged: str.format and %-format placeholders, and markup.
PLACEHOLDER = re.compile(r"\{[a-z_]*\}|%\([a-z_]+\)s|</?[a-z]+>")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        # abort_invalid: a line that is not PO (a merge conflict's markers) fails the test
        return read_po(po, locale=locale, abort_invalid=True)


def _template() -> Catalog:
    return _read(LOCALE / "messages.pot")


def _catalog(lang: i18n.Language) -> Catalog:
    return _read(LOCALE / lang.value / "LC_MESSAGES" / "messages.po", locale=lang.value)


def _ids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


def _extracted() -> set[str]:
    """What `make i18n` would extract now, from babel.cfg's method map."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {
        message
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(SRC), method_map=method_map, options_map=options_map
        )
        if isinstance(message, str)
    }


def test_the_template_is_up_to_date_with_the_code_and_templates() -> None:
    extracted = _extracted()
    template = _ids(_template())
    assert extracted, "the extraction finds the texts"
    assert sorted(extracted - template) == [], "new texts: run `make i18n` and translate them"
    assert sorted(template - extracted) == [], "texts gone from the code: run `make i18n`"


def test_every_text_of_the_messages_module_is_extracted() -> None:
    """A text added to a messages dict without N_ would be shown untranslated."""
    shown = {
        *messages.AZ.values(),
        *messages.FIELD_LABELS_AZ.values(),
        *messages.STATUS_AZ.values(),
        *messages.REJECT_REASONS_AZ.values(),
        messages.UNKNOWN_ERROR,
    }
    assert sorted(shown - _ids(_template())) == []


@pytest.mark.parametrize("lang", TRANSLATED, ids=str)
def test_the_catalog_translates_every_text_of_the_template(lang: i18n.Language) -> None:
    catalog = _catalog(lang)
    template = _ids(_template())
    assert sorted(template - _ids(catalog)) == [], f"missing in {lang}: run `make i18n`"
    assert sorted(_ids(catalog) - template) == [], f"obsolete in {lang}: run `make i18n`"
    assert not catalog.obsolete, f"obsolete entries in {lang}: run `make i18n`"
    untranslated = [m.id for m in catalog if m.id and not (m.string or "").strip()]
    assert untranslated == [], f"untranslated in {lang}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == [], f"fuzzy in {lang}: check the translation, then remove the flag"


@pytest.mark.parametrize("lang", TRANSLATED, ids=str)
def test_translations_keep_placeholders_and_markup(lang: i18n.Language) -> None:
    different = [
        (message.id, message.string)
        for message in _catalog(lang)
        if message.id
        and sorted(PLACEHOLDER.findall(str(message.id)))
        != sorted(PLACEHOLDER.findall(str(message.string)))
    ]
    assert different == []


@pytest.mark.parametrize("lang", TRANSLATED, ids=str)
def test_the_loaded_catalog_is_the_one_on_disk(lang: i18n.Language) -> None:
    """What the app reads (compiled from the .po at load) says what the .po says."""
    catalog = _catalog(lang)
    loaded = i18n.translations(lang)
    for message in catalog:
        if message.id:
            assert loaded.gettext(str(message.id)) == message.string


def test_a_text_reads_in_the_language_of_its_block_and_az_is_the_source() -> None:
    text = messages.STATUS_AZ["registered"]
    read = {}
    for lang in i18n.Language:
        with i18n.language(lang):
            read[lang] = messages.statuses["registered"]
    assert read[i18n.Language.AZ] == text
    assert read[i18n.Language.EN] == i18n.translations(i18n.Language.EN).gettext(text)
    assert len(set(read.values())) == 3
    with i18n.language("xx"):  # an unsupported code reads as Azerbaijani
        assert i18n.current() == i18n.Language.AZ


def test_messages_fill_in_their_parameters_in_every_language() -> None:
    for lang in i18n.Language:
        with i18n.language(lang):
            assert "3" in messages.message("too_many_open_applications", limit=3)
            assert "{limit}" not in messages.message("too_many_open_applications", limit=3)


AZERBAIJANI_LETTERS = re.compile(r"[əƏğĞıİşŞçÇöÖüÜ]")
TRANSLATED_IN_TEMPLATE = re.compile(
    r"\{#.*?#\}"  # comments
    r"|\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}"  # {% trans %}...{% endtrans %}
    r"|_\(\s*(?:\"[^\"]*\"|'[^']*')",  # _("...") and _('...')
    re.DOTALL,
)


def test_templates_show_no_azerbaijani_outside_gettext() -> None:
    """A guard rail for new pages: Azerbaijani words in a template outside ``_()`` or
    ``{% trans %}`` would show untranslated on English and Russian pages."""
    found = {}
    for template in sorted((SRC / "templates").rglob("*.html")):
        rest = TRANSLATED_IN_TEMPLATE.sub("", template.read_text(encoding="utf-8"))
        lines = [line.strip() for line in rest.splitlines() if AZERBAIJANI_LETTERS.search(line)]
        if lines:
            found[template.name] = lines
    assert found == {}
