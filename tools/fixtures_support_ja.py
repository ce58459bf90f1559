#!/usr/bin/env python3
"""Deterministic generator of the ``support-ja`` demo fixtures (stdlib only).

Phone/e-mail support desk of a (made-up) software vendor in Japan,
株式会社ラベルワークス (label design software "ラベルマイスター", label printers,
label paper and custom-made labels): customer registrations of the in-house
CRM, kintone-like case records, the desk's Asterisk CDR (calls/Master.csv)
and a few support mails.

    python tools/fixtures_support_ja.py    # rewrites fixtures/support-ja/ (the profile file is kept by hand)
"""
# ruff: noqa: E501  (data tables and native-language text)

from __future__ import annotations

import json
import random
import shutil
from datetime import date, datetime, timedelta, timezone
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

from fixturelib import (
    ANCHOR,
    DAYS,
    ROOT,
    START,
    Mailer,
    addr,
    attach,
    boundary,
    delivery_status,
    end_of_anchor,
    finalize,
    html_doc,
    iso,
    png_bytes,
    text_part,
    text_to_html,
    write_jsonl,
    write_maildir,
)

PROFILE = "support-ja"
OUT = ROOT / "fixtures" / PROFILE

TZ = timezone(timedelta(hours=9))
END_DT = end_of_anchor(TZ)
HOLIDAYS = {date(2026, 1, 1): "元日", date(2026, 1, 12): "成人の日"}
WD = "月火水木金土日"

DOMAIN = "labelworks.example"
INBOX_ADDR = f"support@{DOMAIN}"
INBOX_NAME = "ラベルワークス サポートセンター"
MAILBOX = "support"
KINTONE = "https://labelworks.kintone.example/k/42/show#record="
FREE_DIAL = "0120587410"
DESK_DID = "0358432210"
MX_HOST = "mail.labelworks.example"  # the receiving server named in Received headers

rng = random.Random(2026011402)
mailer = Mailer(rng, MX_HOST, INBOX_ADDR)


# ===================================================================== helpers
def at(d: date, h: int, m: int, s: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=TZ)


def wchoice(pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs], k=1)[0]


