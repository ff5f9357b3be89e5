"""The variant-kanji folding table (異体字・旧字体の同一視) that the linking guard compares names with.

A name written 髙橋 on a certificate and 高橋 in an insurance record is one name in two notations.
This module maps every such form to one representative so that the two compare equal — and
folds nothing else: two characters are folded only when an official list or the character
standards treat them as one character in different forms. Characters that are different
characters but often confused (斉 and 斎, 沢 and 択 …) are not folded; the guard handles a
confusion like 斉藤/斎藤 by a separate, narrower rule that also needs the kana reading to agree
(see ``naming``).

Where the pairs come from (see ``docs/linking-guard.md``):

- ``JOYO_OLD_FORMS``: the 康熙字典体 printed in parentheses in the 常用漢字表 (2010), e.g. 國 for 国,
  澤 for 沢, 邊 for 辺. Three old characters fold into 弁 (辨 瓣 辯), as the table says.
- ``JINMEI_VARIANTS``: pairs of 戸籍法施行規則 別表第二「二」 (人名用漢字 that are 異体字 of a 常用漢字)
  that the first list does not already hold: 嶋（島）, 冨（富）, 埜（野）, 峯（峰）, 龍（竜）, 薗（園）….
- ``NAME_VARIANTS``: 俗字 and 異体字 frequent in surnames and given names, identified as variants of
  one another in JIS X 0213 and the 戸籍統一文字 / 住基ネット統一文字 sets: 髙, 﨑, 嵜, 邉, 濵, 桒, 𠮷 ….

Computed, not listed (added by :func:`folding_map`):

- CJK compatibility ideographs (U+F900–U+FAFF, U+2F800–U+2FA1F) with a canonical decomposition
  fold to it (塚 U+FA10 → 塚, 神 U+FA19 → 神); CP932 files carry several of them (the NEC and IBM
  extensions). 﨑 (U+FA11) has no decomposition and is listed instead.
- Kangxi radicals (U+2F00–U+2FD5) fold to the ideograph they look like (⾼ → 高): they appear when
  names are copied out of PDF files.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import cache

# Each token is one group: the representative first, then every form folded to it.
JOYO_OLD_FORMS = """
亜亞 悪惡 圧壓 囲圍 為爲 医醫 壱壹 隠隱 営營 栄榮 衛衞 駅驛 円圓 縁緣 艶艷 塩鹽 奥奧 応應 欧歐 殴毆
桜櫻 穏穩 仮假 価價 画畫 会會 壊壞 懐懷 絵繪 拡擴 殻殼 覚覺 学學 岳嶽 楽樂 渇渴 巻卷 陥陷 勧勸 寛寬
歓歡 缶罐 観觀 関關 巌巖 顔顏 帰歸 気氣 亀龜 偽僞 戯戲 犠犧 旧舊 拠據 挙擧 虚虛 峡峽 挟挾 狭狹 郷鄕
暁曉 区區 駆驅 勲勳 薫薰 径徑 茎莖 恵惠 掲揭 渓溪 経經 蛍螢 軽輕 継繼 鶏鷄 芸藝 撃擊 欠缺 倹儉 剣劍
圏圈 検檢 権權 献獻 県縣 険險 顕顯 験驗 厳嚴 効效 広廣 恒恆 鉱鑛 号號 国國 黒黑 済濟 砕碎 斎齋 剤劑
雑雜 参參 惨慘 桟棧 蚕蠶 賛贊 残殘 糸絲 歯齒 児兒 辞辭 湿濕 実實 舎舍 写寫 釈釋 寿壽 収收 従從 渋澁
獣獸 縦縱 粛肅 処處 緒緖 叙敍 将將 焼燒 称稱 渉涉 奨奬 条條 状狀 乗乘 浄淨 剰剩 畳疊 嬢孃 譲讓 醸釀
触觸 嘱囑 真眞 寝寢 慎愼 尽盡 図圖 粋粹 酔醉 穂穗 随隨 髄髓 枢樞 数數 瀬瀨 声聲 静靜 斉齊 摂攝 窃竊
専專 戦戰 浅淺 潜潛 繊纖 践踐 銭錢 禅禪 双雙 壮壯 捜搜 挿插 争爭 総總 聡聰 荘莊 装裝 騒騷 増增 蔵藏
臓臟 即卽 属屬 続續 堕墮 体體 対對 帯帶 滞滯 台臺 滝瀧 択擇 沢澤 単單 担擔 胆膽 団團 弾彈 断斷 痴癡
遅遲 昼晝 虫蟲 鋳鑄 庁廳 聴聽 勅敕 鎮鎭 逓遞 鉄鐵 転轉 点點 伝傳 党黨 盗盜 灯燈 当當 闘鬭鬪 徳德 独獨
読讀 届屆 縄繩 弐貳 悩惱 脳腦 覇霸 廃廢 拝拜 売賣 麦麥 発發 髪髮 抜拔 晩晚 蛮蠻 秘祕 浜濱 瓶甁 払拂
仏佛 併倂 並竝 変變 辺邊 弁辨瓣辯 舗舖 歩步 宝寶 褒襃 豊豐 没沒 翻飜 毎每 万萬 満滿 黙默 餅餠 弥彌
訳譯 薬藥 与與 予豫 余餘 誉譽 揺搖 様樣 謡謠 来來 頼賴 乱亂 覧覽 両兩 猟獵 緑綠 塁壘 涙淚 励勵 礼禮
隷隸 霊靈 齢齡 暦曆 歴歷 恋戀 炉爐 労勞 郎郞 楼樓 録錄 湾灣 徴徵 稲稻 巣巢 痩瘦 涼凉 黄黃 横橫 温溫
"""

JINMEI_VARIANTS = """
島嶋嶌 富冨 野埜 峰峯 竜龍 園薗 杯盃 曽曾 駆駈 遥遙 瑶瑤 尭堯 兎兔 晋晉 亘亙 清淸 青靑 禄祿 侠俠
"""

NAME_VARIANTS = """
高髙 崎﨑嵜碕 辺邉 浜濵 吉𠮷 土𡈽 桑桒 柳栁桺 館舘 槇槙 檜桧 籠篭 淵渕 凛凜 禰祢 穣穰 彦彥 晃晄 熙煕
昂昻 秋穐龝 鶴靏靍 喜㐂 戸戶户 鉄銕 達逹 芦蘆 鴎鷗 薮藪 騨驒 叱𠮟 噛嚙 祷禱 蝋蠟 頬頰 掴摑 繋繫 麺麵
醤醬
"""

LISTS: dict[str, str] = {
    "joyo_old_forms": JOYO_OLD_FORMS,
    "jinmei_variants": JINMEI_VARIANTS,
    "name_variants": NAME_VARIANTS,
}
"""The three hand-kept lists by name (the name is the ``source`` reported by :func:`variant_pairs`)."""

_COMPATIBILITY_RANGES = (range(0xF900, 0xFB00), range(0x2F800, 0x2FA20))
_KANGXI_RADICALS = range(0x2F00, 0x2FD6)


def is_ideograph(char: str) -> bool:
    """Return whether ``char`` is a CJK ideograph (unified, extension or compatibility)."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF
    )


