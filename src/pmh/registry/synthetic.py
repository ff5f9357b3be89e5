"""Synthetic certificate files and matching insurance records, for tests and benchmarks.

:func:`generate` yields :class:`SyntheticCase` s one at a time (a million rows are never held in
memory): a certificate row keyed by the Japanese headers of the upload file (docs/upload-format.md), its
values written the way municipal files write them (和暦 in several forms, full-width digits now and
then), and the insurance record its My Number finds (docs/cards.md). Most cases are one person
written alike on both sides; with ``variant_rate`` the certificate writes the same person's name in
another notation (the linking guard must link these); with ``mismatch_rate`` it names somebody else
— a family member, a twin, the owner of a mistyped My Number (the guard must hold these).
:func:`write_files` writes both CSV files in one pass.

Everything is pure and seeded: the same arguments give the same files. No database is touched.
"""

from __future__ import annotations

import bisect
import codecs
import datetime as dt
import io
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache, lru_cache
from random import Random
from typing import Literal, NamedTuple, TextIO

from pmh import csvfiles
from pmh.cards.service import INSURANCE_COLUMNS
from pmh.codes.checkdigits import modulus10_weight21_check_digit, my_number_check_digit
from pmh.codes.wareki import format_era_code, format_wareki, format_wareki_short, parse_date
from pmh.reference import catalogue
from pmh.registry.naming import IdentityFacts, kana_key, name_key
from pmh.registry.variants import compatibility_folds, fold_kanji, is_ideograph, variant_groups

Encoding = Literal["utf-8", "utf-8-sig", "cp932"]
"""Encodings a certificate file is written in (municipal files arrive in all three)."""

CERTIFICATE_COLUMNS: tuple[str, ...] = (
    "処理区分",
    "公費負担者番号",
    "公費受給者番号",
    "個人番号",
    "氏名",
    "氏名カナ",
    "生年月日",
    "性別",
    "有効開始日",
    "有効終了日",
    "自己負担上限額",
    "入院上限額",
    "負担割合",
    "所得区分",
    "上限額管理",
    "疾病名",
    "指定医療機関コード",
    "保護者氏名",
    "証区分名称",
    "住所",
    "非開示",
    "常に償還払い",
    "付加条件",
    "券面記載事項",
)
"""The header of the certificate upload file, in the order of docs/upload-format.md."""


VARIANT_KINDS: tuple[str, ...] = (
    "old_kanji",
    "compat_ideograph",
    "ivs",
    "spacing",
    "width",
    "kana_width",
    "kana_notation",
    "iteration_mark",
    "confused_kanji",
    "gaiji_placeholder",
    "given_name_misspelt",
    "confused_kanji_unspaced",
)
"""Ways the same person's name is written differently on the two sides (``expected_link`` is true)."""

HELD_BY_DESIGN_KINDS: tuple[str, ...] = ("given_name_misspelt", "confused_kanji_unspaced")
"""Variant kinds of the same person that the linking guard holds on purpose: a given name written
with another kanji of the same reading looks exactly like a twin, and a surname confusion cannot be
placed in the surname when neither side separates surname and given name. They are what the
benchmark's false-hold rate measures; every other variant kind must link."""

MISMATCH_KINDS: tuple[str, ...] = (
    "family_member",
    "twin",
    "twin_same_reading",
    "mistyped_my_number",
    "namesake",
)
"""Ways the certificate names somebody other than the record's owner (``expected_link`` is false)."""

_VARIANT_WEIGHTS = (26, 5, 4, 20, 5, 10, 10, 5, 8, 7, 3, 2)
_MISMATCH_WEIGHTS = (45, 10, 5, 30, 10)
DEFAULT_AS_OF = dt.date(2026, 6, 1)

# --- names -----------------------------------------------------------------------------------
# Common surnames in rough order of frequency, with their readings. Plain forms: the variant
# forms (髙橋, 渡邊 …) are derived from the folding table.
_SURNAMES = """
佐藤:サトウ 鈴木:スズキ 高橋:タカハシ 田中:タナカ 伊藤:イトウ 渡辺:ワタナベ 山本:ヤマモト 中村:ナカムラ
小林:コバヤシ 加藤:カトウ 吉田:ヨシダ 山田:ヤマダ 佐々木:ササキ 山口:ヤマグチ 松本:マツモト 井上:イノウエ
木村:キムラ 林:ハヤシ 斎藤:サイトウ 清水:シミズ 山崎:ヤマザキ 森:モリ 池田:イケダ 橋本:ハシモト 阿部:アベ
石川:イシカワ 山下:ヤマシタ 中島:ナカジマ 石井:イシイ 小川:オガワ 前田:マエダ 岡田:オカダ 長谷川:ハセガワ
藤田:フジタ 後藤:ゴトウ 近藤:コンドウ 村上:ムラカミ 遠藤:エンドウ 青木:アオキ 坂本:サカモト 斉藤:サイトウ
福田:フクダ 太田:オオタ 西村:ニシムラ 藤井:フジイ 金子:カネコ 岡本:オカモト 藤原:フジワラ 中野:ナカノ
三浦:ミウラ 原田:ハラダ 中川:ナカガワ 松田:マツダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ
和田:ワダ 石田:イシダ 森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ 宮崎:ミヤザキ
横山:ヨコヤマ 高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ 谷口:タニグチ 今井:イマイ
工藤:クドウ 高田:タカダ 増田:マスダ 丸山:マルヤマ 杉山:スギヤマ 村田:ムラタ 大塚:オオツカ 新井:アライ
小山:コヤマ 平野:ヒラノ 藤本:フジモト 河野:コウノ 上野:ウエノ 野口:ノグチ 武田:タケダ 松井:マツイ
千葉:チバ 岩崎:イワサキ 菅原:スガワラ 木下:キノシタ 久保:クボ 佐野:サノ 野村:ノムラ 松尾:マツオ
市川:イチカワ 菊地:キクチ 杉本:スギモト 古川:フルカワ 大西:オオニシ 島田:シマダ 水野:ミズノ 桜井:サクライ
高野:タカノ 渡部:ワタナベ 吉川:ヨシカワ 山内:ヤマウチ 西田:ニシダ 飯田:イイダ 菊池:キクチ 西川:ニシカワ
小松:コマツ 北村:キタムラ 安田:ヤスダ 五十嵐:イガラシ 川口:カワグチ 平田:ヒラタ 関:セキ 中田:ナカタ
久保田:クボタ 服部:ハットリ 東:ヒガシ 岩田:イワタ 土屋:ツチヤ 川崎:カワサキ 福島:フクシマ 本田:ホンダ
辻:ツジ 樋口:ヒグチ 秋山:アキヤマ 田口:タグチ 永井:ナガイ 山中:ヤマナカ 中西:ナカニシ 吉村:ヨシムラ
川上:カワカミ 石原:イシハラ 大橋:オオハシ 松岡:マツオカ 馬場:ババ 浅野:アサノ 荒木:アラキ 大久保:オオクボ
野田:ノダ 小池:コイケ 松下:マツシタ 熊谷:クマガイ 菅野:カンノ 浜田:ハマダ 沢田:サワダ 広瀬:ヒロセ
黒田:クロダ 富田:トミタ 滝沢:タキザワ 関口:セキグチ 桑原:クワバラ 亀井:カメイ 徳田:トクダ 真田:サナダ
曽根:ソネ 北条:ホウジョウ 豊田:トヨダ 塩田:シオタ 尾崎:オザキ 柴崎:シバサキ 長島:ナガシマ 大島:オオシマ
中沢:ナカザワ 藤沢:フジサワ 成瀬:ナルセ 高山:タカヤマ 神田:カンダ 神谷:カミヤ 飯塚:イイヅカ 石塚:イシヅカ
手塚:テヅカ 戸塚:トツカ 都築:ツヅキ 猪瀬:イノセ 羽田:ハネダ 葛西:カサイ 野々村:ノノムラ 佐々岡:ササオカ
辺見:ヘンミ 槙野:マキノ 桧山:ヒヤマ 柳田:ヤナギダ 館野:タテノ 西条:サイジョウ 宝田:タカラダ 伊東:イトウ
安部:アベ 斉木:サイキ 鶴田:ツルタ 芦田:アシダ 国分:コクブ 葛城:カツラギ 辻本:ツジモト 土井:ドイ
"""

