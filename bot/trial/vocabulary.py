"""The words patients use for drugs and conditions, in English and Chinese, and their canonical
values (the ones the entity annotations and the trial database use).

Vocabulary, not trial facts: which drug a study tests is in the database; this module only says
that 多吉美, Nexavar and 索拉菲尼 (a common typo) all mean sorafenib, and which words in a study's
title mean it is about bile duct cancer.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Pattern, Sequence

from bot.language import to_simplified

DRUGS: Dict[str, List[str]] = {
    "H101": [
        "H101",
        "H-101",
        "Oncorine",
        "安柯瑞",
        "安珂瑞",
        "重组人5型腺病毒",
        "重组人腺病毒5型",
        "溶瘤病毒",
        "oncolytic virus",
        "adenovirus",
        "recombinant human adenovirus type 5",
        # what patients call it in English ("病毒" alone is not here: in Chinese it is as often
        # the hepatitis B virus)
        "virus",
        "the virus",
        "virus injection",
        "the virus injection",
        "the virus drug",
        "virus jab",
    ],
    "sorafenib": [
        "sorafenib",
        "Nexavar",
        "sorafinib",
        "sorafanib",
        "sorefenib",
        "索拉非尼",
        "索拉菲尼",
        "多吉美",
    ],
    "cabozantinib": ["cabozantinib", "Cabometyx", "XL184", "卡博替尼"],
    "nivolumab": ["nivolumab", "Opdivo", "纳武利尤单抗", "纳武单抗", "欧狄沃", "O药"],
    "ipilimumab": ["ipilimumab", "Yervoy", "伊匹木单抗", "逸沃", "Y药"],
    "atezolizumab": ["atezolizumab", "Tecentriq", "阿替利珠单抗", "泰圣奇", "T药"],
    "tislelizumab": ["tislelizumab", "替雷利珠单抗", "百泽安"],
    "lenvatinib": ["lenvatinib", "Lenvima", "仑伐替尼", "乐卫玛"],
    "tivozanib": ["tivozanib", "替沃扎尼"],
    "durvalumab": ["durvalumab", "Imfinzi", "度伐利尤单抗", "英飞凡"],
    "pravastatin": ["pravastatin", "普伐他汀"],
    "regorafenib": ["regorafenib", "Stivarga", "瑞戈非尼", "拜万戈"],
    "pembrolizumab": ["pembrolizumab", "Keytruda", "帕博利珠单抗", "K药"],
    "camrelizumab": ["camrelizumab", "卡瑞利珠单抗", "艾瑞卡"],
    "sintilimab": ["sintilimab", "信迪利单抗", "达伯舒"],
    "bevacizumab": ["bevacizumab", "Avastin", "贝伐珠单抗", "安维汀"],
}

# canonical condition -> (words patients use, words that mark a study about it)
CONDITIONS: Dict[str, Sequence[Sequence[str]]] = {
    "liver cancer": (
        [
            "liver cancer",
            "liver tumor",
            "liver tumour",
            "hepatocellular carcinoma",
            "HCC",
            "hepatoma",
            "肝癌",
            "肝细胞癌",
            "原发性肝癌",
            "肝肿瘤",
            "肝脏肿瘤",
            "肝细胞肝癌",
        ],
        [r"liver", r"hepat\w*", r"hcc"],
    ),
    "bile duct cancer": (
        [
            "bile duct cancer",
            "cholangiocarcinoma",
            "biliary cancer",
            "胆管癌",
            "肝内胆管癌",
            "胆道癌",
            "胆道肿瘤",
        ],
        [r"cholangio\w*", r"bile duct", r"biliary"],
    ),
    "lung cancer": (
        ["lung cancer", "NSCLC", "肺癌", "非小细胞肺癌", "小细胞肺癌"],
        [r"lung", r"nsclc", r"sclc", r"pulmonary"],
    ),
    "breast cancer": (["breast cancer", "乳腺癌"], [r"breast"]),
    "stomach cancer": (["stomach cancer", "gastric cancer", "胃癌"], [r"gastric", r"stomach"]),
    "colorectal cancer": (
        [
            "colorectal cancer",
            "colon cancer",
            "bowel cancer",
            "结直肠癌",
            "肠癌",
            "结肠癌",
            "直肠癌",
        ],
        [r"colorectal", r"colon", r"rectal", r"bowel"],
    ),
    "pancreatic cancer": (["pancreatic cancer", "胰腺癌"], [r"pancrea\w*"]),
    "kidney cancer": (
        ["kidney cancer", "renal cell carcinoma", "RCC", "肾癌"],
        [r"renal", r"rcc", r"kidney"],
    ),
    "nasopharyngeal cancer": (
        ["nasopharyngeal carcinoma", "nasopharyngeal cancer", "鼻咽癌"],
        [r"nasopharyn\w*"],
    ),
    "solid tumor": (
        ["solid tumor", "solid tumors", "solid tumour", "实体瘤"],
        [r"solid tumou?rs?", r"malignanc\w*"],
    ),
}


def _key(text: str) -> str:
    return re.sub(r"[\s\-_]+", "", to_simplified(text).lower())


_DRUG_INDEX = {_key(name): canonical for canonical, names in DRUGS.items() for name in names}
_CONDITION_INDEX = {
    _key(name): canonical for canonical, (names, _) in CONDITIONS.items() for name in names
}
_CONDITION_TERMS: Dict[str, Pattern[str]] = {
    canonical: re.compile(r"\b(" + "|".join(terms) + r")\b", re.IGNORECASE)
    for canonical, (_, terms) in CONDITIONS.items()
}


def drug(value: Optional[str]) -> Optional[str]:
    """The canonical drug a patient's word means, or the word itself when it is unknown."""
    if not value:
        return None
    return _DRUG_INDEX.get(_key(value), value.strip())


def first_known_drug(values: Sequence[str]) -> Optional[str]:
    """The first value that names a drug we know, else the first value (canonical when known):
    in "how is the virus given, injection?" the patient asks about the virus."""
    for value in values:
        if value and _key(value) in _DRUG_INDEX:
            return _DRUG_INDEX[_key(value)]
    return drug(values[0]) if values else None


def condition(value: Optional[str]) -> Optional[str]:
    """The canonical condition a patient's word means, or None when it is not one we know."""
    if not value:
        return None
    return _CONDITION_INDEX.get(_key(value))


def study_is_about(canonical_condition: str, texts: Sequence[str]) -> bool:
    """Whether a study's title, conditions or keywords name the condition."""
    pattern = _CONDITION_TERMS.get(canonical_condition)
    return bool(pattern and pattern.search(" ".join(t for t in texts if t)))


def chinese_terms() -> List[str]:
    """Every Chinese word above: the tokenizer's dictionary must hold them all."""
    words = [n for names in DRUGS.values() for n in names]
    words += [n for names, _ in CONDITIONS.values() for n in names]
    return sorted({w for w in words if re.search(r"[\u4e00-\u9fff]", w)})