@cache
def variant_pairs() -> tuple[tuple[str, str, str], ...]:
    """Return the hand-kept table as (variant, representative, source) triples, checked for sanity.

    Raises ``ValueError`` when a form appears twice, folds to itself, is not an ideograph, or a
    representative is itself folded (which would make folding depend on the order of application).
    """
    pairs: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for source, text in LISTS.items():
        for group in text.split():
            representative, variants = group[0], group[1:]
            if not variants:
                raise ValueError(f"group {group!r} has no variant")
            for variant in variants:
                if variant in seen:
                    raise ValueError(f"{variant} is listed twice (→ {seen[variant]} and → {representative})")
                if not (is_ideograph(variant) and is_ideograph(representative)) or variant == representative:
                    raise ValueError(f"bad pair {variant} → {representative}")
                seen[variant] = representative
                pairs.append((variant, representative, source))
    folded_representatives = sorted({rep for _, rep, _ in pairs} & seen.keys())
    if folded_representatives:
        raise ValueError(f"representatives that are also variants: {''.join(folded_representatives)}")
    return tuple(pairs)


@cache
def kanji_variants() -> Mapping[str, str]:
    """Return the hand-kept table as a mapping variant → representative (髙 → 高, 邊 → 辺 …)."""
    return {variant: representative for variant, representative, _ in variant_pairs()}


@cache
def compatibility_folds() -> Mapping[str, str]:
    """Return the CJK compatibility ideographs that have a canonical decomposition, mapped to it."""
    folds: dict[str, str] = {}
    for block in _COMPATIBILITY_RANGES:
        for code in block:
            char = chr(code)
            decomposed = unicodedata.normalize("NFC", char)
            if decomposed != char:
                folds[char] = decomposed
    return folds


@cache
def radical_folds() -> Mapping[str, str]:
    """Return the Kangxi radicals mapped to the ideographs they are drawn like (⾼ → 高)."""
    folds: dict[str, str] = {}
    for code in _KANGXI_RADICALS:
        char = chr(code)
        ideograph = unicodedata.normalize("NFKC", char)
        if ideograph != char and len(ideograph) == 1 and is_ideograph(ideograph):
            folds[char] = ideograph
    return folds


@cache
def folding_map() -> Mapping[str, str]:
    """Return every character the guard folds, mapped straight to its final representative.

    Compatibility ideographs and radicals first go to their unified ideograph, then through the
    hand-kept table, so one lookup is always enough (髙 → 高; ⿓ → 龍 → 竜).
    """
    table = kanji_variants()
    folds: dict[str, str] = {}
    for source in (compatibility_folds(), radical_folds()):
        for char, target in source.items():
            folds[char] = table.get(target, target)
    folds.update(table)
    return folds


@cache
def variant_groups() -> Mapping[str, tuple[str, ...]]:
    """Return, for each representative, the representative and its listed forms (高 → (高, 髙))."""
    groups: dict[str, list[str]] = {}
    for variant, representative, _ in variant_pairs():
        groups.setdefault(representative, [representative]).append(variant)
    return {representative: tuple(forms) for representative, forms in groups.items()}


def fold_kanji(char: str) -> str:
    """Return the representative of one character (itself when the table does not fold it)."""
    return folding_map().get(char, char)