# Given names by sex and by generation (born before 1960, 1960–1999, from 2000).
_GIVEN_NAMES = {
    ("1", 0): """
清:キヨシ 茂:シゲル 博:ヒロシ 勇:イサム 実:ミノル 進:ススム 豊:ユタカ 弘:ヒロシ 正:タダシ 明:アキラ 武:タケシ
勝:マサル 隆:タカシ 修:オサム 和夫:カズオ 正男:マサオ 一郎:イチロウ 三郎:サブロウ 幸雄:ユキオ 秀夫:ヒデオ
義男:ヨシオ 敏夫:トシオ 栄一:エイイチ 静雄:シズオ 徳治:トクジ 弥太郎:ヤタロウ 寿男:ヒサオ 国男:クニオ
恒夫:ツネオ 清一:セイイチ 竜雄:タツオ 真一:シンイチ 広志:ヒロシ 昭:アキラ 孝:タカシ 肇:ハジメ
""",
    ("1", 1): """
誠:マコト 健一:ケンイチ 浩:ヒロシ 大輔:ダイスケ 直樹:ナオキ 哲也:テツヤ 健太:ケンタ 拓也:タクヤ
翔太:ショウタ 大樹:ダイキ 達也:タツヤ 竜也:タツヤ 和也:カズヤ 剛:ツヨシ 学:マナブ 聡:サトシ 亮:リョウ
徹:トオル 健:ケン 雄一:ユウイチ 洋平:ヨウヘイ 秀樹:ヒデキ 隆之:タカユキ 智之:トモユキ 恵介:ケイスケ
広之:ヒロユキ 晃:アキラ 和彦:カズヒコ 昌彦:マサヒコ 太郎:タロウ 次郎:ジロウ 健太郎:ケンタロウ 祐介:ユウスケ
隆史:タカシ 修平:シュウヘイ 淳:ジュン 翔:ショウ 慎一郎:シンイチロウ
""",
    ("1", 2): """
蓮:レン 陽翔:ハルト 湊:ミナト 大翔:ヒロト 悠真:ユウマ 樹:イツキ 颯太:ソウタ 朝陽:アサヒ 悠人:ユウト
陸:リク 蒼:アオイ 大和:ヤマト 優:ユウ 悠:ユウ 陽向:ヒナタ 奏太:カナタ 律:リツ 凪:ナギ 颯:ハヤテ
翼:ツバサ 拓海:タクミ 匠:タクミ 晴:ハル 凛太郎:リンタロウ 竜之介:リュウノスケ 瑛太:エイタ 駿:シュン
晃大:コウダイ 遥斗:ハルト 翔太:ショウタ 健:ケン 賢:ケン 大輝:ダイキ 蒼真:ソウマ 結翔:ユイト
""",
    ("2", 0): """
和子:カズコ 幸子:サチコ 節子:セツコ 洋子:ヨウコ 恵子:ケイコ 京子:キョウコ 久子:ヒサコ 弘子:ヒロコ
美代子:ミヨコ 文子:フミコ 静子:シズコ 清子:キヨコ 千代子:チヨコ 栄子:エイコ 澄子:スミコ 光子:ミツコ
春子:ハルコ 良子:ヨシコ 正子:マサコ 敏子:トシコ 弥生:ヤヨイ 富子:トミコ 綾子:アヤコ 広子:ヒロコ
寿子:ヒサコ 豊子:トヨコ 国子:クニコ 徳子:トクコ 真佐子:マサコ 絹子:キヌコ 貞子:サダコ 芳子:ヨシコ
""",
    ("2", 1): """
恵美:エミ 真由美:マユミ 由美子:ユミコ 智子:トモコ 裕子:ユウコ 直美:ナオミ 久美子:クミコ 陽子:ヨウコ
美穂:ミホ 香織:カオリ 愛:アイ 彩:アヤ 綾:アヤ 舞:マイ 麻衣:マイ 真理子:マリコ 理恵:リエ 千尋:チヒロ
沙織:サオリ 恵:メグミ 瞳:ヒトミ 薫:カオル 遥:ハルカ 静香:シズカ 奈々:ナナ 菜々子:ナナコ 美咲:ミサキ
彩香:アヤカ 明日香:アスカ 亜希子:アキコ 亜美:アミ 恵理:エリ 祐子:ユウコ 隆子:タカコ
""",
    ("2", 2): """
陽葵:ヒマリ 結菜:ユイナ 凛:リン 紬:ツムギ 芽依:メイ 結衣:ユイ 唯:ユイ 葵:アオイ 陽菜:ヒナ 陽奈:ヒナ
咲良:サクラ さくら:サクラ 莉子:リコ 美桜:ミオ 澪:ミオ 心春:コハル 杏:アン 楓:カエデ 花:ハナ 結愛:ユア
乃愛:ノア 愛莉:アイリ 美月:ミヅキ 詩:ウタ 琴音:コトネ 穂乃香:ホノカ 遥:ハルカ 彩:アヤ 綾:アヤ
美咲:ミサキ 美沙紀:ミサキ 奈々:ナナ 舞:マイ 麻衣:マイ
""",
}

_FOREIGN_NAMES = """
SMITH:スミス:JOHN:ジョン:1 GARCIA:ガルシア:MARIA:マリア:2 NGUYEN:グエン:VAN_AN:ヴァン_アン:1
SILVA:シルバ:PEDRO:ペドロ:1 TRAN:チャン:THI_MAI:ティ_マイ:2 SANTOS:サントス:ANA:アナ:2
"""  # surname:reading:given names:reading:sex, "_" standing for a space
_KATAKANA_GIVEN = {"1": (("ケン", "ケン"), ("ジョージ", "ジョージ")), "2": (("エミリ", "エミリ"), ("マリア", "マリア"))}

# Twins whose given names sound alike (the hardest case for a guard): same reading, other kanji.
_SAME_READING_PAIRS = {
    "1": (("優", "悠", "ユウ"), ("大樹", "大輝", "ダイキ"), ("健", "賢", "ケン"), ("達也", "竜也", "タツヤ")),
    "2": (("陽菜", "陽奈", "ヒナ"), ("結衣", "唯", "ユイ"), ("彩", "綾", "アヤ"), ("美咲", "美沙紀", "ミサキ")),
}

# Surnames that are different characters but read and get written alike (not folded by the table).
_CONFUSED_SURNAMES = (
    ("斉藤", "斎藤", "サイトウ"),
    ("斉木", "斎木", "サイキ"),
    ("伊藤", "伊東", "イトウ"),
    ("阿部", "安部", "アベ"),
    ("渡辺", "渡部", "ワタナベ"),
    ("菊地", "菊池", "キクチ"),
)

# Given names a clerk may write with another kanji of the same reading (裕子 for 祐子).
_MISSPELT_GIVEN_NAMES = (
    ("裕子", "祐子", "ユウコ", "2"),
    ("恵美", "絵美", "エミ", "2"),
    ("智子", "知子", "トモコ", "2"),
    ("洋子", "陽子", "ヨウコ", "2"),
    ("美穂", "美保", "ミホ", "2"),
    ("博", "浩", "ヒロシ", "1"),
    ("明", "昭", "アキラ", "1"),
    ("隆", "孝", "タカシ", "1"),
    ("健一", "謙一", "ケンイチ", "1"),
    ("秀樹", "英樹", "ヒデキ", "1"),
)

# Variant forms seen in real names (the table holds many more that names rarely use).
_NAME_FORMS = frozenset(
    "髙﨑嵜邊邉齋齊濱濵澤𠮷櫻嶋嶌廣國黑冨關桒龜德眞惠實榮彌靜淸郞彥豐壽龍晄遙穗薰曾條增瀨瀧栁舘槇槙桧檜靏"
    "芦蘆穐亞埜峯薗萬與兒藏凜凛𡈽逹"
)
_IVS = {"葛": ("\U000e0100", "\U000e0101"), "辻": ("\U000e0100", "\U000e0101"), "邉": ("\U000e0100", "\U000e0103")}
_PLACEHOLDER_CHOICES = "〓〓〓■"