def jp_date_long(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日({WD[d.weekday()]})"


def hm(t: datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


def quote(text: str, t: datetime, who: str) -> str:
    q = "\n".join(("> " + ln) if ln else ">" for ln in text.rstrip("\n").split("\n"))
    return f"\n{jp_date_long(t.date())} {hm(t)} {who}:\n{q}\n"


# ======================================================================= data
# fmt: off
SURNAMES = [
    ("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"), ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"), ("山田", "ヤマダ", "yamada"),
    ("斎藤", "サイトウ", "saito"), ("山崎", "ヤマザキ", "yamazaki"), ("森", "モリ", "mori"),
    ("池田", "イケダ", "ikeda"), ("橋本", "ハシモト", "hashimoto"), ("阿部", "アベ", "abe"),
    ("石川", "イシカワ", "ishikawa"), ("山下", "ヤマシタ", "yamashita"), ("中島", "ナカジマ", "nakajima"),
    ("石井", "イシイ", "ishii"), ("小川", "オガワ", "ogawa"), ("前田", "マエダ", "maeda"),
    ("岡田", "オカダ", "okada"), ("長谷川", "ハセガワ", "hasegawa"), ("藤田", "フジタ", "fujita"),
    ("後藤", "ゴトウ", "goto"), ("近藤", "コンドウ", "kondo"), ("村上", "ムラカミ", "murakami"),
    ("遠藤", "エンドウ", "endo"), ("青木", "アオキ", "aoki"), ("坂本", "サカモト", "sakamoto"),
    ("福田", "フクダ", "fukuda"), ("太田", "オオタ", "ota"), ("西村", "ニシムラ", "nishimura"),
    ("金子", "カネコ", "kaneko"), ("岡本", "オカモト", "okamoto"), ("藤原", "フジワラ", "fujiwara"),
    ("三浦", "ミウラ", "miura"), ("中野", "ナカノ", "nakano"), ("原田", "ハラダ", "harada"),
    ("松田", "マツダ", "matsuda"), ("竹内", "タケウチ", "takeuchi"), ("小野", "オノ", "ono"),
    ("和田", "ワダ", "wada"), ("上田", "ウエダ", "ueda"), ("森田", "モリタ", "morita"),
    ("杉山", "スギヤマ", "sugiyama"), ("今井", "イマイ", "imai"), ("野口", "ノグチ", "noguchi"),
    ("菊地", "キクチ", "kikuchi"), ("平野", "ヒラノ", "hirano"), ("大塚", "オオツカ", "otsuka"),
    ("千葉", "チバ", "chiba"), ("久保", "クボ", "kubo"), ("松井", "マツイ", "matsui"),
    ("岩崎", "イワサキ", "iwasaki"), ("桜井", "サクライ", "sakurai"), ("工藤", "クドウ", "kudo"),
    ("安藤", "アンドウ", "ando"), ("宮崎", "ミヤザキ", "miyazaki"), ("内田", "ウチダ", "uchida"),
]
GIVEN = [
    ("健太", "ケンタ", "kenta"), ("翔太", "ショウタ", "shota"), ("大輔", "ダイスケ", "daisuke"),
    ("拓也", "タクヤ", "takuya"), ("直樹", "ナオキ", "naoki"), ("誠", "マコト", "makoto"),
    ("浩二", "コウジ", "koji"), ("隆", "タカシ", "takashi"), ("和也", "カズヤ", "kazuya"),
    ("雄一", "ユウイチ", "yuichi"), ("修", "オサム", "osamu"), ("亮", "リョウ", "ryo"),
    ("健一", "ケンイチ", "kenichi"), ("博之", "ヒロユキ", "hiroyuki"), ("哲也", "テツヤ", "tetsuya"),
    ("正人", "マサト", "masato"), ("聡", "サトシ", "satoshi"), ("剛", "ツヨシ", "tsuyoshi"),
    ("花子", "ハナコ", "hanako"), ("美咲", "ミサキ", "misaki"), ("陽子", "ヨウコ", "yoko"),
    ("恵美", "エミ", "emi"), ("由美", "ユミ", "yumi"), ("直美", "ナオミ", "naomi"),
    ("真由美", "マユミ", "mayumi"), ("愛", "アイ", "ai"), ("麻衣", "マイ", "mai"),
    ("智子", "トモコ", "tomoko"), ("久美子", "クミコ", "kumiko"), ("香織", "カオリ", "kaori"),
    ("理恵", "リエ", "rie"), ("美穂", "ミホ", "miho"), ("京子", "キョウコ", "kyoko"),
    ("典子", "ノリコ", "noriko"), ("幸子", "サチコ", "sachiko"), ("裕子", "ユウコ", "yuko"),
]
# prefecture, area code, weight
PREFS = [
    ("東京都", "03", 20), ("神奈川県", "045", 8), ("埼玉県", "048", 6), ("千葉県", "043", 5),
    ("大阪府", "06", 10), ("京都府", "075", 3), ("兵庫県", "078", 4), ("愛知県", "052", 7),
    ("静岡県", "054", 3), ("北海道", "011", 4), ("宮城県", "022", 3), ("新潟県", "025", 2),
    ("長野県", "0263", 2), ("広島県", "082", 3), ("岡山県", "086", 2), ("福岡県", "092", 5),
    ("熊本県", "096", 2), ("鳥取県", "0857", 1),
]
CO_PREFIX = [("北斗", "hokuto"), ("みどり", "midori"), ("あさひ", "asahi"), ("さくら", "sakura"),
             ("東邦", "toho"), ("大和", "yamato"), ("ひまわり", "himawari"), ("青葉", "aoba"),
             ("丸菱", "marubishi"), ("富士見", "fujimi"), ("光陽", "koyo"), ("千代田", "chiyoda"),
             ("湘南", "shonan"), ("武蔵野", "musashino"), ("瀬戸内", "setouchi"), ("信州", "shinshu"),
             ("奥羽", "ou"), ("筑紫", "chikushi"), ("白樺", "shirakaba"), ("若葉", "wakaba"),
             ("三河", "mikawa"), ("高砂", "takasago"), ("明星", "myojo"), ("清流", "seiryu"),
             ("日進", "nisshin"), ("協和", "kyowa"), ("ミナト", "minato"), ("はやぶさ", "hayabusa")]
CO_SUFFIX = [("物産", "bussan"), ("食品", "foods"), ("製菓", "seika"), ("商事", "shoji"),
             ("工業", "kogyo"), ("精工", "seiko"), ("薬品", "yakuhin"), ("フーズ", "foods"),
             ("産業", "sangyo"), ("ファーム", "farm"), ("印刷", "print"), ("電機", "denki"),
             ("化成", "kasei"), ("農園", "noen"), ("酒造", "shuzo"), ("ロジスティクス", "logi"),
             ("テクノ", "techno"), ("製作所", "works")]
DEPTS = ["総務部", "営業部", "製造部", "品質管理課", "物流センター", "店舗運営部", "商品企画部", "出荷課", "", ""]
# fmt: on

# desk agents: id, surname, given, extension, role
AGENTS = [
    ("sasaki", "佐々木", "恵", "201", "オペレーター"),
    ("matsumoto", "松本", "亮", "202", "オペレーター"),
    ("inoue", "井上", "真由美", "203", "オペレーター"),
    ("kimura", "木村", "拓也", "204", "オペレーター"),
    ("hayashi", "林", "美穂", "205", "オペレーター"),
    ("shimizu", "清水", "聡", "206", "オペレーター"),
    ("yamaguchi", "山口", "直樹", "210", "スーパーバイザー"),
]
OPERATORS = [a for a in AGENTS if a[4] == "オペレーター"]
SUPERVISOR = AGENTS[-1]

# fmt: off
PRODUCTS_SW = [
    ("ラベルマイスター12 スタンダード / Windows 11", 16), ("ラベルマイスター12 スタンダード / Windows 10", 6),
    ("ラベルマイスター12 プロ / Windows 11", 14), ("ラベルマイスター12 プロ / Mac", 7),
    ("ラベルマイスター12 ビジネス（5ライセンス） / Windows 11", 5), ("ラベルマイスター11 プロ / Windows 10", 5),
    ("ラベルマイスター Touch / iPad", 4), ("ラベルプリンター LM-420 / Windows 11", 5),
    ("ラベルプリンター LM-620W / Mac", 3), ("ラベルプリンター LM-620W / Windows 11", 5),
]
PAPER = ["ラベル用紙 A4 12面（100枚）", "ラベル用紙 A4 24面（100枚）", "ロールラベル 40×60mm", "感熱ロール LM用 62mm",
         "透明ラベル A4 10面", "耐水ラベル A4 12面"]
# fmt: on

# fmt: off
TOPICS = [("技術", 40), ("購入検討", 12), ("配送", 8), ("領収書", 5), ("キャンセル", 4), ("支払い", 6),
          ("価格", 6), ("納期", 6), ("オーダーメイド", 8), ("その他", 5)]
# fmt: on
SALES_TOPICS = ["配送", "領収書", "キャンセル", "支払い", "価格", "納期"]
# fmt: off
SUBTOPICS = [("操作方法", 24), ("インストール", 14), ("ライセンス認証", 12), ("印刷ずれ", 14),
             ("プリンタ接続", 12), ("データ移行", 9), ("エラー表示", 10), ("動作環境", 5)]
# fmt: on
REMOTE_SUBTOPICS = ["インストール", "ライセンス認証", "データ移行", "プリンタ接続"]

# fmt: off
TECH = {
    "操作方法": [("バーコードの作り方", "商品ラベルにJANコードのバーコードを入れたいが、作り方がわからない。"),
               ("差し込み印刷", "Excelの住所録を読み込んで宛名ラベルを作りたい。差し込み印刷の手順を知りたい。"),
               ("連番印刷", "管理番号を0001から連番で印刷したい。"),
               ("テンプレートの保存", "自分で作ったレイアウトをテンプレートとして保存する方法を知りたい。")],
    "インストール": [("インストールできない", "新しいPCにインストールしようとすると「セットアップを続行できません」と表示されて止まる。"),
                 ("インストール先の変更", "Dドライブにインストールしたいが、選択肢が出てこない。")],
    "ライセンス認証": [("ライセンス認証エラー", "PCを買い替えたので認証し直そうとしたら「認証回数の上限に達しました」と出た。"),
                  ("シリアル番号が通らない", "シリアル番号を入力しても「無効な番号です」と表示される。")],
    "印刷ずれ": [("印刷位置がずれる", "A4 12面の用紙に印刷すると、下に2mmほどずれてしまう。"),
              ("端が切れる", "ラベルの右端の文字が切れて印刷される。")],
    "プリンタ接続": [("プリンタが見つからない", "LM-620W がWi-Fiでつながらない。ソフトからプリンタが見つからないと出る。"),
                ("USB接続で認識しない", "LM-420 をUSBで接続しても認識されない。")],
    "データ移行": [("データ移行", "古いPCで作ったラベルデータを新しいPCに移したい。"),
              ("旧バージョンのデータ", "バージョン9で作ったファイルが12で開けない。")],
    "エラー表示": [("起動時エラー", "起動すると「エラーコード E-1027」が表示されて終了してしまう。"),
              ("保存できない", "保存しようとすると「アクセスが拒否されました」と出る。")],
    "動作環境": [("対応OSの確認", "Windows 11 の最新版で使えるか知りたい。"),
             ("Macの対応状況", "macOS を更新したが、今のバージョンで問題ないか確認したい。")],
}
# fmt: on
DM_PHRASES = [
    "メルマガ（ラベル通信）で新しいテンプレートの案内を見てお電話しました。",
    "先日のメールマガジンで紹介されていた新機能について聞きたい。",
    "メルマガのキャンペーンのお知らせを見ました。",
    "メールで届いたDMを見て連絡しました。",
]
CATALOG_PHRASES = [
    "届いたカタログ（2026春号）を見て連絡しました。",
    "郵送で届いた冊子のカタログに載っていた用紙について。",
    "カタログの32ページに載っている商品について聞きたい。",
]

# ===================================================================== people
used_phone_digits: set[str] = set()
used_emails: set[str] = set()

FW = str.maketrans("0123456789-()", "０１２３４５６７８９－（）")


def digits(p: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", p) if c.isdigit())


def landline(area: str) -> str:
    while True:
        if len(area) == 2:
            p = f"{area}-{rng.randint(3000, 6999)}-{rng.randint(1000, 9999)}"
        elif len(area) == 3:
            p = f"{area}-{rng.randint(200, 899)}-{rng.randint(1000, 9999)}"
        else:
            p = f"{area}-{rng.randint(20, 79)}-{rng.randint(1000, 9999)}"
        if digits(p) not in used_phone_digits:
            used_phone_digits.add(digits(p))
            return p


def mobile() -> str:
    while True:
        p = f"{rng.choice(['090', '080', '070'])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        if digits(p) not in used_phone_digits:
            used_phone_digits.add(digits(p))
            return p


def variant(p: str, fullwidth_ok: bool = False) -> str:
    """The same number the way people type it."""
    r = rng.random()
    if r < 0.45:
        return p
    if r < 0.75:
        return p.replace("-", "")
    if r < 0.85 and p.count("-") == 2:
        a, b, c = p.split("-")
        return f"{a}({b}){c}"
    if fullwidth_ok:
        return (p if rng.random() < 0.5 else p.replace("-", "")).translate(FW)
    return p.replace("-", "")


def email_for(local_hint: str, domain: str) -> str:
    e = f"{local_hint}@{domain}"
    n = 2
    while e in used_emails:
        e = f"{local_hint}{n}@{domain}"
        n += 1
    used_emails.add(e)
    return e


used_companies: set[str] = set()


def company_name() -> tuple[str, str, str]:
    while True:
        (pk, pr), (sk, sr) = rng.choice(CO_PREFIX), rng.choice(CO_SUFFIX)
        core = f"{pk}{sk}"
        if core in used_companies:
            continue
        used_companies.add(core)
        form = wchoice([("pre", 60), ("post", 20), ("yugen", 15), ("godo", 5)])
        name = {
            "pre": f"株式会社{core}",
            "post": f"{core}株式会社",
            "yugen": f"有限会社{core}",
            "godo": f"合同会社{core}",
        }[form]
        return name, core, f"{pr}-{sr}.example"


def order_no(d: date) -> str:
    d = min(d, ANCHOR)
    return f"LW-{d.strftime('%y%m')}-{rng.randint(1, 99999):05d}"


def make_customers(n: int = 296) -> list[dict]:
    rows = []
    cid = 1018000
    for _ in range(n):
        cid += rng.randint(3, 60)
        corporate = rng.random() < 0.64
        pref, area, _w = rng.choices(PREFS, weights=[p[2] for p in PREFS], k=1)[0]
        (sk, skana, sr), (gk, gkana, gr) = rng.choice(SURNAMES), rng.choice(GIVEN)
        phones, other_bits = [], []
        if corporate:
            company, core, cdom = company_name()
            dept = rng.choice(DEPTS)
            main = landline(area)
            phones.append(variant(main))
            if rng.random() < 0.3:
                phones.append(variant(mobile()))
            mail = email_for(
                rng.choice([sr, f"{gr[0]}.{sr}", f"{sr}.{gr}", "info", "soumu", f"{sr}-{gr[0]}"]),
                cdom,
            )
            emails = [mail]
            if rng.random() < 0.5:
                k = rng.random()
                if k < 0.35:
                    other_bits.append(f"担当携帯：{variant(mobile(), True)}")
                elif k < 0.6:
                    other_bits.append(f"直通 {variant(landline(area), True)}")
                elif k < 0.8:
                    other_bits.append(f"FAX {variant(landline(area), True)}")
                else:
                    other_bits.append(
                        f"経理ご担当 {rng.choice(SURNAMES)[0]}様 {variant(landline(area), True)}"
                    )
        else:
            company, dept, cdom = None, "", None
            if rng.random() < 0.75:
                phones.append(variant(mobile()))
            else:
                phones.append(variant(landline(area)))
            emails = [
                email_for(
                    rng.choice(
                        [
                            f"{gr}.{sr}",
                            f"{sr}{gr[0]}{rng.randint(1, 99)}",
                            f"{gr}{rng.randint(60, 99)}",
                        ]
                    ),
                    rng.choice(["example.jp", "example.ne.jp", "example.com"]),
                )
            ]
            if rng.random() < 0.35:
                other_bits.append(
                    rng.choice(
                        [
                            f"自宅 {variant(landline(area), True)}",
                            f"携帯 {variant(mobile(), True)}",
                            f"日中連絡先：{variant(mobile(), True)}",
                        ]
                    )
                )
        if rng.random() < 0.2:
            other_bits.append(
                rng.choice(
                    [
                        "請求書は郵送希望",
                        "領収書の宛名は会社名で",
                        "年末年始は12/27〜1/5休業",
                        "平日10時〜16時のみ電話可",
                        "メール連絡希望",
                    ]
                )
            )
        created = datetime(2016, 4, 1, 9, 0, tzinfo=TZ) + timedelta(
            minutes=rng.randint(0, 60 * 24 * 3500)
        )
        created = min(created, at(START - timedelta(days=3), 15, 0)).replace(second=0)
        if created.hour < 9 or created.hour > 18:
            created = created.replace(hour=rng.randint(9, 17))
        updated = min(
            created + timedelta(days=rng.randint(0, 1200)), at(START - timedelta(days=1), 17, 30)
        )
        orders = sorted(
            {
                order_no(
                    min(
                        created.date() + timedelta(days=rng.randint(0, 1500)),
                        START - timedelta(days=1),
                    )
                )
                for _ in range(rng.randint(0, 4))
            }
        )
        rows.append(
            {
                "id": str(cid),
                "name": f"{sk} {gk}",
                "name_kana": f"{skana} {gkana}",
                "company": company,
                "region": pref,
                "store": None,
                "language": "ja",
                "notes": "",
                "other": " / ".join(other_bits),
                "created_at": iso(created),
                "updated_at": iso(max(updated, created)),
                "phones": phones,
                "emails": emails,
                "extra": {
                    "customer_type": "法人" if corporate else "個人",
                    "department": dept or None,
                    "registered_via": wchoice(
                        [("電話", 30), ("Web注文", 45), ("展示会", 10), ("代理店", 15)]
                    ),
                    "newsletter": rng.random() < 0.55,
                    "catalog": rng.random() < 0.4,
                    "orders": [o for o in orders],
                    "licenses": [wchoice(PRODUCTS_SW)] if rng.random() < 0.8 else [],
                    "url": f"https://crm.{DOMAIN}/customers/{cid}",
                    "_rom": [sr, gr],
                },
            }
        )
    # duplicate registrations (same person registered twice; never delete, report)
    dups = []
    for c in rng.sample(rows, 14):
        cid += rng.randint(3, 60)
        d = json.loads(json.dumps(c, ensure_ascii=False))
        d["id"] = str(cid)
        if d["company"]:
            core = (
                d["company"].replace("株式会社", "").replace("有限会社", "").replace("合同会社", "")
            )
            d["company"] = (
                rng.choice([f"（株）{core}", f"{core}", f"㈱{core}", f"株式会社 {core}"])
                if c["company"].startswith("株式会社")
                else core
            )
        d["name"] = d["name"].replace(" ", rng.choice(["", "\u3000"]))
        d["phones"] = [variant(p.replace("(", "-").replace(")", "-")) for p in d["phones"][:1]]
        if rng.random() < 0.5:
            sr, gr = c["extra"]["_rom"]
            d["emails"] = [
                email_for(
                    f"{gr}.{sr}{rng.randint(1, 99)}", rng.choice(["example.jp", "example.com"])
                )
            ]
        d["other"] = ""
        created = at(
            ANCHOR - timedelta(days=rng.randint(10, 700)), rng.randint(9, 20), rng.randint(0, 59)
        )
        d["created_at"] = iso(created)
        d["updated_at"] = iso(created)
        d["extra"]["registered_via"] = "Web注文"
        d["extra"]["orders"] = [order_no(created.date())]
        d["extra"]["url"] = f"https://crm.{DOMAIN}/customers/{cid}"
        d["notes"] = "Web注文時に自動登録"
        dups.append(d)
    rows += dups
    return rows


# ===================================================================== build
def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "mail" / MAILBOX / "Sent").mkdir(parents=True)
    (OUT / "calls").mkdir(parents=True)

    customers = make_customers()
    by_digits: dict[str, dict] = {}
    for c in customers:
        for p in c["phones"]:
            by_digits.setdefault(digits(p), c)
    other_numbers = []  # (digits, customer) found only in the "other" field
    import re

    for c in customers:
        for m in re.finditer(r"[0-9０-９][0-9０-９\-－()（）]{8,}[0-9０-９]", c["other"]):
            dg = digits(m.group())
            if 10 <= len(dg) <= 11:
                other_numbers.append((dg, c))

    # ---- CDR -------------------------------------------------------------------
    cdr: list[dict] = []
    seq = [4100]
    agent_free: dict[str, datetime] = {a[0]: at(START, 0, 0) for a in AGENTS}
    calls_from: dict[str, list[datetime]] = {}

    def chan(ext_or_trunk: str) -> str:
        return (
            f"PJSIP/{ext_or_trunk}"  # the channel sequence number is added in time order on output
        )

    def add_cdr(
        src,
        dst,
        dcontext,
        clid,
        channel,
        dstchannel,
        lastapp,
        lastdata,
        start,
        answer,
        end,
        disposition,
    ):
        duration = int((end - start).total_seconds())
        billsec = int((end - answer).total_seconds()) if answer else 0
        cdr.append(
            {
                "src": src,
                "dst": dst,
                "dcontext": dcontext,
                "clid": clid,
                "channel": channel,
                "dstchannel": dstchannel,
                "lastapp": lastapp,
                "lastdata": lastdata,
                "start": start,
                "answer": answer,
                "end": end,
                "duration": duration,
                "billsec": billsec,
                "disposition": disposition,
            }
        )
        if dcontext == "from-pstn":
            calls_from.setdefault(src, []).append(start)

    def inbound(src, start, ext=None, wait=20, talk=0, kind="queue"):
        did = FREE_DIAL if rng.random() < 0.7 else DESK_DID
        clid = f'"{src}" <{src}>' if src != "anonymous" else '"anonymous" <anonymous>'
        pstn = (src, did, "from-pstn", clid, chan("ntt-hikari"))
        ivr = {
            "voicemail": ("VoiceMail", "600@support,u"),
            "afterhours": ("Playback", "custom/jikangai"),
        }
        if kind == "queue" and ext:
            ans = start + timedelta(seconds=wait)
            end = ans + timedelta(seconds=talk)
            add_cdr(*pstn, chan(ext), "Queue", "support,rtT,,,300", start, ans, end, "ANSWERED")
            return ans, end
        if kind == "abandon":
            end = start + timedelta(seconds=wait)
            add_cdr(*pstn, "", "Queue", "support,rtT,,,300", start, None, end, "NO ANSWER")
            return None, None
        if kind in ivr:
            ans = start + timedelta(seconds=1)
            end = ans + timedelta(seconds=wait)
            add_cdr(*pstn, "", *ivr[kind], start, ans, end, "ANSWERED")
            return ans, end
        raise ValueError(kind)

    def outbound(agent, dst, start, talk, disposition="ANSWERED", ring=12):
        a = next(x for x in AGENTS if x[0] == agent)
        clid = f'"{a[1]}" <{a[3]}>'
        if disposition == "ANSWERED":
            ans = start + timedelta(seconds=ring)
            end = ans + timedelta(seconds=talk)
        else:
            ans = None
            end = start + timedelta(
                seconds=ring if disposition != "NO ANSWER" else rng.randint(25, 45)
            )
        add_cdr(
            a[3],
            dst,
            "from-internal",
            clid,
            chan(a[3]),
            chan("ntt-hikari"),
            "Dial",
            f"PJSIP/{dst}@ntt-hikari,60,T",
            start,
            ans,
            end,
            disposition,
        )
        return ans, end

    def internal(agent, ext_to, start, talk):
        a = next(x for x in AGENTS if x[0] == agent)
        ans = start + timedelta(seconds=rng.randint(3, 9))
        end = ans + timedelta(seconds=talk)
        add_cdr(
            a[3],
            ext_to,
            "from-internal",
            f'"{a[1]}" <{a[3]}>',
            chan(a[3]),
            chan(ext_to),
            "Dial",
            f"PJSIP/{ext_to},30,tT",
            start,
            ans,
            end,
            "ANSWERED",
        )
        return ans, end

    # ---- cases ------------------------------------------------------------------
    cases: list[dict] = []
    mails_for_cases: list[dict] = []

    def pick_caller(p_other: float = 0.10):
        r = rng.random()
        if r < 0.70:
            c = rng.choice(customers)
            return digits(rng.choice(c["phones"])), c
        if r < 0.70 + p_other and other_numbers:
            dg, c = rng.choice(other_numbers)
            return dg, c
        if r < 0.76 + p_other and calls_from:
            src = rng.choice(sorted(calls_from))
            if src != "anonymous":
                return src, by_digits.get(src) or next(
                    (c for dg, c in other_numbers if dg == src), None
                )
        num = digits(mobile() if rng.random() < 0.6 else landline(rng.choice(PREFS)[1]))
        return num, None

    def topic_content(topic: str, c: dict | None, channel: str, t: datetime):
        extra: dict = {}
        tags: list[str] = []
        product = None
        lines = []
        if topic == "技術":
            sub = wchoice(SUBTOPICS)
            subj, text = rng.choice(TECH[sub])
            extra["subtopic"] = sub
            product = wchoice(PRODUCTS_SW)
            if sub == "プリンタ接続" and "LM-" not in product:
                product = rng.choice(
                    [
                        "ラベルプリンター LM-620W / Windows 11",
                        "ラベルプリンター LM-420 / Windows 11",
                        "ラベルプリンター LM-620W / Mac",
                    ]
                )
            lines.append(text)
            if channel in ("フォーム", "メール") and rng.random() < 0.3:
                # the customer picked the wrong edition/device in the form
                if "Windows" in product:
                    lines.append(
                        "（※Macで使っています）"
                        if rng.random() < 0.5
                        else "使っているのはプロ版だと思います。"
                    )
                else:
                    lines.append("パソコンはWindows 11です。")
                extra["product_mismatch_hint"] = True
        elif topic == "購入検討":
            item = rng.choice(
                [
                    "ラベルマイスター12 ビジネス（5ライセンス）",
                    "ラベルマイスター12 プロ",
                    "ラベルプリンター LM-620W",
                    "ラベルマイスター12 ビジネス（10ライセンス）",
                    "ラベル用紙の定期購入",
                ]
            )
            subj = f"{item}の購入検討"
            lines.append(
                rng.choice(
                    [
                        f"{item}の導入を検討している。見積書がほしい。",
                        f"{item}について、今使っている11からの乗り換え価格を知りたい。",
                        f"{item}を購入予定。請求書払いが可能か確認したい。",
                    ]
                )
            )
            product = item
            extra["requester"] = {
                "name": c["name"] if c else None,
                "company": (c or {}).get("company"),
                "phone": c["phones"][0] if c else None,
                "email": (c["emails"][0] if c and rng.random() < 0.8 else None),
            }
        elif topic in SALES_TOPICS:
            ono = (
                rng.choice(c["extra"]["orders"])
                if c and c["extra"]["orders"] and rng.random() < 0.5
                else order_no(t.date() - timedelta(days=rng.randint(1, 20)))
            )
            item = rng.choice(
                PAPER + ["ラベルマイスター12 プロ（パッケージ版）", "ラベルプリンター LM-420"]
            )
            subj, text = {
                "配送": (
                    f"{item}が届かない",
                    f"{t.month}月{max(1, t.day - 4)}日に注文した{item}がまだ届かない。配送状況を知りたい。",
                ),
                "領収書": ("領収書の発行依頼", "注文分の領収書を会社名宛てで発行してほしい。"),
                "キャンセル": (
                    "注文キャンセル希望",
                    f"{item}を間違えて2個注文したので1個キャンセルしたい。",
                ),
                "支払い": (
                    rng.choice(["振込先の確認", "コンビニ払いの期限切れ"]),
                    rng.choice(
                        [
                            "銀行振込の振込先を教えてほしい。",
                            "コンビニ払いの期限が切れてしまった。再発行してほしい。",
                        ]
                    ),
                ),
                "価格": ("価格の確認", f"{item}をまとめて購入した場合の価格を知りたい。"),
                "納期": ("納期の確認", f"{item}を50個注文したい。いつ届くか知りたい。"),
            }[topic]
            lines.append(text)
            product = item
            extra["order_no"] = ono if rng.random() < 0.85 else None
            extra["order_email"] = c["emails"][0] if c and rng.random() < 0.8 else None
            if extra["order_no"]:
                lines.append(f"注文番号：{ono}")
        elif topic == "オーダーメイド":
            subj = rng.choice(
                [
                    "オーダーメイドラベルの見積もり",
                    "特注ロールラベルの相談",
                    "オーダーメイドテンプレートの制作依頼",
                ]
            )
            w, h = rng.choice([(40, 60), (50, 30), (62, 100), (80, 50)])
            lines.append(
                f"オーダーメイドラベル（{w}×{h}mm、{rng.choice([1000, 3000, 5000, 10000])}枚、{rng.choice(['フルカラー', '2色', '金箔押し'])}）の見積もりがほしい。"
            )
            if rng.random() < 0.4:
                lines.append("前回お世話になった大野さんにお願いしたい。")
                extra["requested_person"] = "大野"
            product = "オーダーメイドラベル"
        else:
            subj, text = rng.choice(
                [
                    ("登録住所の変更", "会社の移転に伴い、登録住所を変更したい。"),
                    ("担当者変更", "担当者が変わったので登録情報を変えてほしい。"),
                    ("メルマガ配信停止", "メルマガの配信を停止してほしい。"),
                ]
            )
            lines.append(text)
        # where the customer heard of it
        src = None
        if topic in ("購入検討", "価格", "技術", "オーダーメイド") and rng.random() < 0.16:
            src = "dm" if rng.random() < 0.55 else "catalog"
        elif topic in ("納期", "配送") and rng.random() < 0.1:
            src = "catalog"
        if src == "dm" and t >= at(date(2026, 1, 8), 10, 0):
            lines.insert(0, rng.choice(DM_PHRASES))
        elif src:
            lines.insert(0, rng.choice(CATALOG_PHRASES))
            src = "catalog"
        if src and rng.random() < 0.4:
            tags.append("【カタログDM】" if src == "catalog" else "【DMをみた】")
        return subj, "\n".join(lines), product, extra, tags

    def new_case(
        *,
        opened,
        channel,
        topic,
        c,
        caller,
        agent,
        started,
        closed,
        status,
        subj,
        body,
        product,
        extra,
        tags,
    ):
        cases.append(
            {
                "id": None,
                "customer_id": c["id"] if c else None,
                "agent": agent,
                "channel": channel,
                "topic": topic,
                "subject": subj,
                "body": body,
                "caller_number": caller,
                "status": status,
                "product": product,
                "opened_at": opened,
                "started_at": started,
                "closed_at": closed,
                "tags": tags,
                "extra": extra,
            }
        )
        return cases[-1]

    def agent_name(aid: str) -> str:
        return next(a[1] for a in AGENTS if a[0] == aid)

    def free_agent(t: datetime):
        ok = [a[0] for a in OPERATORS if agent_free[a[0]] <= t]
        return rng.choice(ok) if ok else None

    def talk_seconds(topic: str, long_case: bool) -> int:
        if long_case:
            return rng.randint(21 * 60, 42 * 60)
        base = {"技術": (240, 900), "購入検討": (180, 600), "オーダーメイド": (240, 720)}.get(
            topic, (90, 420)
        )
        return rng.randint(*base)

    callbacks: list[dict] = []  # callback requests to work on
    anchor_close = at(ANCHOR, 16, 40)

    for d in DAYS:
        if business_day(d):
            n_in = 34 if d == date(2026, 1, 13) else rng.randint(24, 30)
            times = sorted(
                at(
                    d,
                    wchoice(
                        [
                            (9, 3),
                            (10, 5),
                            (11, 4),
                            (12, 2),
                            (13, 4),
                            (14, 4),
                            (15, 3),
                            (16, 3),
                            (17, 2),
                        ]
                    ),
                    rng.randint(0, 59),
                    rng.randint(0, 59),
                )
                for _ in range(n_in)
            )
            for t in times:
                num, c = pick_caller()
                ag = free_agent(t)
                if ag is None or rng.random() < 0.1:
                    inbound(num, t, wait=rng.randint(25, 240), kind="abandon")
                    if rng.random() < 0.45:
                        callbacks.append(
                            {
                                "num": num,
                                "c": c,
                                "t": t + timedelta(minutes=rng.randint(0, 3)),
                                "via": "IVR",
                            }
                        )
                    continue
                topic = wchoice(TOPICS)
                long_case = rng.random() < 0.1
                talk = talk_seconds(topic, long_case)
                ans, end = inbound(
                    num,
                    t,
                    ext=next(a[3] for a in AGENTS if a[0] == ag),
                    wait=rng.randint(4, 75),
                    talk=talk,
                )
                acw = timedelta(seconds=rng.randint(60, 540))
                agent_free[ag] = end + acw
                if rng.random() < 0.08:
                    continue  # wrong number / instantly transferred: no case record
                subj, body, product, extra, tags = topic_content(topic, c, "電話", t)
                closed = end + acw
                status = "完了"
                esc = topic == "技術" and rng.random() < 0.07
                if esc:
                    ia, ie = internal(
                        ag, SUPERVISOR[3], ans + timedelta(seconds=talk // 2), rng.randint(60, 240)
                    )
                    extra["escalation"] = {
                        "supervisor": SUPERVISOR[1],
                        "at": iso(ia),
                        "question": rng.choice(
                            [
                                "同じエラーの既知事例はあるか",
                                "返金対応してよいか",
                                "技術担当からの折り返しでよいか",
                            ]
                        ),
                        "promised_callback": iso(end + timedelta(hours=rng.randint(2, 26))),
                        "specialist": "技術担当 大野",
                    }
                    status = "エスカレーション中" if rng.random() < 0.6 else "完了"
                    if status != "完了":
                        closed = None
                if (
                    topic == "技術"
                    and extra.get("subtopic") in REMOTE_SUBTOPICS
                    and rng.random() < 0.45
                ):
                    extra["remote_session"] = True
                    body += "\n\n【対応】リモートツールのURLをメールで送付し、リモートセッションにて対応。"
                if c is None:
                    extra["email_asked"] = rng.random() < 0.8
                if closed and closed > anchor_close and d == ANCHOR:
                    closed, status = None, "対応中"
                case = new_case(
                    opened=ans,
                    channel="電話",
                    topic=topic,
                    c=c if rng.random() < 0.93 else None,
                    caller=num,
                    agent=agent_name(ag),
                    started=ans,
                    closed=closed,
                    status=status,
                    subj=subj,
                    body=body,
                    product=product,
                    extra=extra,
                    tags=tags,
                )
                case["extra"]["call_uniqueid_seq"] = len(cdr) - 1
            # internal calls (questions to the supervisor, transfers)
            for _ in range(rng.randint(2, 4)):
                ag = rng.choice(OPERATORS)[0]
                internal(
                    ag,
                    rng.choice([SUPERVISOR[3], "220", "230"]),
                    at(d, rng.randint(9, 17), rng.randint(0, 59), rng.randint(0, 59)),
                    rng.randint(30, 300),
                )
        # evening / non-business calls go to the after-hours guidance or voicemail
        n_after = rng.randint(3, 6) if business_day(d) else rng.randint(3, 7)
        for _ in range(n_after):
            if business_day(d):
                t = at(d, rng.choice([8, 18, 19, 20]), rng.randint(0, 59), rng.randint(0, 59))
                if t.hour == 8 and rng.random() < 0.5:
                    t = t.replace(minute=rng.randint(30, 58))
            else:
                t = at(d, rng.randint(8, 20), rng.randint(0, 59), rng.randint(0, 59))
            num, c = pick_caller(0.2)
            if rng.random() < 0.04:
                num, c = "anonymous", None
            if rng.random() < 0.6 and num != "anonymous":
                inbound(num, t, wait=rng.randint(20, 70), kind="voicemail")
                callbacks.append({"num": num, "c": c, "t": t, "via": "留守電"})
            else:
                inbound(num, t, wait=rng.randint(8, 25), kind="afterhours")

    # callback requests: kintone record created (IVR: at once; voicemail: when the box is checked)
    callbacks.sort(key=lambda x: x["t"])
    for cb in callbacks:
        t = cb["t"]
        if cb["via"] == "留守電":
            d = t.date() + timedelta(days=0 if (t.hour < 9 and business_day(t.date())) else 1)
            while not business_day(d):
                d += timedelta(days=1)
            if d > ANCHOR:
                continue
            opened = at(d, 9, rng.randint(2, 25), rng.randint(0, 59))
        else:
            opened = t + timedelta(seconds=rng.randint(30, 90))
        earlier = [x for x in calls_from.get(cb["num"], []) if x < t]
        c = cb["c"]
        linked = bool(earlier) and c is not None and cb["num"] in {digits(p) for p in c["phones"]}
        msg = (
            f"【折り返し依頼】{'留守番電話' if cb['via'] == '留守電' else 'IVR（待ち呼）'}\n"
            f"着信番号：{cb['num']}\n着信日時：{t.strftime('%Y/%m/%d %H:%M')}\n"
        )
        if cb["via"] == "留守電":
            msg += "メッセージ：" + rng.choice(
                [
                    "ラベルの印刷のことで相談したいので、折り返しお願いします。",
                    "ソフトの認証のことで電話しました。また掛け直します。",
                    "先日注文した用紙の件でお電話しました。折り返しください。",
                    "カタログを見てお電話しました。見積もりをお願いしたいです。",
                    "メルマガを見て連絡しました。新しいプリンタについて聞きたいです。",
                    "（無言）",
                ]
            )
        extra = {"callback_via": cb["via"], "auto_linked": linked}
        ag = rng.choice(OPERATORS)[0]
        case = new_case(
            opened=opened,
            channel="電話",
            topic="その他",
            c=c if linked else None,
            caller=cb["num"],
            agent=None,
            started=None,
            closed=None,
            status="折り返し待ち",
            subj=f"折り返し依頼（{cb['via']}）",
            body=msg,
            product=None,
            extra=extra,
            tags=[],
        )
        # the callback itself
        tcb = opened + timedelta(minutes=rng.randint(8, 150))
        if tcb.hour >= 18 or tcb > at(ANCHOR, 15, 30):
            if opened.date() == ANCHOR:
                continue  # still waiting today
            tcb = at(opened.date(), 17, rng.randint(0, 40))
        case["agent"] = agent_name(ag)
        case["started_at"] = tcb - timedelta(minutes=rng.randint(2, 6))
        attempts = []
        for _k in range(rng.choice([1, 1, 1, 2])):
            outcome = (
                "ANSWERED"
                if rng.random() < 0.72
                else rng.choice(["NO ANSWER", "NO ANSWER", "BUSY"])
            )
            topic = wchoice(TOPICS)
            talk = talk_seconds(topic, rng.random() < 0.08)
            ans, end = outbound(ag, cb["num"], tcb, talk, outcome)
            attempts.append({"at": iso(tcb), "result": outcome})
            if outcome == "ANSWERED":
                subj, body, product, extra2, tags = topic_content(
                    topic, case["customer_id"] and c, "電話", tcb
                )
                case.update(topic=topic, product=product, tags=tags)
                case["subject"] = f"【折り返し】{subj}"
                case["body"] = msg + "\n---\n" + body
                case["extra"].update(extra2)
                case["closed_at"] = end + timedelta(seconds=rng.randint(60, 480))
                case["status"] = "完了"
                break
            tcb = tcb + timedelta(minutes=rng.randint(40, 120))
            if tcb.hour >= 18 or tcb > at(ANCHOR, 16, 0):
                break
        case["extra"]["callback_attempts"] = attempts
        if case["status"] != "完了" and case["customer_id"] is None:
            case["status"] = "折り返し待ち"

    # ---- form / mail cases --------------------------------------------------------
    for d in DAYS:
        n = rng.randint(6, 9) if business_day(d) else rng.randint(2, 4)
        for _ in range(n):
            t = at(
                d,
                wchoice([(h, 3 if 9 <= h <= 18 else 1) for h in range(7, 24)]),
                rng.randint(0, 59),
                rng.randint(0, 59),
            )
            channel = "フォーム" if rng.random() < 0.55 else "メール"
            c = rng.choice(customers) if rng.random() < 0.85 else None
            topic = wchoice(TOPICS)
            if c is None and rng.random() < 0.5:
                topic = "購入検討"
            subj, body, product, extra, tags = topic_content(topic, c, channel, t)
            if channel == "フォーム":
                extra["form_product"] = product
            # started in business hours
            s = t + timedelta(minutes=rng.randint(10, 240))
            while not business_day(s.date()) or s.hour >= 18 or s.hour < 9:
                s = at(
                    s.date() + timedelta(days=1 if s.hour >= 9 else 0),
                    9,
                    rng.randint(5, 50),
                    rng.randint(0, 59),
                )
            long_case = rng.random() < 0.08
            work = timedelta(seconds=talk_seconds(topic, long_case) + rng.randint(60, 600))
            closed = s + work
            status = "完了"
            if s > END_DT:
                s, closed, status = None, None, "未対応"
            elif closed > at(ANCHOR, 17, 0) or (rng.random() < 0.07):
                closed, status = None, rng.choice(["対応中", "回答待ち"])
            ag = rng.choice(OPERATORS)[0]
            if s and rng.random() < 0.25 and (c is not None):
                # phoned the customer back about the mail
                ph = digits(c["phones"][0])
                ans, end = outbound(
                    ag,
                    ph,
                    s + timedelta(minutes=rng.randint(3, 10)),
                    rng.randint(120, 600),
                    "ANSWERED" if rng.random() < 0.75 else "NO ANSWER",
                )
                if closed and end + timedelta(minutes=2) > closed:
                    closed = end + timedelta(minutes=rng.randint(2, 6))
            if (
                topic == "技術"
                and extra.get("subtopic") in REMOTE_SUBTOPICS
                and s
                and rng.random() < 0.4
            ):
                extra["remote_session"] = True
            if c is None:
                (sk, _skana, sr), (gk, _gkana, gr) = rng.choice(SURNAMES), rng.choice(GIVEN)
                extra["sender"] = {
                    "name": f"{sk} {gk}",
                    "email": email_for(f"{gr}.{sr}", "example.jp"),
                    "phone": mobile() if rng.random() < 0.7 else None,
                }
                if topic == "購入検討":
                    extra["requester"] = {
                        "name": f"{sk} {gk}",
                        "company": rng.choice([None, company_name()[0]]),
                        "phone": extra["sender"]["phone"],
                        "email": extra["sender"]["email"],
                    }
            case = new_case(
                opened=t,
                channel=channel,
                topic=topic,
                c=c,
                caller=None,
                agent=agent_name(ag) if s else None,
                started=s,
                closed=closed,
                status=status,
                subj=subj,
                body=body,
                product=product,
                extra=extra,
                tags=tags,
            )
            mails_for_cases.append(case)

    # ---- ids, sort -----------------------------------------------------------------
    cases.sort(key=lambda x: (x["opened_at"], x["subject"]))
    rec = 18311
    for cs_ in cases:
        rec += 1
        cs_["id"] = str(rec)
        cs_["extra"]["record_url"] = f"{KINTONE}{rec}"
        cs_["extra"].pop("call_uniqueid_seq", None)
        if cs_["started_at"] and cs_["closed_at"]:
            cs_["extra"]["handling_minutes"] = round(
                (cs_["closed_at"] - cs_["started_at"]).total_seconds() / 60, 1
            )

    # ---- mails ---------------------------------------------------------------------
    inbox: list[tuple[datetime, Message]] = []
    sent: list[tuple[datetime, Message]] = []
    mail_cases = [c for c in mails_for_cases if c["id"]]
    cust_by_id = {c["id"]: c for c in customers}
    sig = (
        "\n--\n株式会社ラベルワークス サポートセンター\n{agent}\nフリーダイヤル 0120-58-7410（平日 9:00〜18:00）\n"
        f"{INBOX_ADDR}\n"
    )
    chosen = rng.sample([c for c in mail_cases if c["channel"] == "メール"], 12)
    forms = rng.sample([c for c in mail_cases if c["channel"] == "フォーム"], 7)
    any_attachment = False
    remote = [
        c for c in mail_cases if c["extra"].get("remote_session") and c not in chosen + forms
    ][:2]
    for case in sorted(chosen + forms + remote, key=lambda x: x["opened_at"]):
        t = case["opened_at"]
        cust = cust_by_id.get(case["customer_id"]) if case["customer_id"] else None
        if cust:
            name, frm_addr = cust["name"], cust["emails"][0]
            company = cust["company"]
        else:
            name, frm_addr = case["extra"]["sender"]["name"], case["extra"]["sender"]["email"]
            company = None
        if case["channel"] == "フォーム":
            body = (
                "Webサイトのお問い合わせフォームより、以下の内容で受け付けました。\n\n"
                f"■会社名：{company or ''}\n■お名前：{name}\n■メールアドレス：{frm_addr}\n"
                f"■電話番号：{cust['phones'][0] if cust else (case['extra']['sender'].get('phone') or '')}\n"
                f"■お問い合わせ種別：{case['topic']}\n"
                f"■ご利用製品：{(case['product'] or '').split(' / ')[0]}\n"
                f"■ご利用環境：{(case['product'] or ' / ').split(' / ')[-1] if case['product'] and ' / ' in case['product'] else ''}\n"
                f"■お問い合わせ内容：\n{case['body']}\n\n"
                f"受付番号：{case['id']}\n"
            )
            mid = f"<{t.strftime('%Y%m%d%H%M%S')}.{case['id']}@form.{DOMAIN}>"
            m = mailer.build_mail(
                t=t,
                frm=addr("ラベルワークス Webフォーム", f"form@{DOMAIN}", "iso-2022-jp"),
                to=INBOX_ADDR,
                subject=f"【お問い合わせ】{case['topic']}（受付番号 {case['id']}）",
                cs="iso-2022-jp",
                text=body,
                msgid=mid,
                reply_to=frm_addr,
                style="mime",
                inbound=(f"web01.{DOMAIN}", "192.0.2.41"),
                return_path=f"form@{DOMAIN}",
            )
        else:
            cs = "iso-2022-jp" if rng.random() < 0.5 else "utf-8"
            greet = (
                f"株式会社ラベルワークス\nサポートご担当者様\n\n{'お世話になっております。' if cust else 'はじめてご連絡いたします。'}\n"
                f"{company + 'の' if company else ''}{name.split(' ')[0].split(chr(0x3000))[0]}です。\n\n"
            )
            body = (
                greet
                + case["body"]
                + "\n\nよろしくお願いいたします。\n\n"
                + (f"{company}\n" if company else "")
                + f"{name}\n"
                + (f"TEL {cust['phones'][0]}\n" if cust and rng.random() < 0.6 else "")
            )
            dom = frm_addr.split("@")[1]
            mid = mailer.new_msgid(t, "plain", dom)
            html = (
                html_doc(text_to_html(body), cs) if cs == "utf-8" and rng.random() < 0.5 else None
            )
            atts = []
            if case["topic"] == "技術" and (rng.random() < 0.35 or not any_attachment):
                any_attachment = True
                atts = [
                    attach(png_bytes(16, 10, (230, 60, 60)), "image", "png", "error_screen.png")
                ]
            m = mailer.build_mail(
                t=t,
                frm=addr(name, frm_addr, cs),
                to=INBOX_ADDR,
                subject=case["subject"],
                cs=cs,
                text=body,
                html=html,
                attachments=atts,
                msgid=mid,
                style=rng.choice(["outlook", "mime"]),
                inbound=(f"mail.{dom}", f"203.0.113.{rng.randint(2, 250)}"),
                return_path=frm_addr,
                x_mailer=rng.choice(["Microsoft Outlook 16.0", "Becky! ver. 2.81.07", None]),
            )
        inbox.append((t, m))
        case["extra"]["message_id"] = mid
        # reply from the desk
        if case["started_at"] and (rng.random() < 0.55 or case in remote):
            rt = case["started_at"] + timedelta(minutes=rng.randint(5, 25))
            if rt > END_DT:
                continue
            agent = case["agent"]
            if case.get("extra", {}).get("remote_session"):
                text = (
                    f"{name} 様\n\nいつもお世話になっております。\nラベルワークス サポートセンターの{agent}です。\n\n"
                    "リモートサポートにて画面を拝見しながらご案内いたします。\n"
                    "下記URLからリモートツールを起動し、表示される6桁の番号をお電話でお知らせください。\n\n"
                    f"https://remote.{DOMAIN}/join?code={rng.randint(100000, 999999)}\n\n"
                    "※ツールはサポート終了後に自動で終了します。\n" + sig.format(agent=agent)
                )
                subj = "【ラベルワークス】リモートサポートのご案内"
            else:
                topic = case["topic"]
                if topic == "技術":
                    core = (
                        "ご案内の前に、お使いの製品のバージョン（エディション）と、パソコンのOS・機種をお知らせいただけますでしょうか。\n"
                        f"フォームでは「{case['product']}」をご選択いただいておりますが、念のためご確認をお願いいたします。\n"
                        "（メニューの「ヘルプ」→「バージョン情報」で確認できます）\n"
                    )
                elif topic in SALES_TOPICS:
                    core = (
                        "ご注文に関するお問い合わせのため、担当部署（営業）に確認のうえ、改めてご連絡いたします。\n"
                        + (
                            ""
                            if case["extra"].get("order_no")
                            else "お手数ですが、ご注文番号とご注文時のメールアドレスをお知らせください。\n"
                        )
                    )
                elif topic == "購入検討":
                    core = "担当の営業より、お見積りを添えて改めてご連絡いたします。\n"
                elif topic == "オーダーメイド":
                    core = "オーダーメイドラベルの担当者より、仕様を確認のうえお見積りをご連絡いたします。\n"
                else:
                    core = "ご依頼の件、手続きいたしました。反映まで数日かかる場合がございます。\n"
                text = (
                    f"{name} 様\n\nいつもお世話になっております。\nラベルワークス サポートセンターの{agent}です。\n\n"
                    "お問い合わせいただき、ありがとうございます。\n"
                    + core
                    + sig.format(agent=agent)
                )
                subj = "Re: " + (
                    case["subject"]
                    if case["channel"] == "メール"
                    else f"お問い合わせの件（受付番号 {case['id']}）"
                )
            rmid = mailer.new_msgid(rt, "plain", DOMAIN)
            rm = mailer.build_mail(
                t=rt,
                frm=addr(INBOX_NAME, INBOX_ADDR),
                to=addr(name, frm_addr),
                subject=subj,
                cs="utf-8",
                cte="qp",
                text=text,
                msgid=rmid,
                in_reply_to=mid,
                references=[mid],
                style="mime",
                x_mailer="Microsoft Outlook 16.0",
            )
            sent.append((rt, rm))
            case["extra"]["reply_message_id"] = rmid

    # newsletter (weekly, Thursday) and the catalogue announcement, delivered to the desk as well
    for t, subj, body_html in [
        (
            at(date(2026, 1, 8), 10, 0, 4),
            "【ラベル通信 vol.312】新春テンプレート50種を追加しました",
            "<h2>ラベル通信 vol.312</h2><p>いつもラベルワークスをご利用いただきありがとうございます。</p>"
            "<p>■新春テンプレート50種を追加<br>■LM-620W ファームウェア更新のお知らせ<br>"
            "■1月31日まで：ビジネス版 乗り換えキャンペーン 20%OFF</p>"
            '<p>配信停止は<a href="https://www.labelworks.example/mail/stop">こちら</a></p>',
        ),
        (
            at(date(2026, 1, 6), 11, 30, 9),
            "【社内共有】2026春号カタログ発送完了のお知らせ",
            "<p>サポートセンター各位</p><p>本日までに2026春号カタログ（全64ページ）を約12,000件に発送しました。</p>"
            "<p>お客様から「カタログを見た」とお問い合わせがあった場合は、案件に【カタログDM】タグを付けてください。</p>"
            "<p>販促チーム</p>",
        ),
    ]:
        mid = mailer.new_msgid(t, "plain", DOMAIN)
        frm = (
            addr("ラベルワークス", f"news@{DOMAIN}")
            if "ラベル通信" in subj
            else addr("販促チーム", f"promo@{DOMAIN}")
        )
        inbox.append(
            (
                t,
                mailer.build_mail(
                    t=t,
                    frm=frm,
                    to=INBOX_ADDR,
                    subject=subj,
                    cs="utf-8",
                    cte="base64",
                    html=html_doc(body_html),
                    msgid=mid,
                    style="mime",
                    inbound=(f"mailer.{DOMAIN}", "192.0.2.45"),
                    return_path=f"bounce@{DOMAIN}",
                ),
            )
        )

    # a reply that bounced (Postfix DSN)
    if sent:
        bt, bm = sent[len(sent) // 2]
        to = bm["To"].split("<")[-1].rstrip(">")
        bad = to.replace(".example", ".exmple")
        t = bt + timedelta(seconds=rng.randint(5, 50))
        root = MIMEMultipart(
            "report", report_type="delivery-status", boundary=boundary(str(t), "mime")
        )
        root.attach(
            text_part(
                f"This is the mail system at host mail.{DOMAIN}.\n\nI'm sorry to have to inform you that your message could not\n"
                "be delivered to one or more recipients. It's attached below.\n\n"
                "For further assistance, please send mail to postmaster.\n\n"
                "If you do so, please include this problem report. You can\ndelete your own text from the attached returned message.\n\n"
                f"                   The mail system\n\n<{bad}>: Host or domain name not found. Name service error\n"
                f"    for name={bad.split('@')[1]} type=A: Host not found\n",
                "plain",
                "us-ascii",
            )
        )
        root.attach(
            delivery_status(
                [
                    ("Reporting-MTA", f"dns; mail.{DOMAIN}"),
                    ("X-Postfix-Queue-ID", "4dP2k71XyZz3Qw"),
                    ("Arrival-Date", format_datetime(bt)),
                ],
                [
                    ("Final-Recipient", f"rfc822; {bad}"),
                    ("Original-Recipient", f"rfc822;{bad}"),
                    ("Action", "failed"),
                    ("Status", "5.4.4"),
                    (
                        "Diagnostic-Code",
                        f"X-Postfix; Host or domain name not found. Name service error for name={bad.split('@')[1]} type=A: Host not found",
                    ),
                ],
            )
        )
        hdr = MIMEText(
            "".join(
                f"{k}: {v}\n"
                for k, v in bm.items()
                if k in ("Date", "From", "Subject", "Message-ID")
            )
            + f"To: <{bad}>\n",
            "rfc822-headers",
            "us-ascii",
        )
        root.attach(hdr)
        mid = f"<20260110.{rng.randint(100000, 999999)}@mail.{DOMAIN}>"
        dsn = finalize(
            root,
            [
                ("Return-Path", "<>"),
                ("Date", format_datetime(t)),
                ("From", f"MAILER-DAEMON@mail.{DOMAIN} (Mail Delivery System)"),
                ("To", INBOX_ADDR),
                ("Subject", "Undelivered Mail Returned to Sender"),
                ("Message-ID", mid),
                ("Auto-Submitted", "auto-replied"),
            ],
        )
        inbox.append((t, dsn))
        bm.replace_header("To", bm["To"].replace(to, bad))

    write_maildir(OUT / "mail" / MAILBOX, inbox, sent)

    # ---- write records -----------------------------------------------------------------
    for c in customers:
        c["extra"].pop("_rom", None)
    write_jsonl(OUT / "customers.jsonl", customers)
    rows = []
    for cs_ in cases:
        r = dict(cs_)
        for k in ("opened_at", "started_at", "closed_at"):
            r[k] = iso(r[k])
        rows.append(r)
    write_jsonl(OUT / "cases.jsonl", rows)

    # Asterisk cdr_csv Master.csv (no header): quoted strings, bare integers
    cdr.sort(key=lambda r: r["start"])
    base = 1767657600  # uniqueid sequence base
    lines = []

    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    fmt = "%Y-%m-%d %H:%M:%S"
    for i, r in enumerate(cdr):
        uid = f"{int(r['start'].timestamp())}.{base % 1000 + i * 3}"
        for k in ("channel", "dstchannel"):
            if r[k]:
                seq[0] += 1
                r[k] = f"{r[k]}-{seq[0]:08x}"
        lines.append(
            ",".join(
                [
                    q(""),
                    q(r["src"]),
                    q(r["dst"]),
                    q(r["dcontext"]),
                    q(r["clid"]),
                    q(r["channel"]),
                    q(r["dstchannel"]),
                    q(r["lastapp"]),
                    q(r["lastdata"]),
                    q(r["start"].strftime(fmt)),
                    q(r["answer"].strftime(fmt) if r["answer"] else ""),
                    q(r["end"].strftime(fmt)),
                    str(r["duration"]),
                    str(r["billsec"]),
                    q(r["disposition"]),
                    q("DOCUMENTATION"),
                    q(uid),
                    q(""),
                ]
            )
        )
    (OUT / "calls" / "Master.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    (OUT / "manifest.toml").write_text(
        'anchor = "2026-01-14"\ntimezone = "Asia/Tokyo"\n'
        'description = "ラベルワークス サポートセンター: CRM customer registrations, kintone cases, '
        'Asterisk CDR of the desk and support mail"\n',
        encoding="utf-8",
    )
    n_open = sum(1 for c in cases if c["closed_at"] is None)
    n_long = sum(1 for c in cases if c["extra"].get("handling_minutes", 0) > 20)
    n_unl = sum(1 for c in cases if c["customer_id"] is None)
    print(
        f"{PROFILE}: customers={len(customers)} cases={len(cases)} (open {n_open}, long {n_long}, unlinked {n_unl}) "
        f"calls={len(cdr)} inbox={len(inbox)} sent={len(sent)}"
    )


# ================================================================ profile toml
def tq(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def tl(items) -> str:
    return "[" + ", ".join(tq(x) if isinstance(x, str) else str(x) for x in items) + "]"


if __name__ == "__main__":
    main()
