"""Name knowledge: nicknames, accent folding, romanization of Greek and Cyrillic, Chinese names.

``NICKNAMES`` maps a nickname to the formal root name (both lower case). The dbt seed
``seeds/ref_nicknames.csv`` (columns ``nickname,root_name``) carries the same table; `nickname_rows()`
yields it in that shape so the two can be compared in a test.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# root name -> the nicknames people actually use for it
_NICKNAMES_BY_ROOT: dict[str, tuple[str, ...]] = {
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "william": ("bill", "billy", "will", "willy", "liam"),
    "richard": ("dick", "rick", "ricky", "rich", "richie"),
    "james": ("jim", "jimmy", "jamie"),
    "john": ("jack", "johnny", "jon"),
    "michael": ("mike", "mikey", "mick", "mickey"),
    "thomas": ("tom", "tommy"),
    "joseph": ("joe", "joey"),
    "charles": ("charlie", "chuck", "chas"),
    "christopher": ("chris", "kit"),
    "daniel": ("dan", "danny"),
    "matthew": ("matt", "matty"),
    "anthony": ("tony",),
    "andrew": ("andy", "drew"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "david": ("dave", "davy"),
    "steven": ("steve", "stevie"),
    "stephen": ("steve", "stevie"),
    "kenneth": ("ken", "kenny"),
    "joshua": ("josh",),
    "timothy": ("tim", "timmy"),
    "benjamin": ("ben", "benny"),
    "samuel": ("sam", "sammy"),
    "nicholas": ("nick", "nicky"),
    "alexander": ("alex", "sasha", "xander"),
    "jonathan": ("jon", "jonny"),
    "patrick": ("pat", "paddy"),
    "peter": ("pete",),
    "gregory": ("greg",),
    "raymond": ("ray",),
    "ronald": ("ron", "ronnie"),
    "donald": ("don", "donnie"),
    "gerald": ("gerry", "jerry"),
    "lawrence": ("larry",),
    "frederick": ("fred", "freddie"),
    "henry": ("harry", "hank"),
    "harold": ("harry", "hal"),
    "jacob": ("jake",),
    "zachary": ("zach", "zack"),
    "nathaniel": ("nate", "nat"),
    "nathan": ("nate",),
    "phillip": ("phil",),
    "philip": ("phil",),
    "douglas": ("doug",),
    "jeffrey": ("jeff",),
    "leonard": ("leo", "len", "lenny"),
    "vincent": ("vince", "vinny"),
    "elizabeth": ("liz", "beth", "betty", "lizzie", "eliza", "libby"),
    "margaret": ("maggie", "meg", "peggy", "marge"),
    "katherine": ("kate", "kathy", "katie", "kat"),
    "catherine": ("cathy", "cate", "kate"),
    "kathleen": ("kathy", "kate"),
    "jennifer": ("jen", "jenny"),
    "jessica": ("jess", "jessie"),
    "rebecca": ("becky", "becca"),
    "patricia": ("pat", "patty", "trish"),
    "susan": ("sue", "susie"),
    "deborah": ("deb", "debbie"),
    "barbara": ("barb", "babs"),
    "victoria": ("vicky", "tori"),
    "christina": ("chris", "tina"),
    "christine": ("chris", "tina"),
    "samantha": ("sam", "sammy"),
    "alexandra": ("alex", "sandra", "lexi"),
    "abigail": ("abby",),
    "amanda": ("mandy",),
    "stephanie": ("steph",),
    "jacqueline": ("jackie",),
    "dorothy": ("dot", "dotty"),
    "theresa": ("terry", "tess"),
    "judith": ("judy",),
    "pamela": ("pam",),
    "kimberly": ("kim",),
    "cynthia": ("cindy",),
    "melissa": ("mel", "missy"),
    "nicole": ("nikki",),
    "angela": ("angie",),
    "virginia": ("ginny",),
    "frances": ("fran", "frankie"),
    "francis": ("frank",),
    "gabriel": ("gabe",),
    "isabella": ("bella", "izzy"),
    "josephine": ("josie", "jo"),
    "madeline": ("maddie",),
    "natalie": ("nat",),
    "olivia": ("liv",),
    "sophia": ("sophie",),
    "wolfgang": ("wolf",),
    "johannes": ("hannes", "jo"),
    "friedrich": ("fritz",),
    "maximilian": ("max",),
    "francesco": ("franco", "checco"),
    "giuseppe": ("beppe", "peppe", "pino"),
    "giovanni": ("gianni", "nanni"),
    "alessandro": ("sandro", "ale"),
    "francisco": ("paco", "pancho", "fran"),
    "jose": ("pepe",),
    "manuel": ("manolo",),
    "dolores": ("lola",),
    "guillermo": ("memo",),
    "ignacio": ("nacho",),
    "concepcion": ("concha",),
    "jean-baptiste": ("jb",),
    "dominique": ("dom",),
    "aleksandr": ("sasha",),
    "dmitry": ("dima",),
    "vladimir": ("vova", "volodya"),
    "ekaterina": ("katya",),
    "elena": ("lena",),
    "anastasia": ("nastya",),
}

NICKNAMES: dict[str, str] = {}
for _root, _nicks in _NICKNAMES_BY_ROOT.items():
    for _nick in _nicks:
        NICKNAMES.setdefault(_nick, _root)

ROOT_NICKNAMES: dict[str, tuple[str, ...]] = dict(_NICKNAMES_BY_ROOT)


def nickname_rows() -> Iterator[tuple[str, str]]:
    """The nickname table as ``(nickname, root_name)`` rows, sorted, for the dbt seed."""
    yield from sorted(NICKNAMES.items())


def nicknames_for(first_name: str) -> tuple[str, ...]:
    """Nicknames of a first name (empty when it has none), in title case."""
    return tuple(n.title() for n in ROOT_NICKNAMES.get(fold_accents(first_name).lower(), ()))


@lru_cache(maxsize=65536)
def fold_accents(text: str) -> str:
    """José -> Jose, Müller -> Muller, ß -> ss: what a system without accent support stores."""
    text = text.replace("ß", "ss").replace("Æ", "AE").replace("æ", "ae").replace("Ø", "O").replace("ø", "o")
    text = text.replace("Ł", "L").replace("ł", "l").replace("Œ", "OE").replace("œ", "oe")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def has_accents(text: str) -> bool:
    return fold_accents(text) != text


_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "-",
            "y",
            "-",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)
_GREEK = {
    "α": "a",
    "ά": "a",
    "β": "v",
    "γ": "g",
    "δ": "d",
    "ε": "e",
    "έ": "e",
    "ζ": "z",
    "η": "i",
    "ή": "i",
    "θ": "th",
    "ι": "i",
    "ί": "i",
    "ϊ": "i",
    "ΐ": "i",
    "κ": "k",
    "λ": "l",
    "μ": "m",
    "ν": "n",
    "ξ": "x",
    "ο": "o",
    "ό": "o",
    "π": "p",
    "ρ": "r",
    "σ": "s",
    "ς": "s",
    "τ": "t",
    "υ": "y",
    "ύ": "y",
    "ϋ": "y",
    "φ": "f",
    "χ": "ch",
    "ψ": "ps",
    "ω": "o",
    "ώ": "o",
}


def romanize(text: str) -> str:
    """Latin spelling of a Greek or Cyrillic name (ELOT-like / BGN-like, simplified); Latin text as is."""
    out: list[str] = []
    for ch in text:
        lower = ch.lower()
        latin = _CYRILLIC.get(lower) or _GREEK.get(lower)
        if latin is None:
            out.append(ch)
            continue
        if latin == "-":
            continue
        out.append(latin.capitalize() if ch != lower else latin)
    return "".join(out)


# Common Chinese family and given names with their pinyin (no tones), as (hanzi, pinyin)
CHINESE_FAMILY_NAMES: tuple[tuple[str, str], ...] = (
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("黄", "Huang"),
    ("赵", "Zhao"),
    ("吴", "Wu"),
    ("周", "Zhou"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
    ("郭", "Guo"),
    ("何", "He"),
    ("高", "Gao"),
    ("林", "Lin"),
    ("罗", "Luo"),
    ("郑", "Zheng"),
    ("梁", "Liang"),
    ("谢", "Xie"),
    ("宋", "Song"),
    ("唐", "Tang"),
)
CHINESE_GIVEN_NAMES_MALE: tuple[tuple[str, str], ...] = (
    ("伟", "Wei"),
    ("强", "Qiang"),
    ("磊", "Lei"),
    ("军", "Jun"),
    ("洋", "Yang"),
    ("勇", "Yong"),
    ("杰", "Jie"),
    ("涛", "Tao"),
    ("明", "Ming"),
    ("超", "Chao"),
    ("浩然", "Haoran"),
    ("子轩", "Zixuan"),
    ("俊杰", "Junjie"),
    ("建华", "Jianhua"),
    ("志强", "Zhiqiang"),
    ("文博", "Wenbo"),
    ("宇航", "Yuhang"),
)
CHINESE_GIVEN_NAMES_FEMALE: tuple[tuple[str, str], ...] = (
    ("芳", "Fang"),
    ("娜", "Na"),
    ("秀英", "Xiuying"),
    ("敏", "Min"),
    ("静", "Jing"),
    ("丽", "Li"),
    ("艳", "Yan"),
    ("娟", "Juan"),
    ("霞", "Xia"),
    ("秀兰", "Xiulan"),
    ("婷", "Ting"),
    ("雪", "Xue"),
    ("欣怡", "Xinyi"),
    ("梓涵", "Zihan"),
    ("雨桐", "Yutong"),
    ("佳琪", "Jiaqi"),
    ("慧", "Hui"),
)