_TOWNS = (
    "本町",
    "中町",
    "旭町",
    "栄町",
    "緑町",
    "幸町",
    "東町",
    "南町",
    "昭和町",
    "若葉町",
    "元町",
    "錦町",
    "大和町",
    "寿町",
    "桜台",
    "富士見町",
    "八幡町",
    "新町",
    "泉町",
    "平和台",
    "朝日町",
    "宮下",
    "上町",
    "日の出町",
)
_BUILDINGS = ("コーポ", "ハイツ", "レジデンス", "メゾン", "グランドパレス")

# Program facts the generator needs: ages (years) of recipients, certificate name, copay rate,
# and the monthly cap tiers (yen, 所得区分) with their weights.
_AGES: dict[str, tuple[int, int]] = {
    "kodomo": (0, 17),
    "shoman": (0, 19),
    "yoiku": (0, 0),
    "ikusei": (0, 17),
    "shitai-tsusho": (0, 17),
    "shogaiji-nyusho": (0, 17),
    "kosei": (18, 90),
    "seishin": (15, 85),
    "ryoyo-kaigo": (18, 80),
    "nanbyo": (2, 95),
    "kekkaku": (15, 95),
    "kanen": (30, 85),
    "kangan": (40, 90),
    "tokutei-shikkan": (30, 95),
    "hitorioya": (0, 55),
}
_DEFAULT_AGES = (0, 90)
# How often each date form of _Generator._date_forms appears: 令和8年5月15日, R8.5.15, 5080515,
# 2026-05-15, 2026/5/15, 20260515.
_DATE_FORM_CUMULATIVE = (0.30, 0.45, 0.60, 0.85, 0.93, 1.0)
_ISO = 3
_DATE_FORM_BY_PERCENT = tuple(
    next(i for i, bound in enumerate(_DATE_FORM_CUMULATIVE) if percent < bound * 100) for percent in range(100)
)
_ADULT_DAYS = int(18 * 365.25)
_SCHOOL_DAYS = int(6 * 365.25)
_SEVENTY_DAYS = int(70 * 365.25)
_OLD_OLD_DAYS = int(75 * 365.25)
_GENERATION = dt.timedelta(days=int(30 * 365.25))
_BRANCHES = ("00", "00", "00", "01", "02", "03")
_ADDRESS_POOL = 50_000
_CERTIFICATE_NAMES = {
    "nanbyo": "特定医療費（指定難病）受給者証",
    "shoman": "小児慢性特定疾病医療受給者証",
    "seishin": "自立支援医療受給者証（精神通院）",
    "kosei": "自立支援医療受給者証（更生医療）",
    "ikusei": "自立支援医療受給者証（育成医療）",
    "yoiku": "養育医療券",
    "kodomo": "子ども医療証",
    "hitorioya": "ひとり親家庭等医療証",
    "shogaisha": "心身障害者医療費受給者証",
    "kanen": "肝炎治療受給者証",
    "kekkaku": "結核医療患者票",
}
_COPAY_RATES = {"nanbyo": "20", "shoman": "20", "seishin": "10", "kosei": "10", "ikusei": "10", "kodomo": "0"}
_CAP_TIERS: dict[str, tuple[tuple[int, str, int], ...]] = {
    "nanbyo": (
        (0, "生活保護", 3),
        (2500, "低所得Ⅰ", 10),
        (5000, "低所得Ⅱ", 15),
        (10000, "一般所得Ⅰ", 35),
        (20000, "一般所得Ⅱ", 25),
        (30000, "上位所得", 12),
    ),
    "shoman": (
        (0, "生活保護", 3),
        (1250, "低所得Ⅰ", 10),
        (2500, "低所得Ⅱ", 15),
        (5000, "一般所得Ⅰ", 35),
        (10000, "一般所得Ⅱ", 25),
        (15000, "上位所得", 12),
    ),
    "seishin": (
        (0, "生活保護", 10),
        (2500, "低所得1", 20),
        (5000, "低所得2", 25),
        (5000, "中間所得1", 20),
        (10000, "中間所得2", 15),
        (20000, "一定所得以上", 10),
    ),
    "kanen": ((10000, "一般", 70), (20000, "上位所得", 30)),
}
_GENERIC_CAP_TIERS = ((0, "", 5), (2500, "", 15), (5000, "", 30), (10000, "", 35), (20000, "", 15))
_DISEASES = {
    "nanbyo": (
        "パーキンソン病",
        "潰瘍性大腸炎",
        "クローン病",
        "全身性エリテマトーデス",
        "多発性硬化症／視神経脊髄炎",
        "重症筋無力症",
        "後縦靱帯骨化症",
        "特発性拡張型心筋症",
        "筋萎縮性側索硬化症",
        "関節リウマチ",
    ),
    "shoman": ("1型糖尿病", "気管支喘息", "ネフローゼ症候群", "先天性心疾患", "成長ホルモン分泌不全性低身長症"),
    "kanen": ("C型慢性肝炎", "B型慢性肝炎"),
}

_FULL_WIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")
_FULL_WIDTH_ASCII = {code: chr(code + 0xFEE0) for code in range(0x21, 0x7F)} | {0x20: "\u3000"}


