"""The catalogues (dashboards/locales/<language>/*.yaml), the locale formats and the
cooperation's language setting.

Fails when a key exists in one language and not in another (every file, the annual
report's included), when a text's placeholders differ between languages, and when a
page (or the report) uses a key no catalogue has.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from dashboards import i18n
from dashboards.formatting import (
    format_amount,
    format_date,
    format_number,
    format_percent,
    format_points,
)
from pipelines.settings import ConfigError, load_config
from tests.conftest import CONFIG, write

REPO = Path(__file__).resolve().parents[2]
# Files whose texts come from the catalogues: the dashboards and the annual report (its
# Python and its HTML template).
SOURCES = sorted(
    [
        *(REPO / "dashboards").rglob("*.py"),
        *(REPO / "pipelines" / "report").rglob("*.py"),
        *(REPO / "pipelines" / "report").rglob("*.html"),
    ]
)
# t("key"), translate("key", ...), metric_name("x") / metric_definition("x"), and the
# prefix of f-string keys t(f"common.download_{fmt}").
LITERAL_KEY = re.compile(r"""\b(?:t|translate|_t|tr)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
METRIC_KEY = re.compile(r"""\bmetric_(name|definition)\(\s*["']([a-z0-9_]+)["']""")
PREFIX_KEY = re.compile(r"""\b(?:t|translate|_t|tr)\(\s*f["']([a-z0-9_.]+)\{""")


def plain(text: str) -> str:
    return text.replace("\u00a0", " ")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_file_and_key() -> None:
    files = {
        language: {path.name: path for path in i18n.catalogue_files(language)}
        for language in i18n.LANGUAGES
    }
    names = set().union(*(set(by_name) for by_name in files.values()))
    assert {"app.yaml", "metrics.yaml"} <= names
    problems = []
    for name in sorted(names):
        keys = {}
        for language in i18n.LANGUAGES:
            if name not in files[language]:
                problems.append(f"dashboards/locales/{language}/{name} is missing")
                continue
            texts: dict[str, str] = {}
            i18n._flatten(
                __import__("yaml").safe_load(files[language][name].read_text()) or {},
                "",
                files[language][name],
                texts,
            )
            keys[language] = texts
        for language, texts in keys.items():
            for other, other_texts in keys.items():
                for key in sorted(set(other_texts) - set(texts)):
                    problems.append(f"{language}/{name} lacks {key!r} (in {other}/{name})")
                for key in sorted(set(texts) & set(other_texts)):
                    if placeholders(texts[key]) != placeholders(other_texts[key]):
                        problems.append(f"{key!r}: placeholders differ in {language}, {other}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_key_a_page_uses_exists() -> None:
    known = set(i18n.catalogue("en"))
    used: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for key in LITERAL_KEY.findall(text):
            used[key] = path.name
        for kind, metric in METRIC_KEY.findall(text):
            used[f"metric.{metric}.{kind}"] = path.name
        for prefix in PREFIX_KEY.findall(text):
            prefixes[prefix] = path.name
    assert len(used) > 100  # the scan finds the pages' keys
    missing = sorted(f"{key} ({where})" for key, where in used.items() if key not in known)
    assert not missing, "keys no catalogue has: " + ", ".join(missing)
    for prefix, where in prefixes.items():
        assert any(key.startswith(prefix) for key in known), f"{prefix}… ({where})"


def test_the_metrics_in_the_readers_language() -> None:
    assert i18n.translate("metric.coverage.name", "nb") == "Avtaledekning"
    assert i18n.translate("metric.loyalty.name", "nb") == "Avtalelojalitet"
    assert i18n.translate("metric.off_agreement_spend.name", "nb") == "Kjøp utenfor avtale"
    assert i18n.translate("metric.coverage.name", "da") == "Aftaledækning"
    assert i18n.translate("metric.loyalty.name", "da") == "Aftaleloyalitet (compliance)"
    assert i18n.translate("metric.off_agreement_spend.name", "da") == "Køb uden for aftale"
    assert "Dekket innkjøp / påvirkbart innkjøp" in i18n.translate(
        "metric.coverage.definition", "nb"
    )


def test_translate_fills_values_and_names_what_is_missing() -> None:
    assert i18n.translate("page.overview.heading", "en", name="X") == "X: overview"
    with pytest.raises(KeyError, match=r"'no.such.key'.*'da'"):
        i18n.translate("no.such.key", "da")
    with pytest.raises(KeyError, match="'name'"):
        i18n.translate("page.overview.heading", "en")
    with pytest.raises(ValueError, match="nb, da, en"):
        i18n.translate("page.overview.title", "sv")


def test_a_key_defined_twice_in_one_language_is_an_error(tmp_path, monkeypatch) -> None:
    for language in i18n.LANGUAGES:
        (tmp_path / language).mkdir()
        (tmp_path / language / "a.yaml").write_text("x.y: one\n")
        (tmp_path / language / "b.yaml").write_text("x:\n  y: two\n")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        with pytest.raises(i18n.CatalogueError, match=r"b.yaml: key 'x.y' is already defined"):
            i18n.catalogue("nb")
    finally:
        i18n.catalogue.cache_clear()


def test_default_language_by_country() -> None:
    assert i18n.default_language("NO") == "nb"
    assert i18n.default_language("DK") == "da"
    assert i18n.default_language("SE") == "en"
    assert i18n.default_language(None) == "en"


@pytest.mark.parametrize(
    ("language", "compact", "full", "percent", "date"),
    [
        ("nb", "1,7 mrd. kr", "1 713 456 kr", "82,6 %", "31. mai 2024"),
        ("da", "1,7 mia. kr.", "1.713.456 kr.", "82,6 %", "31. maj 2024"),
        ("en", "1.7B NOK", "1,713,456 NOK", "82.6%", "31 May 2024"),
    ],
)
def test_numbers_in_the_readers_locale(language, compact, full, percent, date) -> None:
    currency = "DKK" if language == "da" else "NOK"
    assert plain(format_amount(1_713_456_000, currency, language, compact=True)) == compact
    assert plain(format_amount(1_713_456.4, currency, language)) == full
    assert plain(format_percent(0.826, language)) == percent
    assert format_date("2024-05-31", language) == date
    assert format_amount(None, currency, language) == "–"
    assert format_percent(float("nan"), language) == "–"


def test_compact_only_from_a_million_and_other_formats() -> None:
    assert plain(format_amount(17_345, "NOK", "nb", compact=True)) == "17 345 kr"
    assert plain(format_amount(17_300_000, "NOK", "nb", compact=True)) == "17,3 mill. kr"
    assert plain(format_number(1234.5, "nb", digits=1)) == "1 234,5"
    assert plain(format_number(1234.5, "en")) == "1,234"  # half to even
    assert plain(format_percent(0.5, "nb", digits=0)) == "50 %"
    assert plain(format_points(-0.032, "nb")) == "-3,2 pp"
    assert plain(format_points(0.0, "en")) == "+0.0 pp"


def test_cooperation_language_defaults_from_the_country_and_is_checked(innherred: Path):
    assert load_config(innherred).language == "nb"  # country NO
    write(innherred, CONFIG.replace("  country: NO\n", "  country: NO\n  language: da\n", 1))
    assert load_config(innherred).language == "da"
    write(innherred, CONFIG.replace("  country: NO\n", "  country: NO\n  language: sv\n", 1))
    with pytest.raises(ConfigError) as error:
        load_config(innherred)
    assert "cooperation.language" in str(error.value)
    assert "one of nb, da, en" in str(error.value)
