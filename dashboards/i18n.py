"""The dashboards' and the annual report's text in the reader's language.

Every text a council reads comes from a catalogue file, never from a string in a page:
dashboards/locales/<language>/*.yaml, one mapping of dotted keys to texts per file
(`metric.coverage.name: Avtaledekning`; nested mappings are read as dotted keys too).
All files of one language are merged into its catalogue; a key defined twice in one
language is an error naming both files. tests/dashboards/test_i18n.py fails when a key
exists in one language and not in another, and when a page uses a key no catalogue has.

    translate("page.overview.title", "nb", name="Værnesregionen")

Texts are `str.format` templates: `{name}` is filled from the keyword arguments.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("nb", "da", "en")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
# The language a cooperation reads by default, by its country (ISO 3166 alpha-2).
COUNTRY_LANGUAGES = {"NO": "nb", "DK": "da"}
# The Babel locale of each language (English dates as 31 May 2024, not 5/31/24).
BABEL_LOCALES = {"nb": "nb_NO", "da": "da_DK", "en": "en_GB"}


class CatalogueError(ValueError):
    """A catalogue file cannot be read; the message names the file and the key."""


def default_language(country: str | None) -> str:
    """The language of a cooperation in `country`: NO -> nb, DK -> da, otherwise en."""
    return COUNTRY_LANGUAGES.get(str(country or "").strip().upper(), "en")


def check_language(language: str) -> str:
    """`language` if it is one of LANGUAGES, else a ValueError listing them."""
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}: use one of {', '.join(LANGUAGES)}.")
    return language


def _flatten(mapping: Any, prefix: str, path: Path, into: dict[str, str]) -> None:
    if not isinstance(mapping, dict):
        raise CatalogueError(f"{path}: expected a mapping of keys to texts at {prefix or 'top'}")
    for key, value in mapping.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            _flatten(value, dotted, path, into)
        elif isinstance(value, str):
            into[dotted] = value
        else:
            raise CatalogueError(
                f"{path}: key {dotted!r} must be a text, not {type(value).__name__}"
            )


def catalogue_files(language: str) -> list[Path]:
    """The catalogue files of `language`, sorted by name."""
    return sorted((LOCALES_DIR / check_language(language)).glob("*.yaml"))


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """Every text of `language`: all dashboards/locales/<language>/*.yaml merged."""
    merged: dict[str, str] = {}
    origin: dict[str, Path] = {}
    for path in catalogue_files(language):
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise CatalogueError(f"{path}: not valid YAML: {error}") from error
        texts: dict[str, str] = {}
        _flatten(loaded, "", path, texts)
        for key, text in texts.items():
            if key in merged:
                raise CatalogueError(
                    f"{path}: key {key!r} is already defined in {origin[key].name}"
                )
            merged[key] = text
            origin[key] = path
    return merged


def has_key(key: str, language: str) -> bool:
    """Whether `language`'s catalogue has `key`."""
    return key in catalogue(language)


def translate(key: str, language: str, **values: Any) -> str:
    """The text of `key` in `language`, its `{placeholders}` filled from `values`.

    A missing key is a KeyError naming the key, the language and where it was looked
    for; a placeholder without a value is a KeyError naming it and the key."""
    texts = catalogue(check_language(language))
    if key not in texts:
        raise KeyError(
            f"No text for key {key!r} in language {language!r} "
            f"(dashboards/locales/{language}/*.yaml)"
        )
    try:
        return texts[key].format(**values)
    except KeyError as missing:
        raise KeyError(f"Text {key!r} ({language}) needs the value {missing.args[0]!r}") from None