def _parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Read ``漢字:カナ`` tokens."""
    pairs = []
    for token in text.split():
        kanji, kana = token.split(":")
        pairs.append((kanji, kana))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class PayerSpec:
    """A program the generated certificates belong to: its 公費負担者番号 and catalogue facts."""

    payer_number: str
    program_code: str
    national: bool
    has_cap: bool


class SyntheticCase(NamedTuple):
    """One generated certificate row with the insurance record its My Number finds.

    ``certificate`` is the row keyed by :data:`CERTIFICATE_COLUMNS` and ``insurance`` the record keyed
    by :data:`INSURANCE_COLUMNS` (both built on access from the value tuples, which the writers use);
    ``expected_link`` says whether the two are one person; ``variant_kind`` names the notation
    variant (:data:`VARIANT_KINDS`) or the other person (:data:`MISMATCH_KINDS`), ``None`` when
    both sides write the same person alike.
    """

    certificate_values: tuple[str, ...]
    insurance_values: tuple[str, ...]
    expected_link: bool
    variant_kind: str | None

    @property
    def certificate(self) -> dict[str, str]:
        """The certificate row, keyed by the Japanese headers of the upload file."""
        return dict(zip(CERTIFICATE_COLUMNS, self.certificate_values, strict=True))

    @property
    def insurance(self) -> dict[str, str]:
        """The insurance record, keyed by the columns of ``pmh insurance import``."""
        return dict(zip(INSURANCE_COLUMNS, self.insurance_values, strict=True))

    def identity_pair(self) -> tuple[IdentityFacts, IdentityFacts]:
        """Return the facts the linking guard compares: (certificate, insurance record)."""
        row, record = self.certificate_values, self.insurance_values
        return (
            IdentityFacts(name=row[_NAME], name_kana=row[_KANA], birth_date=parse_date(row[_BIRTH])),
            IdentityFacts(
                name=record[_RECORD_NAME],
                name_kana=record[_RECORD_KANA],
                birth_date=dt.date.fromisoformat(record[_RECORD_BIRTH]),
            ),
        )


_NAME, _KANA, _BIRTH = (CERTIFICATE_COLUMNS.index(column) for column in ("氏名", "氏名カナ", "生年月日"))
_RECORD_NAME, _RECORD_KANA, _RECORD_BIRTH = (
    INSURANCE_COLUMNS.index(column) for column in ("name", "name_kana", "birth_date")
)


class _Person(NamedTuple):
    """One generated person (a NamedTuple: a million of them are made, cheaply)."""

    surname: str
    surname_kana: str
    given: str
    given_kana: str
    birth: dt.date
    sex: str
    foreign: bool = False

    @property
    def name(self) -> str:
        return f"{self.surname}\u3000{self.given}"

    @property
    def kana(self) -> str:
        return f"{self.surname_kana}\u3000{self.given_kana}"


class _Written(NamedTuple):
    """How the two sides write the names of one case."""

    record: _Person
    record_name: str
    record_kana: str
    certificate: _Person
    certificate_name: str
    certificate_kana: str


# --- character helpers -----------------------------------------------------------------------


@cache
def _encodable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _jis(char: str) -> bool:
    """Whether a certificate file may carry ``char`` (JIS X 0208 via CP932, or JIS X 0213)."""
    return _encodable(char, "cp932") or _encodable(char, "shift_jis_2004")


_KANA_WITHOUT_CP932 = {"ゔ": "ヴ", "ゕ": "ヵ", "ゖ": "ヶ", "ㇰ": "ク", "ㇱ": "シ", "ㇲ": "ス", "ㇳ": "ト"}


@cache
def _cp932_char(char: str) -> str:
    """Return the form of one character a CP932 file can carry (〓 when there is none)."""
    if _encodable(char, "cp932"):
        return char
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return ""
    if char in _KANA_WITHOUT_CP932:
        # Hiragana ゔ (and the rare small kana) have no CP932 code; a reading written in hiragana
        # carries the katakana form instead, which the importer reads as the same reading.
        return _KANA_WITHOUT_CP932[char]
    representative = fold_kanji(unicodedata.normalize("NFC", char))
    for form in variant_groups().get(representative, (representative,)):
        if _encodable(form, "cp932"):
            return form
    return "〓"


def cp932_safe(text: str) -> str:
    """Return ``text`` with every character CP932 cannot encode replaced by its common form.

    Variation selectors are dropped, variant kanji replaced by an encodable member of their group
    (𠮷 → 吉, 驒 → 騨), and a character without one by the 外字 mark 〓 — never by ``?``.
    """
    if text.isascii():
        return text
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return "".join(_cp932_char(char) for char in text)
    return text


@cache
def _name_alternatives() -> dict[str, tuple[str, ...]]:
    """Map each character of a name to the other forms real names write it in (高 → 髙)."""
    alternatives: dict[str, tuple[str, ...]] = {}
    for representative, forms in variant_groups().items():
        used = [form for form in forms if form == representative or form in _NAME_FORMS]
        if len(used) < 2:
            continue
        for form in used:
            alternatives[form] = tuple(other for other in used if other != form)
    return alternatives


@cache
def _compatibility_forms() -> dict[str, tuple[str, ...]]:
    """Map unified ideographs to their compatibility forms that a certificate file may carry."""
    forms: dict[str, list[str]] = {}
    for compatibility, unified in compatibility_folds().items():
        if _jis(compatibility):
            forms.setdefault(unified, []).append(compatibility)
    return {unified: tuple(chars) for unified, chars in forms.items()}


def _half_width_table() -> dict[int, str]:
    """Map full-width katakana (and ー ・ 　) to their half-width spelling (ガ → ｶﾞ)."""
    table: dict[int, str] = {}
    for code in range(0xFF61, 0xFF9E):
        full = unicodedata.normalize("NFKC", chr(code))
        if len(full) == 1:
            table.setdefault(ord(full), chr(code))
    for code in range(ord("ァ"), ord("ヴ") + 1):
        base = unicodedata.normalize("NFD", chr(code))
        if len(base) == 2 and ord(base[0]) in table:
            mark = "ﾞ" if base[1] == "\u3099" else "ﾟ"
            table[code] = table[ord(base[0])] + mark
    table[ord("\u3000")] = " "
    return table


_HALF_WIDTH = _half_width_table()
_TO_HIRAGANA = {code: chr(code - 0x60) for code in range(ord("ァ"), ord("ヶ") + 1)}
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョ", "アイウエオツヤユヨ")
_LONG_VOWEL_BEFORE = frozenset("オコソトノホモヨロゴゾドボポョ")


# --- the generator ---------------------------------------------------------------------------


def generate(
    rows: int,
    municipality_code: str,
    payers: Sequence[PayerSpec],
    *,
    seed: int = 0,
    variant_rate: float = 0.1,
    mismatch_rate: float = 0.0,
    era_dates: bool = True,
    as_of: dt.date = DEFAULT_AS_OF,
) -> Iterator[SyntheticCase]:
    """Yield ``rows`` synthetic certificates of ``municipality_code`` with their insurance records.

    ``payers`` are the programs the certificates belong to (chosen at random per row).
    ``variant_rate`` is the share of rows whose name is written in another notation than the
    record's, ``mismatch_rate`` the share whose certificate names another person. ``era_dates``
    writes dates in a mix of 和暦 and 西暦 forms (otherwise ISO only). ``as_of`` is "today" for ages
    and validity. Raises ``ValueError`` for bad arguments and ``UnknownMunicipality`` for an
    unknown municipality code.
    """
    if rows < 0:
        raise ValueError("rows must not be negative")
    if not payers:
        raise ValueError("at least one payer is needed")
    if not (0 <= variant_rate <= 1 and 0 <= mismatch_rate <= 1 and variant_rate + mismatch_rate <= 1):
        raise ValueError("variant_rate and mismatch_rate must be between 0 and 1 and add up to at most 1")
    generator = _Generator(municipality_code, payers, seed, variant_rate, mismatch_rate, era_dates, as_of)
    for _ in range(rows):
        yield generator.case()


class _ProgramFacts(NamedTuple):
    """What a certificate row of one payer needs from its program, looked up once per generation."""

    program: str
    payer_number: str
    cap_tiers: tuple[tuple[int, str], ...]
    cap_cumulative: list[float]
    copay_rate: str
    diseases: tuple[str, ...]
    certificate_name: str
    child_limit: int
    designates_institutions: bool


def _program_facts(payer: PayerSpec) -> _ProgramFacts:
    program = payer.program_code
    tiers = _CAP_TIERS.get(program, _GENERIC_CAP_TIERS) if payer.has_cap else ()
    return _ProgramFacts(
        program=program,
        payer_number=payer.payer_number,
        cap_tiers=tuple((amount, income) for amount, income, _ in tiers),
        cap_cumulative=_cumulative([weight for _, _, weight in tiers]) if tiers else [],
        copay_rate=_COPAY_RATES.get(program, ""),
        diseases=_DISEASES.get(program, ()),
        certificate_name=_CERTIFICATE_NAMES.get(program, "受給者証" if payer.national else "医療証"),
        # Child programs end on the first 31 March after the 18th (小児慢性: 20th) birthday.
        child_limit={"kodomo": 18, "ikusei": 18, "shoman": 20}.get(program, 0),
        designates_institutions=program == "seishin",
    )


def _day_range(low: int, high: int) -> tuple[int, int]:
    """Return (days, span): people aged ``low`` to ``high`` years were born ``days`` to ``days + span`` ago."""
    start = int(low * 365.25)
    return start, max(int((high + 1) * 365.25) - 1 - start, 1)


def _validity(as_of: dt.date) -> tuple[tuple[dt.date, dt.date], ...]:
    """Return (有効開始日, the day before its first anniversary) for starts in the last 330 days,
    seven in ten on any day and three in ten on the first of a month."""
    pairs = []
    for days in range(330):
        start = as_of - dt.timedelta(days=days)
        for first in (False,) * 7 + (True,) * 3:
            valid_from = start.replace(day=1) if first else start
            try:
                anniversary = valid_from.replace(year=valid_from.year + 1)
            except ValueError:  # 29 February
                anniversary = dt.date(valid_from.year + 1, 3, 1)
            pairs.append((valid_from, anniversary - dt.timedelta(days=1)))
    return tuple(pairs)


def _bijection(rng: Random, modulus: int) -> tuple[int, int]:
    """Return (a, b) such that i ↦ (a·i + b) mod ``modulus`` (a power of ten) is one-to-one."""
    while True:
        a = rng.randrange(1, modulus)
        if a % 2 and a % 5:
            return a, rng.randrange(modulus)


class _Generator:
    """The state of one generation: the random stream, counters and the tables it draws from."""

    def __init__(
        self,
        municipality_code: str,
        payers: Sequence[PayerSpec],
        seed: int,
        variant_rate: float,
        mismatch_rate: float,
        era_dates: bool,
        as_of: dt.date,
    ) -> None:
        home = catalogue.municipality(municipality_code)
        self.prefecture = home.prefecture_code
        places = catalogue.municipalities_in(home.prefecture_code) if home.is_prefecture else (home,)
        self.streets = tuple((place.full_name, town) for place in places for town in _TOWNS)
        self.kokuho = tuple(place.code[2:5] for place in places)
        self.rng = Random(seed)
        self.random = self.rng.random
        self.payers = tuple(payers)
        self.payer_days = tuple(_day_range(*_AGES.get(payer.program_code, _DEFAULT_AGES)) for payer in self.payers)
        self.program_facts = tuple(_program_facts(payer) for payer in self.payers)
        self.variant_rate = variant_rate
        self.mismatch_rate = mismatch_rate
        self.era_dates = era_dates
        self.as_of = as_of
        self.today = as_of.toordinal()
        self.validity = _validity(as_of)
        self.insured_since = tuple(dt.date.fromordinal(self.today - 30 - days).isoformat() for days in range(7270))
        self.date_forms: dict[dt.date, tuple[str, ...]] = {}
        self.addresses: dict[int, str] = {}
        self.index = 0
        self.my_number_map = _bijection(self.rng, 10**11)
        self.recipient_maps = [_bijection(self.rng, 10**6) for _ in self.payers]
        self.recipient_counts = [0] * len(self.payers)
        self.surnames = _parse_pairs(_SURNAMES)
        # Surname frequencies fall off roughly like a power of the rank.
        weights = [1 / (rank + 8) ** 0.9 for rank in range(len(self.surnames))]
        self.surname_cumulative = _cumulative(weights)[:-1]
        self.given = {key: _parse_pairs(text) for key, text in _GIVEN_NAMES.items()}
        self.foreign = tuple(token.replace("_", " ").split(":") for token in _FOREIGN_NAMES.split())
        alternatives = _name_alternatives()
        self.variant_surnames = tuple(s for s in self.surnames if any(c in alternatives for c in s[0]))
        compat = _compatibility_forms()
        self.compat_surnames = tuple(s for s in self.surnames if any(c in compat for c in s[0]))
        self.ivs_surnames = tuple(s for s in self.surnames if any(c in _IVS for c in s[0]))
        self.iteration_surnames = tuple(s for s in self.surnames if "々" in s[0])
        self.variant_handlers: tuple[Callable[[_Person], _Written], ...] = (
            self._old_kanji,
            self._compat_ideograph,
            self._ivs,
            self._spacing,
            self._width,
            self._kana_width,
            self._kana_notation,
            self._iteration_mark,
            self._confused_kanji,
            self._gaiji_placeholder,
            self._given_name_misspelt,
            self._confused_kanji_unspaced,
        )
        self.mismatch_handlers: tuple[Callable[[_Person], _Written], ...] = (
            self._family_member,
            self._twin,
            self._twin_same_reading,
            self._mistyped_my_number,
            self._namesake,
        )
        self.variant_cumulative = _cumulative(_VARIANT_WEIGHTS)
        self.mismatch_cumulative = _cumulative(_MISMATCH_WEIGHTS)
        self.clinics = self._institution_pool("1", 200)
        self.pharmacies = self._institution_pool("4", 100)
        self.insurers_75, self.insurers = self._insurer_pools()

    def _below(self, n: int) -> int:
        """Return a random integer 0 ≤ i < n (cheaper than ``randrange``; uniform enough for test data)."""
        return int(self.random() * n)

    def _between(self, low: int, high: int) -> int:
        """Return a random integer low ≤ i ≤ high."""
        return low + int(self.random() * (high - low + 1))

    # --- one case ----------------------------------------------------------------------------

    def case(self) -> SyntheticCase:
        """Return the next case. This is the hot path of a million-row file: draws are inlined."""
        random = self.random
        payer_index = int(random() * len(self.payers))
        patient = self._person(*self.payer_days[payer_index])
        draw = random()
        kind: str | None = None
        if draw < self.variant_rate:
            position = _pick(self.variant_cumulative, random())
            kind = VARIANT_KINDS[position]
            written = self.variant_handlers[position](patient)
        elif draw < self.variant_rate + self.mismatch_rate:
            position = _pick(self.mismatch_cumulative, random())
            kind = MISMATCH_KINDS[position]
            written = self.mismatch_handlers[position](patient)
        else:
            if random() < 0.04:
                patient = self._written_in_variant(patient)
            name, kana = patient.name, patient.kana
            written = _Written(patient, name, kana, patient, name, kana)
        my_number = self._my_number()
        certificate = self._certificate_row(payer_index, written, my_number)
        insurance = self._insurance_record(written, my_number)
        return SyntheticCase(certificate, insurance, kind is None or kind in VARIANT_KINDS, kind)

    def _my_number(self) -> str:
        a, b = self.my_number_map
        body = f"{(a * self.index + b) % 10**11:011d}"
        self.index += 1
        return body + str(my_number_check_digit(body))

    def _recipient_number(self, payer_index: int) -> str:
        count = self.recipient_counts[payer_index]
        if count >= 10**6:
            raise ValueError(f"more than 1,000,000 certificates for payer {self.payers[payer_index].payer_number}")
        self.recipient_counts[payer_index] = count + 1
        a, b = self.recipient_maps[payer_index]
        body = f"{(a * count + b) % 10**6:06d}"
        return body + str(modulus10_weight21_check_digit(body))

    # --- people ------------------------------------------------------------------------------

    def _birth(self, low: int, high: int) -> dt.date:
        """Return the birth date of someone aged ``low`` to ``high`` years today."""
        start, span = _day_range(low, high)
        return dt.date.fromordinal(self.today - start - int(self.random() * span))

    def _surname(self) -> tuple[str, str]:
        return self.surnames[bisect.bisect_right(self.surname_cumulative, self.random())]

    def _given(self, sex: str, birth: dt.date) -> tuple[str, str]:
        year = birth.year
        pool = self.given[(sex, 0 if year < 1960 else 1 if year < 2000 else 2)]
        return pool[int(self.random() * len(pool))]

    def _person(self, start: int, span: int) -> _Person:
        """Return a person born ``start`` to ``start + span`` days before today."""
        random = self.random
        birth = dt.date.fromordinal(self.today - start - int(random() * span))
        sex = "1" if random() < 0.5 else "2"
        if random() < 0.01:
            return self._foreigner(birth)
        surname, surname_kana = self.surnames[bisect.bisect_right(self.surname_cumulative, random())]
        year = birth.year
        pool = self.given[(sex, 0 if year < 1960 else 1 if year < 2000 else 2)]
        given, given_kana = pool[int(random() * len(pool))]
        return _Person(surname, surname_kana, given, given_kana, birth, sex)

    def _person_aged(self, low: int, high: int) -> _Person:
        return self._person(*_day_range(low, high))

    def _foreigner(self, birth: dt.date) -> _Person:
        surname, surname_kana, given, given_kana, sex = self.foreign[self._below(len(self.foreign))]
        return _Person(surname, surname_kana, given, given_kana, birth, sex, foreign=True)

    def _with_surname(self, person: _Person, pool: Sequence[tuple[str, str]]) -> _Person:
        surname, kana = pool[self._below(len(pool))]
        return _Person(surname, kana, person.given, person.given_kana, person.birth, person.sex)

    def _written_in_variant(self, person: _Person) -> _Person:
        """Write the surname in a variant form on both sides (髙橋 is a name, not a typo)."""
        if person.foreign:
            return person
        alternatives = _name_alternatives()
        surname = "".join(
            self.rng.choice([form for form in alternatives.get(char, ()) if _jis(form)] or [char])
            for char in person.surname
        )
        return _Person(surname, person.surname_kana, person.given, person.given_kana, person.birth, person.sex)

    # --- notation variants (same person) ------------------------------------------------------

    def _same(self, person: _Person, certificate_name: str, certificate_kana: str | None = None) -> _Written:
        kana = person.kana if certificate_kana is None else certificate_kana
        return _Written(person, person.name, person.kana, person, certificate_name, kana)

    def _swap_sides(self, person: _Person, written: str, plain: str, certificate_may_carry: bool) -> _Written:
        """Put the variant spelling ``written`` on a random side (on the record when files cannot carry it)."""
        if certificate_may_carry and self.rng.random() < 0.5:
            return _Written(person, plain, person.kana, person, written, person.kana)
        return _Written(person, written, person.kana, person, plain, person.kana)

    def _replace_one(
        self, person: _Person, options: Callable[[str], Sequence[str]], fallback: Sequence[tuple[str, str]]
    ) -> tuple[_Person, str, str]:
        """Replace one character of the name by one of ``options(char)``; return (person, written, plain).

        A name without such a character first gets a surname from ``fallback`` (surnames that have one).
        """
        if person.foreign:
            person = self._japanese(person)
        name = person.name
        positions = [i for i, char in enumerate(name) if options(char)]
        if not positions:
            person = self._with_surname(person, fallback)
            name = person.name
            positions = [i for i, char in enumerate(name) if options(char)]
        position = positions[self._below(len(positions))]
        choices = options(name[position])
        written = name[:position] + choices[self._below(len(choices))] + name[position + 1 :]
        return person, written, name

    def _japanese(self, person: _Person) -> _Person:
        surname, surname_kana = self._surname()
        given, given_kana = self._given(person.sex, person.birth)
        return _Person(surname, surname_kana, given, given_kana, person.birth, person.sex)

    def _old_kanji(self, person: _Person) -> _Written:
        alternatives = _name_alternatives()
        person, written, plain = self._replace_one(
            person, lambda char: alternatives.get(char, ()), self.variant_surnames
        )
        return self._swap_sides(person, written, plain, all(_jis(char) for char in written))

    def _compat_ideograph(self, person: _Person) -> _Written:
        forms = _compatibility_forms()
        person, written, plain = self._replace_one(person, lambda char: forms.get(char, ()), self.compat_surnames)
        return self._swap_sides(person, written, plain, True)

    def _ivs(self, person: _Person) -> _Written:
        # Generated certificate files stay within JIS (a CP932 file cannot carry variation selectors),
        # so the selector is on the insurance record, as a resident-register extract might write it.
        # The importer accepts IVS in names too; benchmarks/linking_guard.py --mj-rate covers that side.
        person, written, plain = self._replace_one(
            person, lambda char: tuple(char + s for s in _IVS[char]) if char in _IVS else (), self.ivs_surnames
        )
        return self._swap_sides(person, written, plain, False)

    def _spacing(self, person: _Person) -> _Written:
        draw = self.rng.random()
        if draw < 0.5:
            written = person.surname + person.given
        elif draw < 0.75:
            written = f"{person.surname} {person.given}"
        elif draw < 0.85:
            written = f"{person.surname}\u3000\u3000{person.given}"
        else:
            written = f"\u3000{person.name}\u3000"
        return self._same(person, written)

    def _width(self, person: _Person) -> _Written:
        rng = self.rng
        if rng.random() < 0.5:
            if not person.foreign:
                person = self._foreigner(person.birth)
            if rng.random() < 0.5:
                written = person.name.translate(_FULL_WIDTH_ASCII)
            else:
                written = f"{person.surname.title()}\u3000{person.given.title()}"
            return self._same(person, written)
        if person.foreign:
            person = self._japanese(person)
        pool = _KATAKANA_GIVEN[person.sex]
        given, given_kana = pool[self._below(len(pool))]
        person = _Person(person.surname, person.surname_kana, given, given_kana, person.birth, person.sex)
        return self._same(person, f"{person.surname}\u3000{given.translate(_HALF_WIDTH)}")

    def _kana_width(self, person: _Person) -> _Written:
        if self.rng.random() < 0.6:
            return self._same(person, person.name, person.kana.translate(_HALF_WIDTH))
        return self._same(person, person.name, person.kana.translate(_TO_HIRAGANA))

    def _kana_notation(self, person: _Person) -> _Written:
        kana = person.kana
        options: list[str] = []
        small = kana.translate(_SMALL_TO_LARGE)
        if small != kana:
            options.append(small)
        voiced = kana.replace("ヅ", "ズ").replace("ヂ", "ジ")
        if voiced != kana:
            options.append(voiced)
        long_vowel = "".join(
            "ー" if char == "ウ" and i and kana[i - 1] in _LONG_VOWEL_BEFORE else char for i, char in enumerate(kana)
        )
        if long_vowel != kana:
            options.append(long_vowel)
        if not options:
            options.append(kana.replace("\u3000", ""))
        return self._same(person, person.name, options[self._below(len(options))])

    def _iteration_mark(self, person: _Person) -> _Written:
        if "々" not in person.name:
            japanese = self._japanese(person) if person.foreign else person
            person = self._with_surname(japanese, self.iteration_surnames)
        name = person.name
        position = name.index("々")
        spelled = name[:position] + name[position - 1] + name[position + 1 :]
        return self._swap_sides(person, spelled, name, True)

    def _confused_kanji(self, person: _Person) -> _Written:
        rng = self.rng
        first, second, kana = _CONFUSED_SURNAMES[self._below(len(_CONFUSED_SURNAMES))]
        if rng.random() < 0.5:
            first, second = second, first
        if person.foreign:
            person = self._japanese(person)
        person = _Person(first, kana, person.given, person.given_kana, person.birth, person.sex)
        return self._same(person, f"{second}\u3000{person.given}")

    def _gaiji_placeholder(self, person: _Person) -> _Written:
        # The municipal system could not write one character (often a variant form) and sent 〓.
        rng = self.rng
        if person.foreign:
            person = self._japanese(person)
        if rng.random() < 0.5:
            person = self._with_surname(person, self.variant_surnames)
        name = person.name
        positions = [i for i, char in enumerate(name) if is_ideograph(char)]
        if not positions:
            person = self._with_surname(person, self.surnames)
            name = person.name
            positions = [i for i, char in enumerate(name) if is_ideograph(char)]
        position = positions[self._below(len(positions))]
        mark = _PLACEHOLDER_CHOICES[self._below(len(_PLACEHOLDER_CHOICES))]
        return self._same(person, name[:position] + mark + name[position + 1 :])

    def _given_name_misspelt(self, person: _Person) -> _Written:
        # Held by design: indistinguishable from a twin whose name sounds the same.
        right, wrong, kana, sex = _MISSPELT_GIVEN_NAMES[self._below(len(_MISSPELT_GIVEN_NAMES))]
        if self.random() < 0.5:
            right, wrong = wrong, right
        japanese = self._japanese(person) if person.foreign else person
        person = japanese._replace(given=right, given_kana=kana, sex=sex)
        return self._same(person, f"{person.surname}\u3000{wrong}")

    def _confused_kanji_unspaced(self, person: _Person) -> _Written:
        # Held by design: without a space on either side the surname cannot be told from the given name.
        written = self._confused_kanji(person)
        record = written.record
        return written._replace(
            record_name=record.surname + record.given,
            certificate_name=written.certificate_name.replace("\u3000", ""),
        )

    # --- other people (must be held) --------------------------------------------------------

    def _other(self, record: _Person, patient: _Person) -> _Written:
        return _Written(record, record.name, record.kana, patient, patient.name, patient.kana)

    def _different_given(self, patient: _Person, sex: str, birth: dt.date) -> tuple[str, str]:
        """Draw a given name that differs from the patient's in both writing and reading."""
        while True:
            given, kana = self._given(sex, birth)
            if name_key(given) != name_key(patient.given) and kana_key(kana) != kana_key(patient.given_kana):
                return given, kana

    def _family_member(self, patient: _Person) -> _Written:
        # The certificate carries the My Number of a relative: same surname, written the same way.
        rng = self.rng
        patient = self._japanese(patient) if patient.foreign else patient
        age = (self.as_of - patient.birth).days // 365
        relation = rng.random()
        if relation < 0.45 and age < 60:
            birth = self._shifted(patient.birth, 22, 42)
        elif relation < 0.75 and age >= 22:
            birth = self._shifted(patient.birth, -42, -22)
        else:
            birth = self._shifted(patient.birth, 1, 8) if rng.random() < 0.5 else self._shifted(patient.birth, -8, -1)
        sex = "1" if rng.random() < 0.5 else "2"
        given, kana = self._different_given(patient, sex, birth)
        relative = _Person(patient.surname, patient.surname_kana, given, kana, birth, sex)
        return self._other(relative, patient)

    def _shifted(self, birth: dt.date, low_years: int, high_years: int) -> dt.date:
        """Return a birth date ``low_years`` to ``high_years`` before ``birth`` (negative: after), before today."""
        days = self._between(int(low_years * 365.25), int(high_years * 365.25))
        shifted = min(birth.toordinal() - days, self.today - 1)
        if shifted == birth.toordinal():
            shifted -= 1
        return dt.date.fromordinal(shifted)

    def _twin(self, patient: _Person) -> _Written:
        patient = self._japanese(patient) if patient.foreign else patient
        sex = "1" if self.rng.random() < 0.5 else "2"
        given, kana = self._different_given(patient, sex, patient.birth)
        twin = _Person(patient.surname, patient.surname_kana, given, kana, patient.birth, sex)
        return self._other(twin, patient)

    def _twin_same_reading(self, patient: _Person) -> _Written:
        patient = self._japanese(patient) if patient.foreign else patient
        pairs = _SAME_READING_PAIRS[patient.sex]
        first, second, kana = pairs[self._below(len(pairs))]
        patient = _Person(patient.surname, patient.surname_kana, first, kana, patient.birth, patient.sex)
        twin = _Person(patient.surname, patient.surname_kana, second, kana, patient.birth, patient.sex)
        return self._other(twin, patient)

    def _mistyped_my_number(self, patient: _Person) -> _Written:
        # A valid but wrong My Number: it finds an unrelated person.
        while True:
            stranger = self._person_aged(*_DEFAULT_AGES)
            if name_key(stranger.name) != name_key(patient.name):
                return self._other(stranger, patient)

    def _namesake(self, patient: _Person) -> _Written:
        # Somebody with exactly the same name, born on another day.
        while True:
            birth = self._birth(*_DEFAULT_AGES)
            if birth != patient.birth:
                break
        namesake = patient._replace(birth=birth)
        return self._other(namesake, patient)

    # --- rows --------------------------------------------------------------------------------

    def _date_forms(self, value: dt.date) -> tuple[str, ...]:
        """Return the ways a date is written (cached: a million rows share a few ten thousand dates)."""
        forms = self.date_forms.get(value)
        if forms is None:
            forms = (
                format_wareki(value),
                format_wareki_short(value),
                format_era_code(value),
                value.isoformat(),
                f"{value.year}/{value.month}/{value.day}",
                f"{value.year:04d}{value.month:02d}{value.day:02d}",
            )
            self.date_forms[value] = forms
        return forms

    def _date_style(self) -> tuple[int, bool]:
        """Choose how one row writes its dates: which of the six forms, and whether in full width."""
        if not self.era_dates:
            return _ISO, False
        draw = self.random() * 100
        # The fraction of the same draw decides the full-width digits (independent of its integer part).
        return _DATE_FORM_BY_PERCENT[int(draw)], draw % 1 < 0.03

    def _date(self, value: dt.date, style: tuple[int, bool]) -> str:
        """Write a date in a row's style (:meth:`_date_style`)."""
        text = (self.date_forms.get(value) or self._date_forms(value))[style[0]]
        return text.translate(_FULL_WIDTH_DIGITS) if style[1] else text

    def _address(self) -> str:
        """Return an address in this municipality; residents share a pool of a few ten thousand
        (rendering one costs more than the rest of the row's text)."""
        draw = int(self.random() * _ADDRESS_POOL)
        address = self.addresses.get(draw)
        if address is None:
            address = self.addresses[draw] = self._new_address()
        return address

    def _new_address(self) -> str:
        random = self.random
        streets = self.streets
        # One draw for the street, 丁目, 番 and 号.
        draw, street = divmod(int(random() * len(streets) * 6750), len(streets))
        draw, house = divmod(draw, 25)
        block, lot = divmod(draw, 30)
        place, town = streets[street]
        style = random()
        if style < 0.6:
            address = f"{place}{town}{block + 1}丁目{lot + 1}番{house + 1}号"
        elif style < 0.88:
            address = f"{place}{town}{block + 1}-{lot + 1}-{house + 1}"
        else:
            address = f"{place}{town}{block + 1}-{lot + 1}-{house + 1}".translate(_FULL_WIDTH_DIGITS)
        if style * 100 % 1 < 0.2:
            building = _BUILDINGS[int(random() * len(_BUILDINGS))]
            address += f"\u3000{building}{town[:1]}{1 + int(random() * 5)}{1 + int(random() * 12):02d}号室"
        return address

    def _certificate_row(self, payer_index: int, written: _Written, my_number: str) -> tuple[str, ...]:
        random = self.random
        facts = self.program_facts[payer_index]
        person = written.certificate
        birth = person.birth
        draw = random()
        valid_from, year_end = self.validity[int(draw * len(self.validity))]
        if facts.child_limit:
            year = birth.year + facts.child_limit + (0 if (birth.month, birth.day) <= (3, 31) else 1)
            valid_to: dt.date | None = max(dt.date(year, 3, 31), valid_from)
        else:
            valid_to = None if draw * 100 % 1 < 0.2 else year_end
        cap = inpatient = income = managed = ""
        if facts.cap_tiers:
            amount, income = facts.cap_tiers[_pick(facts.cap_cumulative, random())]
            cap = str(amount)
            managed = "1"
            if facts.program == "shoman" and random() < 0.1:
                inpatient = str(amount // 2)
        guardian = ""
        if self.today - birth.toordinal() < _ADULT_DAYS and not person.foreign:
            parent_given, _ = self._given("1" if random() < 0.4 else "2", birth - _GENERATION)
            guardian = f"{person.surname}\u3000{parent_given}"
        recipient = self._recipient_number(payer_index)
        # A municipal system writes all dates of a row alike; rows differ (files merge several systems).
        style = self._date_style()
        flags = random()
        return (
            "1",  # 処理区分
            facts.payer_number,  # 公費負担者番号
            recipient.translate(_FULL_WIDTH_DIGITS) if flags < 0.03 else recipient,  # 公費受給者番号
            my_number.translate(_FULL_WIDTH_DIGITS) if 0.03 <= flags < 0.06 else my_number,  # 個人番号
            written.certificate_name,  # 氏名
            written.certificate_kana,  # 氏名カナ
            self._date(birth, style),  # 生年月日
            person.sex,  # 性別
            self._date(valid_from, style),  # 有効開始日
            self._date(valid_to, style) if valid_to else "",  # 有効終了日
            cap,  # 自己負担上限額
            inpatient,  # 入院上限額
            facts.copay_rate if flags < 0.8 else "",  # 負担割合
            income,  # 所得区分
            managed,  # 上限額管理
            facts.diseases[int(random() * len(facts.diseases))] if facts.diseases else "",  # 疾病名
            self._institutions() if facts.designates_institutions else "",  # 指定医療機関コード
            guardian,  # 保護者氏名
            facts.certificate_name,  # 証区分名称
            self._address(),  # 住所
            "1" if flags * 100 % 1 < 0.002 else "",  # 非開示
            "1" if flags * 10000 % 1 < 0.001 else "",  # 常に償還払い
            "",  # 付加条件
            f"交付年月日={format_wareki(valid_from)}" if flags * 1000 % 1 < 0.05 else "",  # 券面記載事項
        )

    def _institution_pool(self, fee_schedule: str, size: int) -> tuple[str, ...]:
        """Return ``size`` 医療機関コード of this prefecture (点数表 1 医科, 4 調剤) with check digits."""
        prefecture = self.prefecture
        bodies = {f"{prefecture}{fee_schedule}{self._between(1, 30):02d}{self._below(10000):04d}" for _ in range(size)}
        return tuple(body + str(modulus10_weight21_check_digit(body)) for body in sorted(bodies))

    def _institutions(self) -> str:
        """Return the designated institutions of a 精神通院 certificate: a clinic, often a pharmacy too."""
        clinic = self.clinics[self._below(len(self.clinics))]
        if self.random() < 0.6:
            return f"{clinic};{self.pharmacies[self._below(len(self.pharmacies))]}"
        return clinic

    def _insurance_record(self, written: _Written, my_number: str) -> tuple[str, ...]:
        random = self.random
        person = written.record
        birth = person.birth
        age_days = self.today - birth.toordinal()
        draw = random()
        if age_days >= _OLD_OLD_DAYS:
            insurer = self.insurers_75[int(draw * len(self.insurers_75))]
            symbol, number, branch = "", f"{int(random() * 10**8):08d}", ""
        else:
            insurer, symbols = self.insurers[int(draw * len(self.insurers))]
            symbol = symbols[int(random() * len(symbols))]
            number, branch = str(1 + int(random() * 9999999)), _BRANCHES[int(draw * 1000) % len(_BRANCHES)]
        if age_days < _SCHOOL_DAYS or _SEVENTY_DAYS <= age_days < _OLD_OLD_DAYS:
            copay = "20"
        elif age_days < _SEVENTY_DAYS:
            copay = "30"
        else:
            copay = "10" if draw * 100 % 1 < 0.8 else "20"
        # 被保険者区分: 後期高齢者 and 国保 have no 被扶養者; children are dependants; about one adult in
        # four is a dependent spouse (drawn from the insurer draw: no extra random number).
        national = age_days >= _OLD_OLD_DAYS or len(insurer) == 6
        dependant = age_days < _ADULT_DAYS or draw * 10_000 % 1 < 0.25
        relationship = "1" if national or not dependant else "2"
        # Insured since birth or since some day in the last twenty years.
        since = int(random() * len(self.insured_since))
        start = self.insured_since[since] if self.today - 30 - since > birth.toordinal() else None
        return (
            my_number,  # my_number
            insurer,  # insurer_number
            symbol,  # symbol
            number,  # number
            branch,  # branch
            written.record_name,  # name
            written.record_kana,  # name_kana
            (self.date_forms.get(birth) or self._date_forms(birth))[_ISO],  # birth_date
            person.sex,  # sex
            copay,  # copay_rate
            start or (self.date_forms.get(birth) or self._date_forms(birth))[_ISO],  # valid_from
            "",  # valid_to
            relationship,  # relationship
        )

    def _insurer_pools(self) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
        """Return the insurers people here belong to: 後期高齢者 numbers (75+), and the others with the
        記号 their members carry, repeated by share (国保 25 %, 協会けんぽ 40 %, 組合 27 %, 共済 8 %)."""
        prefecture = self.prefecture

        def symbols(digits: int) -> tuple[str, ...]:
            # Members of one insurer share a few dozen 記号 (an employer's office, a 国保 district).
            return tuple(str(self._below(10**digits)).zfill(2) for _ in range(30))

        elderly = tuple(_checked(f"39{prefecture}{i:03d}") for i in range(1, 4))
        kokuho = [(_checked(f"{prefecture}{code}"), symbols(2)) for code in self.kokuho]
        kyokai = [(_checked(f"01{prefecture}{i:03d}"), symbols(8)) for i in range(1, 21)]
        kumiai = [(_checked(f"06{prefecture}{self._between(1, 999):03d}"), symbols(4)) for _ in range(60)]
        kyosai = [
            (_checked(f"3{self._between(1, 4)}{prefecture}{self._between(1, 999):03d}"), symbols(3)) for _ in range(20)
        ]
        others: list[tuple[str, tuple[str, ...]]] = []
        for pool, share in ((kokuho, 25), (kyokai, 40), (kumiai, 27), (kyosai, 8)):
            others.extend(pool[i % len(pool)] for i in range(share * 10))
        return elderly, tuple(others)


@lru_cache(maxsize=4096)
def _checked(body: str) -> str:
    """Return ``body`` followed by its 2,1-weighted check digit (insurer numbers repeat; cache them)."""
    return body + str(modulus10_weight21_check_digit(body))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total / sum(weights))
    return out


