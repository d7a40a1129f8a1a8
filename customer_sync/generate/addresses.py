"""Street names, street-type abbreviations and second address lines per language.

The canonical (true) address always spells the street type out; the noise step may abbreviate it
with one of the forms in ``STREET_TYPES``. ``ADDRESS_ABBREVIATIONS`` is the same knowledge as flat
``(full, abbreviation)`` rows for the dbt seed ``seeds/ref_address_abbreviations.csv``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# language -> street type -> abbreviations people write
STREET_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "Street": ("St", "St.", "Str"),
        "Road": ("Rd", "Rd."),
        "Avenue": ("Ave", "Av", "Ave."),
        "Lane": ("Ln", "Ln."),
        "Drive": ("Dr", "Dr."),
        "Court": ("Ct", "Ct."),
        "Place": ("Pl", "Pl."),
        "Boulevard": ("Blvd", "Blvd."),
        "Crescent": ("Cres", "Cr."),
        "Terrace": ("Tce", "Terr"),
        "Close": ("Cl",),
        "Way": ("Wy",),
    },
    "de": {"straße": ("str.", "strasse", "str"), "weg": (), "allee": (), "platz": ("pl.",), "ring": ()},
    "nl": {"straat": ("str.",), "weg": (), "laan": ("ln.",), "plein": ("pln.",), "gracht": ("gr.",)},
    "sv": {"gatan": ("g.",), "vägen": ("v.", "vagen"), "gränd": (), "torget": ()},
    "fr": {
        "rue": ("r.",),
        "avenue": ("av.", "ave"),
        "boulevard": ("bd", "boul."),
        "place": ("pl.",),
        "chemin": ("ch.",),
        "allée": ("all.",),
        "impasse": ("imp.",),
    },
    "es": {
        "Calle": ("C/", "C.", "Cl."),
        "Avenida": ("Avda.", "Av."),
        "Paseo": ("Pº", "Pso."),
        "Plaza": ("Pza.", "Pl."),
    },
    "it": {"Via": ("V.",), "Viale": ("V.le",), "Piazza": ("P.za", "P.zza"), "Corso": ("C.so",)},
    "ru": {"улица": ("ул.",), "проспект": ("пр-т", "просп.")},
    "el": {"Οδός": ("Οδ.",), "Λεωφόρος": ("Λεωφ.",)},
}

ADDRESS_ABBREVIATIONS: tuple[tuple[str, str], ...] = tuple(
    sorted(
        {
            (full.lower(), abbr.lower())
            for types in STREET_TYPES.values()
            for full, abbrs in types.items()
            for abbr in abbrs
        }
    )
)

_BASES: dict[str, tuple[str, ...]] = {
    "de": (
        "Haupt",
        "Bahnhof",
        "Schiller",
        "Goethe",
        "Garten",
        "Kirch",
        "Berg",
        "Linden",
        "Wald",
        "Mozart",
        "Schul",
        "Dorf",
        "Mühlen",
        "Rosen",
        "Birken",
        "Eichen",
        "Friedrich",
        "Beethoven",
        "Markt",
        "Post",
    ),
    "nl": (
        "Kerk",
        "Molen",
        "Dorps",
        "School",
        "Wilhelmina",
        "Oranje",
        "Beatrix",
        "Juliana",
        "Prinsen",
        "Heren",
        "Keizers",
        "Linden",
        "Esdoorn",
        "Stations",
        "Markt",
        "Beuken",
        "Eiken",
        "Rembrandt",
    ),
    "sv": (
        "Stor",
        "Kyrko",
        "Skol",
        "Drottning",
        "Kungs",
        "Björk",
        "Ek",
        "Lind",
        "Park",
        "Sjö",
        "Strand",
        "Berg",
    ),
    "fr": (
        "de la Paix",
        "Victor Hugo",
        "Jean Jaurès",
        "du Général de Gaulle",
        "de la République",
        "Pasteur",
        "des Lilas",
        "du Moulin",
        "Gambetta",
        "de la Gare",
        "des Écoles",
        "Saint-Michel",
        "Émile Zola",
    ),
    "es": (
        "Mayor",
        "de Alcalá",
        "Real",
        "del Sol",
        "de la Constitución",
        "San Juan",
        "de Gracia",
        "Goya",
        "del Prado",
        "de Andalucía",
        "Colón",
        "de la Iglesia",
    ),
    "it": (
        "Roma",
        "Garibaldi",
        "Giuseppe Verdi",
        "Dante Alighieri",
        "Vittorio Emanuele II",
        "Mazzini",
        "Cavour",
        "della Repubblica",
        "Marconi",
        "San Francesco",
        "dei Mille",
        "Matteotti",
    ),
}
_SUFFIX_LANGS = {"de", "nl", "sv"}

_LINE2: dict[str, tuple[str, ...]] = {
    "en": ("Apt {n}", "Flat {n}", "Unit {n}", "Suite {n}", "Apt. {n}{l}"),
    "de": ("{n}. OG", "Hinterhaus", "Whg. {n}"),
    "fr": ("Appartement {n}", "Bâtiment {l}", "Escalier {l}"),
    "es": ("{n}º {l}", "Piso {n}, puerta {l}"),
    "it": ("Scala {l}", "Interno {n}"),
    "ru": ("кв. {n}",),
}


@dataclass(frozen=True, slots=True)
class Address:
    """A true postal address; ``line1`` spells the street type in full."""

    line1: str
    line2: str | None
    city: str
    region: str | None
    postcode: str
    country: str
    language: str


def street_name(rng: random.Random, language: str, surnames: list[str]) -> str:
    """A plausible street name in the language's pattern, e.g. 'Kramer Road', 'Goethestraße'."""
    types = STREET_TYPES[language]
    kind = rng.choice(list(types))
    if language in _SUFFIX_LANGS:
        base = rng.choice(_BASES[language]) if rng.random() < 0.7 else rng.choice(surnames)
        return f"{base}{kind}"
    if language == "en":
        return f"{rng.choice(surnames)} {kind}"
    base = rng.choice(_BASES[language]) if rng.random() < 0.6 else rng.choice(surnames)
    return f"{kind} {base}"


def compose_line1(rng: random.Random, style: str, language: str, street: str) -> str:
    """Put the house number where the country puts it."""
    number = str(rng.randint(1, 250) if rng.random() < 0.8 else rng.randint(251, 9999))
    if style == "number_first":
        return f"{number} {street}"
    if style == "number_type_first":
        return f"{rng.randint(1, 180)} {street}"
    if style == "type_first_comma":
        return f"{street}, {rng.randint(1, 180)}"
    if style == "russian":
        return f"{street}, д. {rng.randint(1, 120)}"
    if style == "chinese":
        return f"{street}{rng.randint(1, 999)}号"
    return f"{street} {rng.randint(1, 180)}"


def second_line(rng: random.Random, language: str) -> str | None:
    templates = _LINE2.get(language)
    if not templates:
        return None
    return rng.choice(templates).format(n=rng.randint(1, 40), l=rng.choice("ABCDEF"))


def abbreviate_line(line: str, language: str, rng: random.Random) -> str:
    """Replace the spelled-out street type with an abbreviation; unchanged if it has none."""
    for full, abbreviations in STREET_TYPES.get(language, {}).items():
        if not abbreviations:
            continue
        if language in _SUFFIX_LANGS:
            if full in line:
                return line.replace(full, rng.choice(abbreviations), 1)
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(full)}(?!\w)")
        if pattern.search(line):
            return pattern.sub(rng.choice(abbreviations), line, count=1)
    return line