def _pick(cumulative: Sequence[float], draw: float) -> int:
    return min(bisect.bisect_right(cumulative, draw), len(cumulative) - 1)


# --- writing ---------------------------------------------------------------------------------

Destination = str | os.PathLike[str] | TextIO
"""Where a file goes: a path (opened and closed here) or an open text stream (left open)."""

CP932_ERRORS = "pmh.cp932_common_form"
"""Name of the codec error handler that writes the common form of what CP932 cannot encode."""


def _common_form(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: replace unencodable characters as :func:`cp932_safe` does."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(_cp932_char(char) for char in error.object[error.start : error.end]), error.end


codecs.register_error(CP932_ERRORS, _common_form)


def write_files(
    cases: Iterable[SyntheticCase],
    certificates_out: Destination,
    insurance_out: Destination,
    *,
    encoding: Encoding = "utf-8",
) -> int:
    """Write the certificate file and the insurance file in one pass; return the number of rows.

    A path is opened here: the certificate file in ``encoding`` (with a BOM for ``utf-8-sig``), the
    insurance file in UTF-8. A stream is written in its own encoding. With ``encoding="cp932"`` the
    certificate text is made CP932-safe (:func:`cp932_safe`; an open ``TextIOWrapper`` is switched to
    the :data:`CP932_ERRORS` handler, which does the same at codec speed).
    """
    with ExitStack() as stack:
        certificates, substitute = _certificate_stream(stack, certificates_out, encoding)
        insurance = _open(stack, insurance_out, "utf-8")
        certificate_writer = csvfiles.writer(certificates, lineterminator="\r\n")
        insurance_writer = csvfiles.writer(insurance, lineterminator="\n")
        certificate_writer.writerow(CERTIFICATE_COLUMNS)
        insurance_writer.writerow(INSURANCE_COLUMNS)
        count = 0
        for case in cases:
            values = case.certificate_values
            certificate_writer.writerow([cp932_safe(value) for value in values] if substitute else values)
            insurance_writer.writerow(case.insurance_values)
            count += 1
    return count


def write_certificates_csv(cases: Iterable[SyntheticCase], out: Destination, encoding: Encoding = "utf-8") -> int:
    """Write only the certificate file (see :func:`write_files`); return the number of rows."""
    with ExitStack() as stack:
        stream, substitute = _certificate_stream(stack, out, encoding)
        writer = csvfiles.writer(stream, lineterminator="\r\n")
        writer.writerow(CERTIFICATE_COLUMNS)
        count = 0
        for case in cases:
            values = case.certificate_values
            writer.writerow([cp932_safe(value) for value in values] if substitute else values)
            count += 1
    return count


def write_insurance_csv(cases: Iterable[SyntheticCase], out: Destination) -> int:
    """Write only the insurance file (UTF-8, English header); return the number of rows."""
    with ExitStack() as stack:
        stream = _open(stack, out, "utf-8")
        writer = csvfiles.writer(stream, lineterminator="\n")
        writer.writerow(INSURANCE_COLUMNS)
        count = 0
        for case in cases:
            writer.writerow(case.insurance_values)
            count += 1
    return count


def _open(stack: ExitStack, destination: Destination, encoding: Encoding) -> TextIO:
    if isinstance(destination, str | os.PathLike):
        errors = CP932_ERRORS if encoding == "cp932" else "strict"
        return stack.enter_context(open(destination, "w", encoding=encoding, errors=errors, newline=""))
    return destination


def _certificate_stream(stack: ExitStack, destination: Destination, encoding: Encoding) -> tuple[TextIO, bool]:
    """Open the certificate destination; say whether values must be made CP932-safe one by one."""
    stream = _open(stack, destination, encoding)
    if encoding != "cp932" or isinstance(destination, str | os.PathLike):
        return stream, False
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name == "cp932":
        stream.reconfigure(errors=CP932_ERRORS)
        return stream, False
    return stream, True
