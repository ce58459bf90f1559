#!/usr/bin/env python3
"""Deterministic generator of the ``salon-ja`` demo fixtures (stdlib only).

Reservation inbox of a chain of treatment salons in Japan ("整体サロン 和楽"):
Peak Manager (PM) customer records, stores in regions, staff and rooms per
store, reservations, and the shared Gmail inbox ``reservation1`` with booking
mails from the (made-up) online booking service "STORES 予約", website-form
mails, direct inquiries, threads with the team's replies (Sent folder),
vendor mails, solicitation spam, bounces and product orders.

Mails carry no labels: labels are computed later by the mail rules of
fixtures/profiles/salon-ja.toml.

    python tools/fixtures_salon_ja.py      # rewrites fixtures/salon-ja/ (the profile file is kept by hand)
"""
# ruff: noqa: E501  (data tables and native-language text)

from __future__ import annotations

import email
import json
import random
import shutil
from datetime import date, datetime, timedelta, timezone
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
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
    fake_xlsx,
    finalize,
    html_doc,
    iso,
    pdf_bytes,
    png_bytes,
    text_part,
    text_to_html,
    write_json,
    write_jsonl,
    write_maildir,
)

PROFILE = "salon-ja"
OUT = ROOT / "fixtures" / PROFILE

TZ = timezone(timedelta(hours=9))
END_DT = end_of_anchor(TZ)
HOLIDAYS = {date(2026, 1, 1): "元日", date(2026, 1, 12): "成人の日"}
WD = "月火水木金土日"

DOMAIN = "waraku-seitai.example"
INBOX_ADDR = f"reservation1@{DOMAIN}"
INBOX_NAME = "和楽 予約センター"
MAILBOX = "reservation1"
BOOKING_DOMAIN = "stores-reserve.example"
BOOKING_FROM = f"noreply@{BOOKING_DOMAIN}"
BOOKING_NAME = "STORES 予約"
FORM_FROM = f"form@{DOMAIN}"
CENTRE_TEL = "03-6380-4127"
MX_HOST = "mx.google.com"  # the receiving server named in Received headers

rng = random.Random(20260114)
mailer = Mailer(rng, MX_HOST, INBOX_ADDR)


# ===================================================================== helpers
def at(d: date, h: int, m: int, s: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=TZ)


def wchoice(pairs):
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights=weights, k=1)[0]


def jp_date(d: date) -> str:
    return f"{d.month}月{d.day}日（{WD[d.weekday()]}）"


def jp_date_long(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日({WD[d.weekday()]})"


def hm(t: datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def is_weekday(d: date) -> bool:
    return d.weekday() < 5


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
    ("佐々木", "ササキ", "sasaki"), ("山口", "ヤマグチ", "yamaguchi"), ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"), ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"), ("清水", "シミズ", "shimizu"), ("山崎", "ヤマザキ", "yamazaki"),
    ("森", "モリ", "mori"), ("池田", "イケダ", "ikeda"), ("橋本", "ハシモト", "hashimoto"),
    ("阿部", "アベ", "abe"), ("石川", "イシカワ", "ishikawa"), ("山下", "ヤマシタ", "yamashita"),
    ("中島", "ナカジマ", "nakajima"), ("石井", "イシイ", "ishii"), ("小川", "オガワ", "ogawa"),
    ("前田", "マエダ", "maeda"), ("岡田", "オカダ", "okada"), ("長谷川", "ハセガワ", "hasegawa"),
    ("藤田", "フジタ", "fujita"), ("後藤", "ゴトウ", "goto"), ("近藤", "コンドウ", "kondo"),
    ("村上", "ムラカミ", "murakami"), ("遠藤", "エンドウ", "endo"), ("青木", "アオキ", "aoki"),
    ("坂本", "サカモト", "sakamoto"), ("福田", "フクダ", "fukuda"), ("太田", "オオタ", "ota"),
    ("西村", "ニシムラ", "nishimura"), ("藤井", "フジイ", "fujii"), ("金子", "カネコ", "kaneko"),
    ("岡本", "オカモト", "okamoto"), ("藤原", "フジワラ", "fujiwara"), ("三浦", "ミウラ", "miura"),
    ("中野", "ナカノ", "nakano"), ("原田", "ハラダ", "harada"), ("松田", "マツダ", "matsuda"),
    ("竹内", "タケウチ", "takeuchi"), ("小野", "オノ", "ono"), ("和田", "ワダ", "wada"),
    ("上田", "ウエダ", "ueda"), ("森田", "モリタ", "morita"), ("杉山", "スギヤマ", "sugiyama"),
    ("今井", "イマイ", "imai"), ("河野", "コウノ", "kono"), ("野口", "ノグチ", "noguchi"),
    ("菊地", "キクチ", "kikuchi"), ("平野", "ヒラノ", "hirano"), ("大塚", "オオツカ", "otsuka"),
    ("千葉", "チバ", "chiba"), ("久保", "クボ", "kubo"), ("松井", "マツイ", "matsui"),
]
GIVEN_F = [
    ("花子", "ハナコ", "hanako"), ("美咲", "ミサキ", "misaki"), ("陽子", "ヨウコ", "yoko"),
    ("恵美", "エミ", "emi"), ("由美", "ユミ", "yumi"), ("直美", "ナオミ", "naomi"),
    ("真由美", "マユミ", "mayumi"), ("さくら", "サクラ", "sakura"), ("愛", "アイ", "ai"),
    ("彩", "アヤ", "aya"), ("麻衣", "マイ", "mai"), ("千尋", "チヒロ", "chihiro"),
    ("結衣", "ユイ", "yui"), ("奈々", "ナナ", "nana"), ("優子", "ユウコ", "yuko"),
    ("智子", "トモコ", "tomoko"), ("久美子", "クミコ", "kumiko"), ("明美", "アケミ", "akemi"),
    ("香織", "カオリ", "kaori"), ("理恵", "リエ", "rie"), ("沙織", "サオリ", "saori"),
    ("美穂", "ミホ", "miho"), ("由香", "ユカ", "yuka"), ("真理子", "マリコ", "mariko"),
    ("京子", "キョウコ", "kyoko"), ("典子", "ノリコ", "noriko"), ("葵", "アオイ", "aoi"),
    ("菜摘", "ナツミ", "natsumi"), ("遥", "ハルカ", "haruka"), ("瞳", "ヒトミ", "hitomi"),
    ("綾香", "アヤカ", "ayaka"), ("里美", "サトミ", "satomi"), ("めぐみ", "メグミ", "megumi"),
    ("美和", "ミワ", "miwa"), ("加奈子", "カナコ", "kanako"), ("玲奈", "レイナ", "reina"),
]
GIVEN_M = [
    ("健太", "ケンタ", "kenta"), ("翔太", "ショウタ", "shota"), ("大輔", "ダイスケ", "daisuke"),
    ("拓也", "タクヤ", "takuya"), ("直樹", "ナオキ", "naoki"), ("誠", "マコト", "makoto"),
    ("浩二", "コウジ", "koji"), ("隆", "タカシ", "takashi"), ("和也", "カズヤ", "kazuya"),
    ("雄一", "ユウイチ", "yuichi"), ("修", "オサム", "osamu"), ("亮", "リョウ", "ryo"),
    ("健一", "ケンイチ", "kenichi"), ("博之", "ヒロユキ", "hiroyuki"), ("哲也", "テツヤ", "tetsuya"),
]
# fmt: on

# code, region, store, address, phone, open, close, rooms [(name, kind, capacity)], weight
# fmt: off
STORES = [
    ("SJK", "関東", "新宿店", "東京都新宿区西新宿7-12-3 第二みどりビル5F", "03-5338-4127", "10:00", "22:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1), ("個室4", "個室", 1),
      ("ペアルーム", "ペアルーム", 2), ("ヘッドスパ席", "ヘッドスパ", 1)], 20),
    ("SBY", "関東", "渋谷店", "東京都渋谷区道玄坂2-8-14 道玄坂KHビル3F", "03-6455-2318", "10:00", "22:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1), ("ヘッドスパ席", "ヘッドスパ", 1)], 13),
    ("IKB", "関東", "池袋店", "東京都豊島区東池袋1-31-9 サンライズ池袋6F", "03-5952-7704", "10:00", "21:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1)], 11),
    ("YKH", "関東", "横浜店", "神奈川県横浜市西区南幸2-15-6 ハマビル4F", "045-314-6608", "10:00", "21:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1), ("ペアルーム", "ペアルーム", 2)], 12),
    ("KCJ", "関東", "吉祥寺店", "東京都武蔵野市吉祥寺本町1-20-11 2F", "0422-27-5531", "10:00", "20:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1)], 7),
    ("UMD", "関西", "梅田店", "大阪府大阪市北区曽根崎2-6-18 梅田OSビル7F", "06-6362-0915", "10:00", "22:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1), ("個室4", "個室", 1),
      ("ヘッドスパ席", "ヘッドスパ", 1)], 13),
    ("NMB", "関西", "難波店", "大阪府大阪市中央区難波3-4-21 なんばSKビル5F", "06-6648-3302", "11:00", "22:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("ペアルーム", "ペアルーム", 2)], 8),
    ("KYT", "関西", "京都四条店", "京都府京都市下京区四条通烏丸東入ル長刀鉾町8 3F", "075-223-1840", "10:00", "20:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1)], 6),
    ("NGY", "東海", "名古屋栄店", "愛知県名古屋市中区栄3-18-2 栄MTビル4F", "052-241-8816", "10:00", "21:00",
     [("個室1", "個室", 1), ("個室2", "個室", 1), ("個室3", "個室", 1)], 8),
]
# fmt: on
STORE_BY_NAME = {s[2]: s for s in STORES}


def store_label(name: str) -> str:
    return f"{STORE_BY_NAME[name][1]}/{name}"


# name, minutes, price, room kinds (first preferred), skill
MENUS = [
    ("全身整体 60分", 60, 6600, ["個室"], "整体"),
    ("全身整体 90分", 90, 9900, ["個室"], "整体"),
    ("骨盤矯正 45分", 45, 5500, ["個室"], "整体"),
    ("肩こり集中ケア 30分", 30, 3800, ["個室"], "整体"),
    ("ヘッドスパ 60分", 60, 7700, ["ヘッドスパ", "個室"], "ヘッドスパ"),
    ("リンパドレナージュ 90分", 90, 11000, ["個室"], "リンパ"),
    ("足つぼ 40分", 40, 4400, ["個室"], "足つぼ"),
    ("【初回限定】カウンセリング＋全身整体 80分", 80, 5980, ["個室"], "整体"),
    ("マタニティ整体 60分", 60, 7150, ["個室"], "マタニティ"),
    ("ペア整体 60分（2名様）", 60, 13200, ["ペアルーム"], "整体"),
]
MENU_WEIGHTS = [26, 12, 12, 8, 9, 6, 6, 12, 3, 2]
MENU_BY_NAME = {m[0]: m for m in MENUS}

RETAIL = [("和楽オリジナル アロマボディオイル 100ml", 3300), ("和楽 骨盤ケアクッション", 4950)]

# reservation-centre team (the inbox agents)
HQ_TEAM = [
    ("tanaka", "田中", "美咲", "予約センター", "day"),
    ("suzuki", "鈴木", "彩", "予約センター", "day"),
    ("takahashi", "高橋", "結衣", "予約センター", "day"),
    ("ito", "伊藤", "千尋", "予約センター", "night"),
    ("watanabe", "渡辺", "麻衣", "予約センター", "night"),
    ("kobayashi", "小林", "香織", "予約センター リーダー", "day"),
    ("nakamura", "中村", "直樹", "物販担当", "day"),
]
DAY_AGENTS = ["田中", "鈴木", "高橋", "小林"]
NIGHT_AGENTS = ["伊藤", "渡辺"]


# ============================================================== customers etc.
used_emails: set[str] = set()
used_phones: set[str] = set()


def mobile() -> str:
    while True:
        p = f"{rng.choice(['090', '080', '070', '090', '080'])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        if p not in used_phones:
            used_phones.add(p)
            return p


def landline(store_name: str) -> str:
    area = STORE_BY_NAME[store_name][4].split("-")[0]
    if len(area) == 2:
        p = f"{area}-{rng.randint(3000, 6999)}-{rng.randint(1000, 9999)}"
    elif len(area) == 3:
        p = f"{area}-{rng.randint(200, 899)}-{rng.randint(1000, 9999)}"
    else:
        p = f"{area}-{rng.randint(20, 79)}-{rng.randint(1000, 9999)}"
    used_phones.add(p)
    return p


# fmt: off
EMAIL_DOMAINS = [
    ("example.jp", 20), ("example.com", 9), ("example.ne.jp", 8), ("gmail.com", 16),
    ("yahoo.co.jp", 8), ("icloud.com", 6), ("docomo.ne.jp", 12), ("ezweb.ne.jp", 8),
    ("au.com", 6), ("softbank.ne.jp", 5), ("i.softbank.jp", 2),
]
# fmt: on
CARRIERS = ["docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp"]
# fmt: off
CUTE = ["sakura", "happy", "smile", "hana", "nyan", "star", "momo", "cafe", "rose", "blue", "lemon", "mint"]
# fmt: on


def new_email(rom_s: str, rom_g: str, domain: str | None = None) -> str:
    domain = domain or wchoice(EMAIL_DOMAINS)
    while True:
        k = rng.randrange(6)
        mmdd = f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        if k == 0:
            local = f"{rom_g}.{rom_s}{rng.randint(1, 99)}"
        elif k == 1:
            local = f"{rom_g}{rom_s[0]}{rng.randint(1, 999)}"
        elif k == 2:
            local = f"{rom_s}-{rom_g}{rng.randint(60, 99)}"
        elif k == 3:
            local = f"{rom_g}_{mmdd}"
        elif k == 4:
            local = f"{rom_g}-{rng.choice(CUTE)}.{mmdd}"
        else:
            local = f"{rng.choice(CUTE)}{rng.choice(CUTE)}-{rom_g[:3]}{rng.randint(1, 99)}"
        e = f"{local}@{domain}"
        if e not in used_emails:
            used_emails.add(e)
            return e


def person(female_share: float = 0.84):
    s = rng.choice(SURNAMES)
    g = rng.choice(GIVEN_F if rng.random() < female_share else GIVEN_M)
    return s, g, ("女性" if g in GIVEN_F else "男性")


def pick_store() -> str:
    return rng.choices([s[2] for s in STORES], weights=[s[8] for s in STORES], k=1)[0]


# fmt: off
NOTE_PLAIN = [
    "腰痛持ち。強揉みは苦手。", "デスクワーク。肩・首のこり強い。", "左膝に古傷あり、うつ伏せ長時間NG。",
    "施術中の会話少なめ希望。", "担当指名なし。", "花粉症の時期はフェイスクッション交換希望。",
    "初回アンケート：姿勢改善目的。", "回数券（10回）購入済み。", "産後6か月。骨盤矯正希望。",
    "ヘッドスパのオプション好評。", "冷え性。室温高めに。", "",
]
# fmt: on


def make_customers(n: int = 264) -> list[dict]:
    rows = []
    pm = 3100
    for _ in range(n):
        pm += rng.randint(3, 31)
        (sk, skana, sr), (gk, gkana, gr), gender = person()
        store = pick_store()
        region = STORE_BY_NAME[store][1]
        sep = "\u3000" if rng.random() < 0.3 else " "
        phones = [mobile()]
        if rng.random() < 0.12:
            phones.append(landline(store))
        emails = []
        r = rng.random()
        if r < 0.88:
            emails.append(new_email(sr, gr))
        if r < 0.10:
            emails.append(new_email(sr, gr))
        notes = rng.choice(NOTE_PLAIN)
        other = ""
        x = rng.random()
        if x < 0.09:
            alt = new_email(
                sr, gr, rng.choice(["example.jp", "example.com", "gmail.com", "yahoo.co.jp"])
            )
            notes = (notes + " " if notes else "") + f"PCメール {alt}（携帯に届かない時はこちら）"
        elif x < 0.14:
            alt = new_email(sr, gr, rng.choice(CARRIERS))
            notes = (notes + " " if notes else "") + f"携帯メール：{alt}"
        elif x < 0.20:
            notes = (notes + " " if notes else "") + f"ご家族携帯 {mobile()}（日中連絡可）"
        elif x < 0.23:
            notes = (notes + " " if notes else "") + f"勤務先 {landline(store)} 平日10-17時"
        if rng.random() < 0.25:
            other = rng.choice(
                [
                    "来店きっかけ：Instagram",
                    "来店きっかけ：ホットペッパー",
                    "来店きっかけ：友人紹介",
                    "来店きっかけ：チラシ",
                    "来店きっかけ：Googleマップ",
                    "紹介者：会員",
                ]
            )
        created = datetime(2019, 4, 1, tzinfo=TZ) + timedelta(
            minutes=rng.randint(0, 60 * 24 * 2440)
        )
        created = created.replace(second=0)
        if created > at(ANCHOR - timedelta(days=20), 20, 0):
            created = at(
                ANCHOR - timedelta(days=20 + rng.randint(0, 60)),
                rng.randint(10, 20),
                rng.choice([0, 15, 30, 45]),
            )
        updated = min(
            created + timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 600)),
            at(
                ANCHOR - timedelta(days=rng.randint(1, 30)), rng.randint(10, 21), rng.randint(0, 59)
            ),
        )
        if updated < created:
            updated = created
        visits = rng.randint(1, 48)
        rows.append(
            {
                "id": f"PM-{pm:06d}",
                "name": f"{sk}{sep}{gk}",
                "name_kana": f"{skana} {gkana}",
                "company": None,
                "region": region,
                "store": store,
                "language": "ja",
                "notes": notes,
                "other": other,
                "created_at": iso(created),
                "updated_at": iso(updated),
                "phones": phones,
                "emails": emails,
                "extra": {
                    "pm_id": f"{pm:06d}",
                    "gender": gender,
                    "rank": "ゴールド" if visits > 30 else ("シルバー" if visits > 12 else "一般"),
                    "visits": visits,
                    "dm_ok": rng.random() < 0.7,
                    "_rom": [sr, gr],
                },
            }
        )
    return rows


def make_staff() -> tuple[list[dict], dict[str, list[dict]]]:
    rows, by_store = [], {}
    used = set()
    for code, region, name, *_rest in STORES:
        n_ther = {"SJK": 5, "SBY": 4, "UMD": 4, "YKH": 4, "IKB": 3, "NGY": 3}.get(code, 3)
        by_store[name] = []
        for j in range(n_ther):
            while True:
                (sk, skana, _), (gk, gkana, _), _g = person(0.7)
                if f"{sk}{gk}" not in used:
                    used.add(f"{sk}{gk}")
                    break
            skills = ["整体"]
            for s in ["ヘッドスパ", "リンパ", "足つぼ", "マタニティ"]:
                if rng.random() < 0.45:
                    skills.append(s)
            services = [m[0] for m in MENUS if m[4] in skills]
            row = {
                "id": f"ST-{code}-{j + 1:02d}",
                "name": f"{sk} {gk}",
                "store": name,
                "role": "店長" if j == 0 else "セラピスト",
                "services": services,
                "extra": {
                    "region": region,
                    "name_kana": f"{skana} {gkana}",
                    "skills": skills,
                    "days_off": sorted(rng.sample(range(7), 2)),
                },
            }
            rows.append(row)
            by_store[name].append(row)
    for key, sk, gk, role, shift in HQ_TEAM:
        rows.append(
            {
                "id": f"HQ-{key}",
                "name": f"{sk} {gk}",
                "store": "本部",
                "role": role,
                "services": [],
                "extra": {"shift": shift, "staff_label": f"対応スタッフ/{sk}", "agent_id": key},
            }
        )
    return rows, by_store


def make_rooms() -> tuple[list[dict], dict[str, list[dict]]]:
    rows, by_store = [], {}
    for code, region, name, _a, _p, _o, _c, rooms, _w in STORES:
        by_store[name] = []
        for j, (rname, kind, cap) in enumerate(rooms, 1):
            row = {
                "id": f"RM-{code}-{j}",
                "store": name,
                "name": rname,
                "kind": kind,
                "capacity": cap,
                "extra": {"region": region},
            }
            rows.append(row)
            by_store[name].append(row)
    return rows, by_store


# =============================================================== reservations
busy: dict[str, list[tuple[datetime, datetime]]] = {}


def free(key: str, s: datetime, e: datetime) -> bool:
    return all(e <= bs or s >= be for bs, be in busy.get(key, []))


def book(key: str, s: datetime, e: datetime) -> None:
    busy.setdefault(key, []).append((s, e))


def store_hours(store: str, d: date) -> tuple[datetime, datetime]:
    o, c = STORE_BY_NAME[store][5], STORE_BY_NAME[store][6]
    return at(d, int(o[:2]), int(o[3:])), at(d, int(c[:2]), int(c[3:]))


def allocate(store: str, menu, start: datetime, staff_by_store, rooms_by_store, staff_pref=None):
    end = start + timedelta(minutes=menu[1])
    op, cl = store_hours(store, start.date())
    if start < op or end > cl:
        return None
    therapists = [
        s
        for s in staff_by_store[store]
        if menu[0] in s["services"] and start.weekday() not in s["extra"]["days_off"]
    ]
    if staff_pref:
        therapists = [s for s in therapists if s["id"] == staff_pref] or therapists
    rng.shuffle(therapists)
    rooms = [r for kind in menu[3] for r in rooms_by_store[store] if r["kind"] == kind]
    for st in therapists:
        if not free(st["id"], start, end):
            continue
        for rm in rooms:
            if free(rm["id"], start, end):
                book(st["id"], start, end)
                book(rm["id"], start, end)
                return start, end, st["id"], rm["id"]
    return None


def random_slot(store: str, d: date, minutes: int) -> datetime:
    op, cl = store_hours(store, d)
    slots = []
    t = op
    while t + timedelta(minutes=minutes) <= cl:
        slots.append(t)
        t += timedelta(minutes=30)
    # evenings and weekends are popular
    w = [(3 if t.hour >= 17 else 2 if t.hour >= 13 else 1) for t in slots]
    return rng.choices(slots, weights=w, k=1)[0]


# fmt: off
RES_NOTES = ["", "", "", "", "", "腰痛がひどいです。", "初めてです。よろしくお願いします。", "強めが好みです。",
             "妊娠20週です。", "肩から首にかけてつらいです。", "駐車場はありますか？", "前回と同じ担当の方希望です。",
             "仕事帰りなので少し遅れるかもしれません。", "クーポン利用します。"]
# fmt: on


def status_for(start: datetime, cancel_p: float = 0.08, noshow_p: float = 0.03) -> str:
    r = rng.random()
    if start < at(ANCHOR, 12, 0):
        if r < cancel_p:
            return "キャンセル"
        if r < cancel_p + noshow_p:
            return "無断キャンセル"
        return "来店済み"
    return "キャンセル" if r < cancel_p else "予約確定"


def make_reservation(
    cust, store, menu, slot, channel, created, notes="", email_override=None, new_person=None
):
    start, end, staff_id, room_id = slot
    if cust:
        name = cust["name"].replace("\u3000", " ")
        contact = cust["phones"][0]
        mail = email_override or (cust["emails"][0] if cust["emails"] else None)
        cid = cust["id"]
    else:
        name, contact, mail = new_person
        cid = None
    status = status_for(start)
    updated = created
    extra = {
        "price": menu[2],
        "minutes": menu[1],
        "region": STORE_BY_NAME[store][1],
        "payment": rng.choice(["現地決済", "現地決済", "事前カード決済"])
        if channel == "STORES"
        else "現地決済",
    }
    if status == "キャンセル":
        lo, hi = created, min(start - timedelta(minutes=30), END_DT)
        if hi <= lo:
            status = "予約確定" if start >= at(ANCHOR, 12, 0) else "来店済み"
        else:
            span = int((hi - lo).total_seconds() // 60)
            updated = lo + timedelta(minutes=rng.randint(1, max(1, span)))
            updated = updated.replace(second=0)
            extra["cancelled_at"] = iso(updated)
            extra["cancel_via"] = (
                "STORES" if channel == "STORES" else rng.choice(["電話", "メール"])
            )
    elif status in ("来店済み", "無断キャンセル"):
        updated = end + timedelta(minutes=rng.randint(5, 40))
    if cid is None:
        extra["first_visit"] = True
    if channel == "STORES":
        extra["stores_customer_no"] = f"U{rng.randint(1000000, 9999999)}"
    return {
        "id": None,
        "store": store,
        "customer_id": cid,
        "customer_name": name,
        "contact": contact,
        "email": mail,
        "service": menu[0],
        "starts_at": start,
        "ends_at": end,
        "staff_id": staff_id,
        "room_id": room_id,
        "channel": channel,
        "status": status,
        "created_at": created,
        "updated_at": updated,
        "notes": notes,
        "satisfaction": None,
        "extra": extra,
    }


def new_person_tuple():
    (sk, skana, sr), (gk, gkana, gr), _g = person()
    return (f"{sk} {gk}", mobile(), new_email(sr, gr)), (sk, gk, skana, gkana, sr, gr)


# ===================================================================== main
def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "mail" / MAILBOX / "Sent").mkdir(parents=True)

    customers = make_customers()
    staff, staff_by_store = make_staff()
    rooms, rooms_by_store = make_rooms()
    cust_by_id = {c["id"]: c for c in customers}

    reservations: list[dict] = []

    # ---- base reservations (STORES, phone, walk-in, form) -------------------
    def base_reservation(created: datetime, channel: str, lead_days: int | None = None):
        for _try in range(30):
            cust = rng.choice(customers) if rng.random() < 0.78 or channel == "電話" else None
            store = cust["store"] if cust and rng.random() < 0.9 else pick_store()
            menu = rng.choices(MENUS, weights=MENU_WEIGHTS, k=1)[0]
            if cust and menu[0].startswith("【初回限定】"):
                continue
            lead = (
                lead_days
                if lead_days is not None
                else rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 9, 12, 14])
            )
            d = created.date() + timedelta(days=lead)
            if d > ANCHOR + timedelta(days=14):
                continue
            start = random_slot(store, d, menu[1])
            if start <= created + timedelta(hours=1):
                continue
            slot = allocate(store, menu, start, staff_by_store, rooms_by_store)
            if not slot:
                continue
            newp = None
            if cust is None:
                newp, _ = new_person_tuple()
            return make_reservation(
                cust, store, menu, slot, channel, created, rng.choice(RES_NOTES), new_person=newp
            )
        return None

    # created before the window (appointments inside the window or later)
    for _ in range(150):
        d = START + timedelta(days=rng.randint(0, 22))
        lead = rng.randint(7, 40)
        created = at(
            d - timedelta(days=lead), rng.randint(7, 23), rng.randint(0, 59), rng.randint(0, 59)
        )
        if created >= at(START, 0, 0):
            created = at(START - timedelta(days=1), rng.randint(9, 22), rng.randint(0, 59))
        ch = wchoice([("STORES", 60), ("電話", 25), ("店頭", 15)])
        days_to = (d - created.date()).days
        r = base_reservation(created, ch, days_to)
        if r:
            reservations.append(r)

    # created inside the window
    for d in DAYS:
        n = 8 if d.weekday() < 5 else 7
        for _ in range(n):
            ch = wchoice([("STORES", 55), ("電話", 27), ("店頭", 18)])
            if ch == "STORES":
                h = wchoice(
                    [
                        (h, w)
                        for h, w in zip(
                            range(24),
                            [
                                1,
                                1,
                                0,
                                0,
                                0,
                                0,
                                0,
                                1,
                                1,
                                3,
                                4,
                                4,
                                5,
                                5,
                                4,
                                4,
                                4,
                                4,
                                5,
                                6,
                                7,
                                8,
                                3,
                                2,
                            ],
                            strict=True,
                        )
                    ]
                )
            elif ch == "電話":
                h = rng.randint(10, 20)
            else:
                h = rng.randint(11, 21)
            created = at(d, h, rng.randint(0, 59), rng.randint(0, 59))
            if created > END_DT:
                continue
            r = base_reservation(created, ch)
            if r:
                reservations.append(r)
    # guarantee a real morning batch every weekday: overnight STORES bookings
    for d in DAYS:
        if is_weekday(d):
            for _ in range(rng.randint(1, 3)):
                prev = d - timedelta(days=1)
                created = rng.choice(
                    [
                        at(prev, rng.randint(22, 23), rng.randint(0, 59), rng.randint(0, 59)),
                        at(d, rng.randint(0, 7), rng.randint(0, 59), rng.randint(0, 59)),
                    ]
                )
                if created < at(START, 0, 0):
                    created = at(d, rng.randint(0, 7), rng.randint(0, 59), rng.randint(0, 59))
                r = base_reservation(created, "STORES")
                if r:
                    reservations.append(r)

    # a few changed STORES reservations (date/time moved)
    stores_window = [
        r
        for r in reservations
        if r["channel"] == "STORES"
        and r["status"] == "予約確定"
        and r["created_at"] < at(ANCHOR - timedelta(days=2), 0, 0)
    ]
    for r in rng.sample(stores_window, 6):
        old = r["starts_at"]
        when = max(r["created_at"], at(START, 0, 0)) + timedelta(hours=rng.randint(2, 60))
        when = min(when, at(ANCHOR, 18, 0)).replace(second=rng.randint(0, 59))
        r["extra"]["changed_from"] = iso(old)
        r["extra"]["changed_at"] = iso(when)
        r["updated_at"] = when

    # ---- mail --------------------------------------------------------------
    inbox: list[tuple[datetime, Message]] = []
    sent: list[tuple[datetime, Message]] = []

    def add_in(t: datetime, m: Message):
        assert t <= END_DT, t
        inbox.append((t, m))

    def add_sent(t: datetime, m: Message):
        assert t <= END_DT, t
        sent.append((t, m))

    def work_time(t: datetime, lo_min: int, hi_min: int) -> datetime:
        """A reply time for the centre (08:30–24:00; overnight → next morning)."""
        r = t + timedelta(minutes=rng.randint(lo_min, hi_min))
        if r.hour < 9 and not (r.hour == 8 and r.minute >= 30):
            r = at(r.date(), 9, rng.randint(0, 40), rng.randint(0, 59))
        return r.replace(second=rng.randint(0, 59))

    def agent_at(t: datetime) -> str:
        return rng.choice(NIGHT_AGENTS if t.hour >= 17 or t.hour < 1 else DAY_AGENTS)

    def signature(agent: str) -> str:
        return (
            "\n────────────────────\n"
            f"整体サロン 和楽 予約センター　{agent}\n"
            f"TEL {CENTRE_TEL}（受付 9:00〜21:00）\n"
            f"Mail {INBOX_ADDR}\n"
            "https://www.waraku-seitai.example/\n"
            "────────────────────\n"
        )

    centre_from = addr(INBOX_NAME, INBOX_ADDR)

    def team_reply(t, to_addr, to_name, subject, body, parent_id, refs, agent):
        mid = mailer.new_msgid(t, "gmail", "")
        text = body + signature(agent)
        m = mailer.build_mail(
            t=t,
            frm=centre_from,
            to=addr(to_name, to_addr),
            subject=subject,
            cs="utf-8",
            cte="base64",
            text=text,
            html=html_doc(text_to_html(text)),
            msgid=mid,
            in_reply_to=parent_id,
            references=refs + [parent_id],
        )
        add_sent(t, m)
        return mid, m, text

    # ---- STORES booking mails --------------------------------------------
    def booking_body(r, kind: str) -> tuple[str, str]:
        store = r["store"]
        st = next(s for s in staff if s["id"] == r["staff_id"])
        head = {
            "new": "STORES 予約 で新しい予約が入りました。",
            "cancel": "以下の予約がお客様によりキャンセルされました。",
            "change": "以下の予約の日時がお客様により変更されました。",
        }[kind]
        s, e = r["starts_at"], r["ends_at"]
        lines = [
            f"和楽 {store} ご担当者様",
            "",
            head,
            "",
            "■予約番号",
            r["id"],
            "■予約日時",
            f"{jp_date_long(s.date())} {hm(s)}〜{hm(e)}",
        ]
        if kind == "change":
            old = datetime.fromisoformat(r["extra"]["changed_from"])
            old_end = old + (e - s)
            lines += ["■変更前の日時", f"{jp_date_long(old.date())} {hm(old)}〜{hm(old_end)}"]
        lines += [
            "■メニュー",
            f"{r['service']}（{r['extra']['price']:,}円）",
            "■担当スタッフ",
            st["name"],
            "■お客様名",
            f"{r['customer_name']} 様",
            "■電話番号",
            r["contact"],
            "■メールアドレス",
            r["email"] or "（未登録）",
            "■お支払い方法",
            r["extra"]["payment"],
            "■備考",
            r["notes"] or "なし",
            "",
            "予約の詳細は管理画面からご確認ください。",
            f"https://manage.{BOOKING_DOMAIN}/reservations/{r['id']}",
            "",
            "※このメールは送信専用アドレスから送信しています。ご返信いただいてもお答えできません。",
            "──────────────────",
            "STORES 予約",
            f"https://{BOOKING_DOMAIN}/",
        ]
        text = "\n".join(lines) + "\n"
        rows = "".join(
            f'<tr><th style="text-align:left;background:#f4f4f4;padding:6px">{lines[i][1:]}</th>'
            f'<td style="padding:6px">{lines[i + 1]}</td></tr>\n'
            for i in range(4, len(lines) - 10, 2)
            if lines[i].startswith("■")
        )
        html = html_doc(
            f"<p>和楽 {store} ご担当者様</p>\n<p>{head}</p>\n"
            f'<table style="border-collapse:collapse;font-size:14px">\n{rows}</table>\n'
            f'<p><a href="https://manage.{BOOKING_DOMAIN}/reservations/{r["id"]}">管理画面で予約を確認する</a></p>\n'
            '<p style="color:#888;font-size:12px">※このメールは送信専用アドレスから送信しています。</p>\n'
            '<p style="color:#888;font-size:12px">STORES 予約</p>'
        )
        return text, html

    def booking_mail(
        r, kind: str, t: datetime, what: str, cte="base64", html_only_p=0.0, when=True
    ) -> str:
        """A STORES 予約 notification about reservation ``r``; returns its Message-ID."""
        text, html = booking_body(r, kind)
        s = r["starts_at"]
        subj = f"【和楽 {r['store']}】{what}" + (f"（{s.month}/{s.day} {hm(s)}〜）" if when else "")
        mid = mailer.new_msgid(t, "plain", f"mail.{BOOKING_DOMAIN}")
        if html_only_p and rng.random() < html_only_p:
            text = None
        add_in(
            t,
            mailer.build_mail(
                t=t,
                frm=addr(BOOKING_NAME, BOOKING_FROM),
                to=INBOX_ADDR,
                subject=subj,
                cs="utf-8",
                cte=cte,
                text=text,
                html=html,
                msgid=mid,
                style="mime",
                inbound=(f"o1.mail.{BOOKING_DOMAIN}", "192.0.2.17"),
                return_path=f"bounces+{rng.randint(100000, 999999)}@mail.{BOOKING_DOMAIN}",
                extra_headers=[("X-Reservation-Id", r["id"])],
            ),
        )
        return mid

    # ---- inquiries (direct mail and website form) -------------------------
    # fmt: off
    QUESTIONS = [
        ("駐車場はありますか。車で伺いたいのですが。",
         "誠に恐れ入りますが、{store}には専用駐車場がございません。お近くのコインパーキングをご利用くださいませ。", "その他"),
        ("支払いにクレジットカードやPayPayは使えますか。",
         "各種クレジットカード、交通系ICカード、QRコード決済（PayPay等）をご利用いただけます。", "メニュー・料金について"),
        ("妊娠7か月ですが、施術を受けることはできますか。",
         "安定期に入られている方は「マタニティ整体 60分」をご利用いただけます。ご予約の際に妊娠週数をお知らせくださいませ。",
         "メニュー・料金について"),
        ("ギフト券（プレゼント用）は販売していますか。",
         "各店舗の受付にてギフト券（5,000円券・10,000円券）を販売しております。", "その他"),
        ("子どもを連れて行っても大丈夫でしょうか。",
         "お子様連れでのご来店も可能です。ベビーカーのままお部屋に入っていただけます。", "その他"),
        ("回数券の有効期限を教えてください。", "回数券の有効期限はご購入日から1年間でございます。", "メニュー・料金について"),
        ("男性でも施術を受けられますか。", "はい、男性のお客様にも多くご利用いただいております。", "その他"),
        ("骨盤矯正は何回くらい通えば効果がありますか。",
         "個人差はございますが、最初の1か月は週1回、その後は2〜3週間に1回のペースをおすすめしております。",
         "メニュー・料金について"),
        ("領収書は発行してもらえますか。", "はい、受付にてお申し付けください。宛名のご指定も承ります。", "その他"),
        ("営業時間と定休日を教えてください。",
         "{store}の営業時間は{open}〜{close}（最終受付は閉店の1時間前）、年中無休（年末年始を除く）でございます。", "その他"),
        ("着替えは用意されていますか。仕事帰りに寄りたいので。",
         "お着替え（上下）をご用意しておりますので、お仕事帰りでもそのままお越しいただけます。", "その他"),
        ("キャンセル料はかかりますか。",
         "前日までのキャンセルは無料、当日のキャンセルは施術料金の50%を頂戴しております。", "ご予約について"),
        ("肩こりと頭痛がひどいのですが、どのコースがおすすめですか。",
         "「肩こり集中ケア 30分」または「ヘッドスパ 60分」がおすすめです。初めての方は初回限定コースもございます。",
         "メニュー・料金について"),
        ("初回割引はネット予約でなくても使えますか。",
         "お電話・メールでのご予約でも初回限定価格が適用されます。", "メニュー・料金について"),
    ]
    # fmt: on
    q_order = list(range(len(QUESTIONS)))
    rng.shuffle(q_order)

    def pick_customer(pred=None, store_ok=True):
        pool = [c for c in customers if c["emails"] and (pred is None or pred(c))]
        return rng.choice(pool)

    used_for_threads: set[str] = set()

    def pick_unique(pred):
        for _ in range(500):
            c = pick_customer(pred)
            if c["id"] not in used_for_threads:
                used_for_threads.add(c["id"])
                return c
        raise RuntimeError("no customer")

    def customer_identity(
        kind_addr: str | None, existing: bool, store: str | None = None, pred=None
    ):
        """Returns dict with name parts, address to write from, store, phone, customer."""
        if existing:
            c = pick_unique(pred or (lambda c: True))
            sk, gk = c["name"].replace("\u3000", " ").split(" ")
            sr, gr = c["extra"]["_rom"]
            return {
                "cust": c,
                "sk": sk,
                "gk": gk,
                "kana": c["name_kana"],
                "sr": sr,
                "gr": gr,
                "email": c["emails"][0],
                "phone": c["phones"][0],
                "store": c["store"],
            }
        (sk, skana, sr), (gk, gkana, gr), _g = person()
        e = new_email(sr, gr, kind_addr)
        return {
            "cust": None,
            "sk": sk,
            "gk": gk,
            "kana": f"{skana} {gkana}",
            "sr": sr,
            "gr": gr,
            "email": e,
            "phone": mobile(),
            "store": store or pick_store(),
        }

    def mail_style_for(address: str) -> tuple[str, str, str | None]:
        dom = address.split("@")[1]
        if dom in CARRIERS or dom.startswith(("docomo", "ezweb", "au.", "softbank")):
            return "iso-2022-jp", "plain", None
        if dom in ("gmail.com",):
            return "utf-8", "gmail", None
        if dom in ("icloud.com",):
            return "utf-8", "apple", "iPhone Mail (22C152)"
        return (
            rng.choice(["iso-2022-jp", "utf-8"]),
            "plain",
            rng.choice([None, "Microsoft Outlook 16.0", "Thunderbird 128.6.0"]),
        )

    def customer_mail(
        t, ident, subject, body, *, in_reply_to=None, refs=None, attachments=(), from_addr=None
    ):
        a = from_addr or ident["email"]
        cs, style, xm = mail_style_for(a)
        dom = a.split("@")[1]
        mid = (
            mailer.new_msgid(t, "gmail", "")
            if style == "gmail"
            else mailer.new_msgid(t, "plain", dom)
        )
        name = f"{ident['sk']} {ident['gk']}" if rng.random() < 0.8 else None
        html = None
        if style in ("gmail", "apple") and rng.random() < 0.7:
            html = html_doc(text_to_html(body))
        m = mailer.build_mail(
            t=t,
            frm=addr(name, a, cs),
            to=INBOX_ADDR,
            subject=subject,
            cs=cs,
            cte=rng.choice(["base64", "qp"]) if cs == "utf-8" else "7bit",
            text=body,
            html=html,
            attachments=attachments,
            msgid=mid,
            in_reply_to=in_reply_to,
            references=refs,
            style=style if style != "apple" else "mime",
            inbound=(
                f"mail-{dom.split('.')[0]}.{dom}"
                if style != "gmail"
                else "mail-sor-f41.google.com",
                f"203.0.113.{rng.randint(2, 250)}",
            ),
            return_path=a,
            x_mailer=xm,
        )
        add_in(t, m)
        return mid, m

    def form_mail(t, ident, typed_email, topic, wish, content, store):
        body = (
            "ホームページのお問い合わせフォームから以下の内容で送信がありました。\n\n"
            f"【お名前】{ident['sk']} {ident['gk']}\n"
            f"【フリガナ】{ident['kana']}\n"
            f"【メールアドレス】{typed_email}\n"
            f"【電話番号】{ident['phone'] if rng.random() < 0.85 else ''}\n"
            f"【ご希望店舗】{store}\n"
            f"【お問い合わせ種別】{topic}\n"
            f"【ご希望日時】{wish}\n"
            "【お問い合わせ内容】\n"
            f"{content}\n\n"
            "--------------------------------------------------\n"
            f"送信日時：{t.strftime('%Y/%m/%d %H:%M:%S')}\n"
            f"送信元IP：198.51.100.{rng.randint(2, 250)}\n"
            "このメールは https://www.waraku-seitai.example/contact/ から自動送信されています。\n"
        )
        subject = (
            "【和楽HP】ご予約リクエストがありました"
            if topic == "ご予約について"
            else "【和楽HP】お問い合わせがありました"
        )
        mid = mailer.new_msgid(t, "plain", DOMAIN)
        m = mailer.build_mail(
            t=t,
            frm=addr("整体サロン和楽 ホームページ", FORM_FROM, "iso-2022-jp"),
            to=INBOX_ADDR,
            subject=subject,
            cs="iso-2022-jp",
            text=body,
            msgid=mid,
            reply_to=typed_email,
            style="mime",
            inbound=(f"www.{DOMAIN}", "192.0.2.80"),
            return_path=FORM_FROM,
            x_mailer="FormMail 1.92",
        )
        add_in(t, m)
        return mid, m, subject, body

    def customer_time(d: date, lo: int = 7, hi: int = 23) -> datetime:
        h = wchoice(
            [(h, 3 if 19 <= h <= 23 else 2 if 11 <= h <= 13 else 1) for h in range(lo, hi + 1)]
        )
        return at(d, h, rng.randint(0, 59), rng.randint(0, 59))

    def greeting(ident, store_named: bool) -> str:
        if ident["cust"] is not None:
            return (
                f"いつも{ident['store']}でお世話になっております。"
                if store_named
                else "いつもお世話になっております。"
            )
        return "はじめまして。" if rng.random() < 0.6 else "お世話になります。"

    def sign(ident, with_phone: bool) -> str:
        s = f"\n{ident['sk']}{ident['gk'] if rng.random() < 0.6 else ''}\n"
        if with_phone:
            s += f"{ident['phone']}\n"
        return s

    conversions: list[dict] = []  # inquiry log kept in extra file for reference
    bounce_jobs: list[dict] = []

    def request_time(t: datetime, store: str, menu) -> datetime:
        d = t.date() + timedelta(days=rng.randint(1, 8))
        op, cl = store_hours(store, d)
        h = rng.randint(op.hour + 1, cl.hour - 2)
        return at(d, h, rng.choice([0, 0, 30]))

    def menu_pick(store, existing=False):
        ok = [
            i
            for i, m in enumerate(MENUS[:-1])
            if not (existing and m[0].startswith("【初回限定】"))
            and any(m[0] in st["services"] for st in staff_by_store[store])
            and any(r["kind"] in m[3] for r in rooms_by_store[store])
        ]
        return MENUS[rng.choices(ok, weights=[MENU_WEIGHTS[i] for i in ok], k=1)[0]]

    def time_phrase(s: datetime) -> str:
        if s.minute == 30:
            return rng.choice([f"{s.hour}時半", hm(s), f"{s.hour}時半頃"])
        return rng.choice([f"{s.hour}時", hm(s), f"{s.hour}時頃"])

    # plans: (kind, outcome, day-of-month, address domain or None, existing?)
    # fmt: off
    B_PLAN = [
        ("booked", 6), ("booked", 7), ("booked", 8), ("booked", 9), ("booked", 10), ("booked", 11),
        ("booked", 12), ("booked", 13), ("alt_booked", 8), ("alt_booked", 11),
        ("noanswer", 6), ("noanswer", 8), ("noanswer", 10), ("noanswer", 12),
        ("noanswer", 13), ("noanswer", 13), ("noanswer", 14), ("noanswer", 14),
        ("customer_replied", 14), ("unreplied", 14),
        ("bounce_gmailcon", 9), ("bounce_docomojo", 12), ("bounce_softbank", 10),
        ("bounce_aucom_dot", 13), ("bounce_docomo_existing", 7),
    ]
    A_PLAN = [
        ("answered", 6), ("answered", 6), ("answered", 7), ("answered", 8), ("answered", 9),
        ("answered", 10), ("answered", 11), ("answered", 12), ("answered", 12), ("answered", 13),
        ("answered", 13), ("answered", 14), ("unanswered", 13), ("unanswered", 14),
        ("bounce_ezweb", 7), ("bounce_qmail", 11),
    ]
    # fmt: on

    def slot_for_request(store, menu, s):
        return allocate(store, menu, s, staff_by_store, rooms_by_store)

    def book_from_thread(ident, store, menu, slot, channel, t, typed_email):
        r = make_reservation(
            ident["cust"],
            store,
            menu,
            slot,
            channel,
            t,
            "",
            email_override=typed_email,
            new_person=(f"{ident['sk']} {ident['gk']}", ident["phone"], typed_email),
        )
        if r["status"] == "キャンセル":
            r["status"] = "予約確定" if r["starts_at"] >= at(ANCHOR, 12, 0) else "来店済み"
            r["updated_at"] = t
            r["extra"].pop("cancelled_at", None)
            r["extra"].pop("cancel_via", None)
        reservations.append(r)
        return r

    for outcome, dom_day in B_PLAN:
        d = date(2026, 1, dom_day)
        bounce = outcome.startswith("bounce")
        if outcome == "bounce_gmailcon":
            source, existing, adom = "form", False, "gmail.com"
        elif outcome == "bounce_docomojo":
            source, existing, adom = "form", False, "docomo.ne.jp"
        elif outcome == "bounce_aucom_dot":
            source, existing, adom = "form", False, "au.com"
        elif outcome == "bounce_softbank":
            source, existing, adom = "direct", False, "softbank.ne.jp"
        elif outcome == "bounce_docomo_existing":
            source, existing, adom = "direct", True, None
        else:
            source = "form" if rng.random() < 0.42 else "direct"
            existing = rng.random() < 0.65
            adom = None
        pred = None
        if outcome == "bounce_docomo_existing":

            def pred(c):
                return c["emails"][0].endswith("@docomo.ne.jp") and "メール" in c["notes"]

        ident = customer_identity(adom, existing, pred=pred)
        store = ident["store"]
        menu = menu_pick(store, ident["cust"] is not None)
        if ident["cust"] is None and rng.random() < 0.5 and not bounce:
            menu = MENU_BY_NAME["【初回限定】カウンセリング＋全身整体 80分"]
        t0 = customer_time(d, 7, 22 if outcome != "unreplied" else 21)
        if outcome in ("noanswer", "customer_replied", "unreplied") and dom_day == 14:
            t0 = customer_time(d, 7, 12) if outcome != "unreplied" else customer_time(d, 18, 21)
        want = request_time(t0, store, menu)
        typed = ident["email"]
        if outcome == "bounce_gmailcon":
            typed = typed.replace("@gmail.com", "@gmail.con")
        elif outcome == "bounce_docomojo":
            typed = typed.replace("@docomo.ne.jp", "@docomo.ne.jo")
        elif outcome == "bounce_aucom_dot":
            typed = typed.replace("@au.com", "@.au.com")
        store_named = ident["cust"] is None or rng.random() < 0.5
        phone_in_body = rng.random() < 0.5 or outcome in ("bounce_softbank",)
        wish_text = f"{jp_date(want.date())} {time_phrase(want)}から"
        if source == "form":
            content = rng.choice(
                [
                    f"{menu[0]}を受けたいです。{wish_text}空いていますか。",
                    f"{wish_text}で予約をお願いしたいです。メニューは{menu[0]}でお願いします。",
                    f"初めて利用します。{wish_text}、{menu[0]}は可能でしょうか。",
                ]
            )
            mid, m, subject, body = form_mail(
                t0,
                ident,
                typed,
                "ご予約について",
                f"{jp_date(want.date())} {hm(want)}〜",
                content,
                store,
            )
            orig_text = body
        else:
            subject = rng.choice(
                [
                    "予約のお願い",
                    "予約について",
                    f"{want.month}/{want.day} 予約できますか",
                    "予約希望です",
                    f"{store} 予約の件",
                ]
            )
            body = (
                f"{greeting(ident, store_named)}\n"
                + (
                    f"{ident['sk']}です。\n\n"
                    if ident["cust"]
                    else f"{ident['sk']}と申します。\n\n"
                )
                + rng.choice(
                    [
                        f"{(store + 'で') if store_named else ''}{wish_text}、{menu[0]}の予約をお願いできますか。",
                        f"{wish_text}{(store + 'で') if store_named else ''}{menu[0]}を受けたいのですが、空いていますでしょうか。",
                        f"{jp_date(want.date())}の{time_phrase(want)}以降で{menu[0]}をお願いしたいです。",
                    ]
                )
                + (
                    "\n\n"
                    + rng.choice(
                        [
                            "よろしくお願いします。",
                            "ご連絡お待ちしています。",
                            "よろしくお願いいたします。",
                        ]
                    )
                )
                + sign(ident, phone_in_body)
            )
            mid, m = customer_mail(t0, ident, subject, body)
            orig_text = body
        thread = {
            "kind": "B",
            "outcome": outcome,
            "first_message_id": mid,
            "customer_id": ident["cust"]["id"] if ident["cust"] else None,
            "store": store,
            "requested": iso(want),
            "source": source,
        }
        conversions.append(thread)
        if outcome == "unreplied":
            continue
        # team reply: offer the requested time or alternatives
        t1 = work_time(t0, 15, 150)
        if t1 > END_DT:
            continue
        if outcome == "customer_replied":
            t1 = min(t1, at(ANCHOR, 13, 30, rng.randint(0, 59)))
        agent = agent_at(t1)
        full = outcome == "alt_booked"
        slot = None if full else slot_for_request(store, menu, want)
        alt_slot = None
        if slot is None:
            for delta in (120, -120, 180, 24 * 60, 24 * 60 + 120, 48 * 60):
                alt = want + timedelta(minutes=delta)
                alt_slot = slot_for_request(store, menu, alt)
                if alt_slot:
                    break
            k = 1
            while alt_slot is None:
                alt_slot = slot_for_request(
                    store,
                    menu,
                    random_slot(store, want.date() + timedelta(days=k % 5 + 1), menu[1]),
                )
                k += 1
        name = f"{ident['sk']} {ident['gk']}"
        if slot:
            # release: the slot is only held until the customer confirms
            busy[slot[2]].remove((slot[0], slot[1]))
            busy[slot[3]].remove((slot[0], slot[1]))
            offer = (
                f"ご希望の{jp_date(want.date())} {hm(want)}〜、{store}にて「{menu[0]}」のご予約をお取りすることが可能でございます。\n"
                "こちらの内容でご予約を確定してよろしいでしょうか。\n"
            )
        else:
            busy[alt_slot[2]].remove((alt_slot[0], alt_slot[1]))
            busy[alt_slot[3]].remove((alt_slot[0], alt_slot[1]))
            offer = (
                f"誠に申し訳ございませんが、ご希望の{jp_date(want.date())} {hm(want)}〜は満席となっております。\n"
                f"{jp_date(alt_slot[0].date())} {hm(alt_slot[0])}〜でしたらご案内が可能でございます。\n"
                "ご都合はいかがでしょうか。\n"
            )
        if ident["cust"] is None and menu[0].startswith("【初回限定】"):
            offer += "初回はカウンセリングを含め80分ほどお時間を頂戴いたします。\n"
        reply_body = (
            f"{name} 様\n\n"
            f"整体サロン 和楽 予約センターの{agent}でございます。\n"
            "この度はお問い合わせいただき、誠にありがとうございます。\n\n"
            + offer
            + "\nお手数ですが、本メールにご返信いただけますと幸いです。\n"
            "ご返信をお待ちしております。\n"
        )
        reply_subject = "Re: " + (
            subject if source == "direct" else "お問い合わせの件（整体サロン 和楽）"
        )
        r_mid, r_msg, r_text = team_reply(
            t1,
            typed,
            name,
            reply_subject,
            reply_body + quote(orig_text, t0, ident["email"] if source == "direct" else FORM_FROM),
            mid,
            [],
            agent,
        )
        thread["replied_at"] = iso(t1)
        if bounce:
            bounce_jobs.append(
                {
                    "kind": outcome,
                    "t": t1,
                    "to": typed,
                    "sent": r_msg,
                    "subject": reply_subject,
                    "ident": ident,
                    "store": store,
                }
            )
            continue
        if outcome in ("noanswer",):
            continue
        # customer answers
        t2 = t1 + timedelta(minutes=rng.randint(25, 600))
        if outcome == "customer_replied":
            t2 = min(t1 + timedelta(minutes=rng.randint(60, 240)), at(ANCHOR, 19, 40))
        if t2.hour < 7:
            t2 = at(t2.date(), 7, rng.randint(10, 59), rng.randint(0, 59))
        t2 = t2.replace(second=rng.randint(0, 59))
        if t2 > END_DT:
            continue
        final = slot_for_request(store, menu, slot[0] if slot else alt_slot[0])
        if final is None:
            continue
        busy[final[2]].remove((final[0], final[1]))
        busy[final[3]].remove((final[0], final[1]))
        ans = rng.choice(
            [
                "ありがとうございます。その日時でお願いします。",
                "ご連絡ありがとうございます。\nでは、その内容でお願いいたします。",
                "返信遅くなりすみません。\nその時間で大丈夫です。よろしくお願いします。",
            ]
        )
        if full:
            ans = f"ご連絡ありがとうございます。\n{jp_date(final[0].date())}の{hm(final[0])}からでお願いします。"
        c_subject = "Re: " + reply_subject.removeprefix("Re: ")
        c_mid, _ = customer_mail(
            t2,
            ident,
            c_subject,
            ans + "\n" + sign(ident, False) + quote(r_text, t1, f"{INBOX_NAME} <{INBOX_ADDR}>"),
            in_reply_to=r_mid,
            refs=[mid, r_mid],
            from_addr=ident["email"],
        )
        thread["customer_replied_at"] = iso(t2)
        if outcome == "customer_replied":
            continue
        t3 = work_time(t2, 10, 90)
        if t3 > END_DT:
            continue
        agent = agent_at(t3)
        slot3 = slot_for_request(store, menu, final[0])
        r = book_from_thread(
            ident, store, menu, slot3, "ホームページ" if source == "form" else "メール", t3, typed
        )
        thread["reservation_pending"] = r
        conf = (
            f"{name} 様\n\n"
            f"整体サロン 和楽 予約センターの{agent}でございます。\n"
            "ご返信ありがとうございます。下記の内容でご予約を承りました。\n\n"
            f"■日時　{jp_date(slot3[0].date())} {hm(slot3[0])}〜{hm(slot3[1])}\n"
            f"■店舗　{store}（{STORE_BY_NAME[store][3]}）\n"
            f"■メニュー　{menu[0]}（{menu[2]:,}円）\n\n"
            "ご変更・キャンセルの際は前日までにご連絡くださいませ。\n"
            "当日はお気をつけてお越しくださいませ。\n"
        )
        team_reply(t3, typed, name, c_subject, conf, c_mid, [mid, r_mid], agent)
        thread["booked_at"] = iso(t3)

    for outcome, dom_day in A_PLAN:
        d = date(2026, 1, dom_day)
        qi = q_order.pop() if q_order else rng.randrange(len(QUESTIONS))
        if not q_order:
            q_order = list(range(len(QUESTIONS)))
            rng.shuffle(q_order)
        q, a, topic = QUESTIONS[qi]
        if outcome == "bounce_ezweb":
            ident = customer_identity(
                None, True, pred=lambda c: c["emails"][0].endswith("@ezweb.ne.jp")
            )
            source = "direct"
        elif outcome == "bounce_qmail":
            ident = customer_identity("example.ne.jp", False)
            source = "form"
        else:
            ident = customer_identity(None, rng.random() < 0.6)
            source = "form" if rng.random() < 0.4 else "direct"
        store = ident["store"]
        t0 = customer_time(d, 7, 23 if dom_day != 14 else 20)
        typed = ident["email"]
        if outcome == "bounce_qmail":
            local, dom = typed.split("@")
            typed = local[:-1] + "@" + dom if len(local) > 4 else "x" + typed
        store_named = ident["cust"] is None or rng.random() < 0.4
        phone_in_body = outcome == "bounce_ezweb" or rng.random() < 0.3
        if source == "form":
            mid, m, subject, body = form_mail(t0, ident, typed, topic, "", q, store)
        else:
            subject = rng.choice(
                [
                    "質問です",
                    "問い合わせ",
                    "教えてください",
                    "お伺いしたいことがあります",
                    f"{store}について",
                ]
            )
            body = (
                f"{greeting(ident, store_named)}\n"
                + ("" if ident["cust"] else f"{ident['sk']}と申します。\n")
                + f"\n{q}\n"
                + sign(ident, phone_in_body)
            )
            mid, m = customer_mail(t0, ident, subject, body)
        conversions.append(
            {
                "kind": "A",
                "outcome": outcome,
                "first_message_id": mid,
                "customer_id": ident["cust"]["id"] if ident["cust"] else None,
                "store": store,
                "source": source,
            }
        )
        if outcome == "unanswered":
            continue
        t1 = work_time(t0, 20, 240)
        if t1 > END_DT:
            continue
        agent = agent_at(t1)
        op, cl = STORE_BY_NAME[store][5], STORE_BY_NAME[store][6]
        name = f"{ident['sk']} {ident['gk']}"
        body_r = (
            f"{name} 様\n\n整体サロン 和楽 予約センターの{agent}でございます。\n"
            "お問い合わせいただき、ありがとうございます。\n\n"
            + a.format(store=store, open=op, close=cl)
            + "\n\n"
            "そのほかご不明な点がございましたら、お気軽にお問い合わせくださいませ。\n"
            "スタッフ一同、ご来店を心よりお待ちしております。\n"
        )
        subj_r = "Re: " + (subject if source == "direct" else "お問い合わせの件（整体サロン 和楽）")
        r_mid, r_msg, _ = team_reply(
            t1, typed, name, subj_r, body_r + quote(body, t0, typed), mid, [], agent
        )
        if outcome.startswith("bounce"):
            bounce_jobs.append(
                {
                    "kind": outcome,
                    "t": t1,
                    "to": typed,
                    "sent": r_msg,
                    "subject": subj_r,
                    "ident": ident,
                    "store": store,
                }
            )

    # ---- bounces -----------------------------------------------------------
    def gmail_dsn(job, status, diag, remote, headline, detail):
        t = job["t"] + timedelta(seconds=rng.randint(3, 90))
        mid = mailer.new_msgid(t, "gmail", "")
        mid = mid.replace("@mail.gmail.com", "@mx.google.com")
        b = boundary(mid, "gmail")
        root = MIMEMultipart("report", report_type="delivery-status", boundary=b)
        alt = MIMEMultipart("alternative", boundary=boundary(mid + "a", "gmail"))
        txt = (
            f"** {headline} **\n\n{job['to']} にメールを配信できませんでした。{detail}\n\n"
            "詳しくは https://support.google.com/mail/?p=NoSuchUser をご覧ください。\n\n"
            f"応答:\n\n{diag}\n"
        )
        alt.attach(text_part(txt, "plain", "utf-8", "qp"))
        alt.attach(text_part(html_doc(text_to_html(txt)), "html", "utf-8", "qp"))
        root.attach(alt)
        root.attach(
            delivery_status(
                [
                    ("Reporting-MTA", "dns; googlemail.com"),
                    ("Arrival-Date", format_datetime(job["t"])),
                ],
                [
                    ("Final-Recipient", f"rfc822; {job['to']}"),
                    ("Action", "failed"),
                    ("Status", status),
                    ("Remote-MTA", f"dns; {remote}" if remote else None),
                    ("Diagnostic-Code", f"smtp; {diag}"),
                    ("Last-Attempt-Date", format_datetime(t)),
                ],
            )
        )
        orig = email.message_from_bytes(job["sent"].as_bytes(policy=compat32))
        root.attach(MIMEMessage(orig))
        m = finalize(
            root,
            [
                ("Return-Path", "<>"),
                (
                    "Received",
                    mailer.received("mail-sor-f69.google.com", "209.85.220.69", t, INBOX_ADDR),
                ),
                ("Date", format_datetime(t)),
                ("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"),
                ("To", INBOX_ADDR),
                ("Subject", "Delivery Status Notification (Failure)"),
                ("Message-ID", mid),
                ("References", job["sent"]["Message-ID"]),
                ("In-Reply-To", job["sent"]["Message-ID"]),
                ("Auto-Submitted", "auto-replied"),
            ],
        )
        add_in(t, m)

    for job in bounce_jobs:
        k = job["kind"]
        to = job["to"]
        if k == "bounce_gmailcon":
            gmail_dsn(
                job,
                "5.1.2",
                "DNS Error: DNS type 'mx' lookup of gmail.con responded with code NXDOMAIN "
                "Domain name not found: gmail.con",
                None,
                "アドレスが見つかりませんでした",
                "gmail.con というドメインが見つかりませんでした。入力ミスや不要なスペースがないか確認してから、もう一度お試しください。",
            )
        elif k == "bounce_docomojo":
            gmail_dsn(
                job,
                "5.1.2",
                "DNS Error: DNS type 'mx' lookup of docomo.ne.jo responded with code NXDOMAIN "
                "Domain name not found: docomo.ne.jo",
                None,
                "アドレスが見つかりませんでした",
                "docomo.ne.jo というドメインが見つかりませんでした。入力ミスや不要なスペースがないか確認してから、もう一度お試しください。",
            )
        elif k == "bounce_aucom_dot":
            gmail_dsn(
                job,
                "5.1.3",
                f"The email address <{to}> is not a valid RFC 5321 address.",
                None,
                "アドレスが無効です",
                "アドレスの形式が正しくありません（@ の後にドットがあります）。",
            )
        elif k == "bounce_softbank":
            gmail_dsn(
                job,
                "5.1.1",
                f"550 5.1.1 <{to}>: Recipient address rejected: User unknown",
                "mx.softbank.ne.jp",
                "アドレスが見つかりませんでした",
                "アドレスが見つからないか、メールを受信できないアドレスです。",
            )
        elif k == "bounce_docomo_existing":
            gmail_dsn(
                job,
                "5.1.1",
                f"550 5.1.1 Unknown user {to}",
                "mfsmax.docomo.ne.jp",
                "アドレスが見つかりませんでした",
                "アドレスが見つからないか、メールを受信できないアドレスです。",
            )
        elif k == "bounce_ezweb":
            t = job["t"] + timedelta(minutes=rng.randint(1, 4), seconds=rng.randint(0, 59))
            mid = (
                f"<{t.strftime('%Y%m%d%H%M%S')}.F{rng.randint(1000000, 9999999)}@lsean.ezweb.ne.jp>"
            )
            orig = job["sent"]
            oh = "\n".join(
                f"{k2}: {v}"
                for k2, v in orig.items()
                if k2 in ("Date", "From", "To", "Subject", "Message-ID")
            )
            txt = (
                "This Message was undeliverable due to the following reason:\n\n"
                "Each of the following recipients was rejected by a remote mail server.\n"
                "The reasons given by the server are included to help you determine why\n"
                "each recipient was rejected.\n\n"
                f"    Recipient: <{to}>\n"
                "    Reason:    550 : User unknown\n\n"
                "Please reply to <Postmaster@ezweb.ne.jp>\n"
                "if you feel this message to be in error.\n\n"
                "--------------------------------------------------\n"
                f"{oh}\n"
            )
            m = mailer.build_mail(
                t=t,
                frm="Postmaster@ezweb.ne.jp",
                to=INBOX_ADDR,
                subject="Mail System Error - Returned Mail",
                cs="us-ascii",
                text=txt,
                msgid=mid,
                style="mime",
                inbound=("wmflb12na02.ezweb.ne.jp", "222.15.69.197"),
                return_path="",
                extra_headers=[("Auto-Submitted", "auto-replied")],
            )
            add_in(t, m)
        elif k == "bounce_qmail":
            t = job["t"] + timedelta(seconds=rng.randint(20, 200))
            dom = to.split("@")[1]
            mid = f"<{int(t.timestamp())}.{rng.randint(10000, 99999)}.qmail@mx1.{dom}>"
            raw = job["sent"].as_bytes(policy=compat32).decode("ascii")
            txt = (
                f"Hi. This is the qmail-send program at mx1.{dom}.\n"
                "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
                "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
                f"<{to}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
                "--- Below this line is a copy of the message.\n\n" + raw
            )
            m = mailer.build_mail(
                t=t,
                frm=f"MAILER-DAEMON@mx1.{dom}",
                to=INBOX_ADDR,
                subject="failure notice",
                cs="us-ascii",
                text=txt,
                msgid=mid,
                style="mime",
                inbound=(f"mx1.{dom}", "198.51.100.25"),
                return_path="",
            )
            add_in(t, m)

    # ---- booking confirmation not received ----------------------------------
    cands = [
        r
        for r in reservations
        if r["channel"] == "STORES"
        and r["customer_id"]
        and r["status"] == "予約確定"
        and at(START, 12, 0) < r["created_at"] < at(ANCHOR - timedelta(days=1), 12, 0)
        and r["customer_id"] not in used_for_threads
        and r["email"]
    ]
    for i, r in enumerate(rng.sample(cands, 4)):
        c = cust_by_id[r["customer_id"]]
        used_for_threads.add(c["id"])
        sk, gk = c["name"].replace("\u3000", " ").split(" ")
        sr, gr = c["extra"]["_rom"]
        ident = {
            "cust": c,
            "sk": sk,
            "gk": gk,
            "sr": sr,
            "gr": gr,
            "email": c["emails"][0],
            "phone": c["phones"][0],
            "store": c["store"],
            "kana": c["name_kana"],
        }
        if i < 2:
            # typo in the address given to the booking service
            local, dom = r["email"].split("@")
            bad = {
                "gmail.com": "gmail.con",
                "docomo.ne.jp": "docomo.ne.jo",
                "ezweb.ne.jp": "ezweb.ne.jo",
                "yahoo.co.jp": "yahoo.co.jo",
                "icloud.com": "icloud.con",
            }.get(dom)
            r["email"] = f"{local}@{bad}" if bad else f"{local[:-1]}@{dom}"
            frm = ident["email"]
            why = ""
        else:
            # carrier mail rejects mail from the booking service
            cm = new_email(
                sr, gr, rng.choice(["docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp"])
            )
            r["email"] = cm
            c["emails"].insert(0, cm) if cm not in c["emails"] else None
            frm = new_email(sr, gr, rng.choice(["gmail.com", "example.jp", "icloud.com"]))
            why = "携帯のアドレスで登録したのですが、迷惑メール設定のせいかもしれません。\nこちらのアドレスに返信いただけると助かります。\n"
        t0 = max(r["created_at"] + timedelta(hours=rng.randint(2, 30)), at(START, 9, 0))
        t0 = min(
            t0.replace(minute=rng.randint(0, 59), second=rng.randint(0, 59)), at(ANCHOR, 21, 0)
        )
        if t0.hour < 7:
            t0 = t0.replace(hour=rng.randint(7, 11))
        s = r["starts_at"]
        body = (
            "お世話になっております。\n"
            f"{s.month}月{s.day}日{hm(s)}から{r['store']}で予約した{sk}です。\n"
            "ネットで予約したのですが、予約確認のメールが届いていません。\n"
            "予約はちゃんと取れていますでしょうか。\n" + why + sign(ident, rng.random() < 0.5)
        )
        customer_mail(
            t0,
            ident,
            rng.choice(
                [
                    "予約確認メールが届きません",
                    "予約できているか確認したいです",
                    "確認メールについて",
                ]
            ),
            body,
            from_addr=frm,
        )
        conversions.append(
            {
                "kind": "confirmation_not_received",
                "reservation_id": None,
                "customer_id": c["id"],
                "_res": r,
            }
        )

    # ---- product orders from returning customers ------------------------------
    for _ in range(5):
        d = DAYS[rng.randint(0, 8)]
        ident = customer_identity(None, True, pred=lambda c: c["extra"]["visits"] >= 5)
        t0 = customer_time(d, 8, 22)
        n1, n2 = rng.randint(0, 3), rng.randint(0, 2)
        if n1 == 0 and n2 == 0:
            n1 = 1
        items = []
        if n1:
            items.append(f"{RETAIL[0][0]}を{n1}本")
        if n2:
            items.append(f"{RETAIL[1][0]}を{n2}個")
        how = rng.choice(
            [
                f"次回来店時に{ident['store']}で受け取りたいです。",
                "自宅に送っていただくことはできますか。送料もお知らせください。",
                f"{ident['store']}に取りに行きます。",
            ]
        )
        body = (
            f"いつもお世話になっております。{ident['sk']}です。\n\n"
            f"以前購入した商品がよかったので、{'と'.join(items)}購入したいです。\n{how}\n"
            "お支払い方法も教えてください。\n" + sign(ident, rng.random() < 0.6)
        )
        subj = rng.choice(
            ["商品の購入について", "オイルの注文", "商品注文のお願い", "追加購入したいです"]
        )
        mid, m = customer_mail(t0, ident, subj, body)
        if rng.random() < 0.6:
            t1 = work_time(t0, 20, 180)
            if t1 <= END_DT:
                agent = agent_at(t1)
                name = f"{ident['sk']} {ident['gk']}"
                team_reply(
                    t1,
                    ident["email"],
                    name,
                    "Re: " + subj,
                    f"{name} 様\n\nいつもご利用いただき、誠にありがとうございます。\n"
                    f"予約センターの{agent}でございます。\n\nご注文の件、物販担当に申し伝えました。\n"
                    "お受け取り方法とお支払いについては、担当より改めてご連絡いたします。\n"
                    "今しばらくお待ちくださいませ。\n" + quote(body, t0, ident["email"]),
                    mid,
                    [],
                    agent,
                )

    # ---- 確認: complaints, refunds, press ---------------------------------------
    ident = customer_identity(None, True)
    t0 = customer_time(date(2026, 1, 9), 9, 21)
    customer_mail(
        t0,
        ident,
        "施術後の痛みについて",
        f"{ident['store']}で1月7日に施術を受けた{ident['sk']}です。\n"
        "施術後から首の右側に痛みが出て、2日たっても引きません。\n"
        "強く押されたところが痛むのですが、どうしたらよいでしょうか。\n"
        "正直、少し不安です。返金も含めてご対応いただけますか。\n" + sign(ident, True),
    )
    ident = customer_identity(None, True)
    t0 = customer_time(date(2026, 1, 13), 9, 21)
    customer_mail(
        t0,
        ident,
        "回数券の返金について",
        "お世話になっております。\n転勤で引っ越すことになり、通えなくなりました。\n"
        "回数券が4回分残っているのですが、返金は可能でしょうか。\n" + sign(ident, True),
    )
    ident = customer_identity(None, False)
    t0 = customer_time(date(2026, 1, 12), 10, 20)
    customer_mail(
        t0,
        ident,
        "スタッフの対応について（苦情）",
        f"先日{ident['store']}を初めて利用しました。\n受付の方の説明が不十分で、初回限定コースのはずが通常料金を請求されました。\n"
        "レシートの写真を添付します。確認をお願いします。\n" + sign(ident, True),
        attachments=[attach(png_bytes(12, 16, (240, 240, 235)), "image", "png", "IMG_4471.png")],
    )
    t0 = at(date(2026, 1, 8), 15, 12, 40)
    mid = mailer.new_msgid(t0, "plain", "lifestyle-press.example")
    add_in(
        t0,
        mailer.build_mail(
            t=t0,
            frm=addr(
                "株式会社ライフスタイルプレス 編集部 岡村",
                "okamura@lifestyle-press.example",
                "iso-2022-jp",
            ),
            to=INBOX_ADDR,
            subject="【取材のお願い】2月号「駅チカ整体特集」掲載について",
            cs="iso-2022-jp",
            text="整体サロン 和楽 ご担当者様\n\n突然のご連絡失礼いたします。\n株式会社ライフスタイルプレス 編集部の岡村と申します。\n\n"
            "弊社発行のフリーマガジン2月号にて「駅チカ整体特集」を企画しており、\n"
            "貴サロン新宿店を掲載させていただきたくご連絡いたしました。掲載料は無料です。\n\n"
            "ご検討のほど、よろしくお願い申し上げます。\n\n--\n株式会社ライフスタイルプレス 編集部\n岡村 聡\nTEL 03-5211-7730\n",
            msgid=mid,
            style="outlook",
            inbound=("mail.lifestyle-press.example", "203.0.113.71"),
            return_path="okamura@lifestyle-press.example",
            x_mailer="Microsoft Outlook 16.0",
        ),
    )

    # ---- vendors (業者) ----------------------------------------------------------
    # fmt: off
    VENDORS = [
        ("linen-supply.example", "株式会社ホワイトリネン 営業部", "eigyo", "【ホワイトリネン】1月分 納品書送付のご案内",
         "整体サロン 和楽 ご担当者様\n\nいつも大変お世話になっております。\n株式会社ホワイトリネンでございます。\n\n"
         "1月前半分のタオル・シーツ類の納品書をお送りいたします。\n添付ファイルをご確認くださいませ。\n\n"
         "今後ともよろしくお願い申し上げます。\n", "pdf", "nouhinsho_202601.pdf", 7, (10, 30)),
        ("aroma-trading.example", "アロマトレーディング株式会社", "order", "価格改定のお知らせ（2026年3月出荷分より）",
         "お取引先各位\n\n平素は格別のお引き立てを賜り厚く御礼申し上げます。\n\n"
         "原材料価格の高騰により、2026年3月出荷分より一部商品の価格を改定させていただくこととなりました。\n"
         "詳細は添付の価格表をご確認ください。\n\n何卒ご理解賜りますようお願い申し上げます。\n", "pdf", "kakaku_kaitei_2026.pdf", 9, (11, 0)),
        ("peak-manager.example", "Peak Manager サポート", "support", "【Peak Manager】定期メンテナンスのお知らせ（1/21 深夜）",
         None, "html", None, 8, (14, 5)),
        ("adagency.example", "株式会社アドブリッジ 佐野", "sano", "12月度 Web広告レポートのご送付",
         "整体サロン 和楽\n予約センター ご担当者様\n\nいつもお世話になっております。アドブリッジの佐野です。\n\n"
         "12月度のWeb広告レポートをお送りいたします。\n"
         "あわせて、12月分の「予約に至らなかったメール」の件数をご共有いただけますと幸いです。\n"
         "今後の広告運用の分析に活用させていただきます。\n\n引き続きよろしくお願いいたします。\n", "xlsx", "waraku_report_202512.xlsx", 6, (16, 40)),
        ("adagency.example", "株式会社アドブリッジ 佐野", "sano", "Re: 1月の問い合わせ集計について",
         "和楽 予約センター ご担当者様\n\nお世話になっております。佐野です。\n\n"
         "1月分の集計も、前月と同じ形式（日付ごとの予約に至らなかったメール件数）でお願いできますでしょうか。\n"
         "締めは2月3日でお願いいたします。\n", None, None, 13, (10, 20)),
        ("cleanpro.example", "クリーンプロ株式会社", "info", "定期清掃の日程について（新宿店・渋谷店）",
         "整体サロン 和楽 ご担当者様\n\nいつもお世話になっております。クリーンプロの河合です。\n\n"
         "1月の定期清掃ですが、新宿店は1月20日（火）8:00〜9:30、\n渋谷店は1月21日（水）8:00〜9:30で予定しております。\n"
         "ご都合が悪い場合はご連絡ください。\n", None, None, 9, (17, 10)),
        (BOOKING_DOMAIN, "STORES 予約", "billing", "【STORES 予約】12月分ご利用料金のお知らせ", None, "html", None, 7, (9, 0)),
        ("paysquare.example", "PaySquare 加盟店サポート", "info", "【PaySquare】決済手数料入金のお知らせ", None, "html", None, 12, (6, 0)),
        ("uniform-kobo.example", "ユニフォーム工房 法人営業", "sales", "ご注文品（施術着）出荷のご連絡",
         "整体サロン 和楽 様\n\nご注文いただいておりました施術着（Mサイズ10着、Lサイズ6着）を本日出荷いたしました。\n"
         "お届け予定：1月15日（木）午前中\n送り状番号：4417-2209-6638\n", None, None, 13, (15, 45)),
    ]
    # fmt: on
    for dom, name, local, subj, text, att, fname, dday, (hh, mm) in VENDORS:
        t = at(date(2026, 1, dday), hh, mm, rng.randint(0, 59))
        frm_a = f"{local}@{dom}"
        style = rng.choice(["outlook", "mime"])
        mid = mailer.new_msgid(t, "plain", dom)
        attachments = []
        if att == "pdf":
            attachments = [attach(pdf_bytes(fname), "application", "pdf", fname)]
        elif att == "xlsx":
            attachments = [
                attach(
                    fake_xlsx(fname),
                    "application",
                    "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    fname,
                )
            ]
        if att == "html":
            if "Peak" in name:
                body_html = (
                    '<h2 style="color:#2a6">定期メンテナンスのお知らせ</h2>\n'
                    "<p>Peak Manager をご利用いただきありがとうございます。</p>\n"
                    "<p>下記日程でシステムメンテナンスを実施いたします。メンテナンス中は顧客情報の閲覧・登録ができません。</p>\n"
                    '<table border="1" cellpadding="6"><tr><th>日時</th><td>2026年1月21日(水) 2:00〜5:00</td></tr>'
                    "<tr><th>対象</th><td>全機能</td></tr></table>\n<p>Peak Manager サポートセンター</p>"
                )
            elif dom == BOOKING_DOMAIN:
                body_html = (
                    "<p>整体サロン 和楽 様</p>\n<p>いつも STORES 予約 をご利用いただきありがとうございます。</p>\n"
                    "<p>2025年12月分のご利用料金が確定しました。</p>\n"
                    '<table border="1" cellpadding="6"><tr><th>プラン</th><td>ビジネスプラン（9店舗）</td></tr>'
                    "<tr><th>ご請求金額</th><td>89,100円（税込）</td></tr><tr><th>お支払い日</th><td>2026年1月27日</td></tr></table>\n"
                    f'<p><a href="https://manage.{BOOKING_DOMAIN}/billing">請求書をダウンロード</a></p>'
                )
            else:
                body_html = (
                    "<p>加盟店様各位</p>\n<p>下記のとおり決済代金（手数料差引後）を入金いたしました。</p>\n"
                    '<table border="1" cellpadding="6"><tr><th>入金日</th><td>2026年1月13日</td></tr>'
                    "<tr><th>入金額</th><td>1,284,316円</td></tr></table>\n<p>PaySquare 加盟店サポート</p>"
                )
            m = mailer.build_mail(
                t=t,
                frm=addr(name, frm_a),
                to=INBOX_ADDR,
                subject=subj,
                cs="utf-8",
                cte="qp",
                html=html_doc(body_html),
                msgid=mid,
                style=style,
                inbound=(f"mail.{dom}", f"198.51.100.{rng.randint(2, 250)}"),
                return_path=f"bounce@{dom}",
            )
        else:
            m = mailer.build_mail(
                t=t,
                frm=addr(name, frm_a, "iso-2022-jp"),
                to=INBOX_ADDR,
                subject=subj,
                cs="iso-2022-jp",
                text=text,
                attachments=attachments,
                msgid=mid,
                style=style,
                inbound=(f"mail.{dom}", f"198.51.100.{rng.randint(2, 250)}"),
                return_path=frm_a,
                x_mailer="Microsoft Outlook 16.0" if style == "outlook" else None,
            )
        add_in(t, m)

    # ---- solicitation spam ---------------------------------------------------------
    # fmt: off
    SPAM = [
        ("meo-boost.example", "【無料診断】Googleマップ集客で新規予約を2倍に！", "MEO対策の無料診断を実施中です。", "utf-8", True, 6),
        ("hp-seisaku.example", "ホームページリニューアルのご提案（整体院様向け）", "月額9,800円から制作できます。", "iso-2022-jp", False, 7),
        ("jinzai-link.example", "【セラピスト採用】成功報酬型の人材紹介のご案内", "採用が決まるまで費用は一切かかりません。", "iso-2022-jp", False, 8),
        ("biyou-lease.example", "最新EMS美容機器 月々3,000円〜導入キャンペーン", "今なら導入費0円。", "utf-8", True, 9),
        ("seo-top.example", "【至急】貴院のSEO順位が下がっています", "今すぐ対策しないと集客に大きな影響が出ます。", "utf-8", True, 10),
        ("hojokin-navi.example", "小規模事業者持続化補助金 活用セミナーのご案内", "最大200万円の補助金を活用しませんか。", "iso-2022-jp", False, 12),
        ("review-up.example", "口コミ★5を増やす方法、教えます", "口コミ投稿代行で評価アップ。", "utf-8", True, 13),
        ("coupon-mall.example", "【掲載無料】クーポンサイト掲載のご案内", "初期費用・掲載料0円。成果報酬のみ。", "utf-8", True, 14),
    ]
    # fmt: on
    for dom, subj, lead, cs, html_only, dday in SPAM:
        t = at(date(2026, 1, dday), rng.randint(6, 20), rng.randint(0, 59), rng.randint(0, 59))
        mid = mailer.new_msgid(t, "plain", dom)
        text = (
            f"整体サロン 和楽 ご担当者様\n\n突然のご連絡失礼いたします。\n{lead}\n\n"
            "詳しくは下記URLからご覧ください。\n"
            f"https://www.{dom}/lp/?utm_source=mail&id={rng.randint(10000, 99999)}\n\n"
            "※今後ご案内が不要な場合は、お手数ですが本メールにその旨ご返信ください。\n"
        )
        if html_only:
            h = html_doc(
                f'<div style="max-width:600px"><h1 style="color:#d33">{subj}</h1>'
                f'<p>{lead}</p><p><a href="https://www.{dom}/lp/">▶ 今すぐ詳細を見る</a></p>'
                f'<p style="font-size:11px;color:#999">配信停止は<a href="https://www.{dom}/stop">こちら</a></p></div>'
            )
            m = mailer.build_mail(
                t=t,
                frm=addr(
                    rng.choice(["集客サポート事務局", "営業部", "キャンペーン事務局"]),
                    f"info@{dom}",
                ),
                to=INBOX_ADDR,
                subject=subj,
                cs="utf-8",
                cte="base64",
                html=h,
                msgid=mid,
                style="mime",
                inbound=(f"smtp.{dom}", f"192.0.2.{rng.randint(2, 250)}"),
                return_path=f"return-{rng.randint(100, 999)}@{dom}",
            )
        else:
            m = mailer.build_mail(
                t=t,
                frm=addr("営業部", f"sales@{dom}", cs),
                to=INBOX_ADDR,
                subject=subj,
                cs=cs,
                text=text,
                msgid=mid,
                style="mime",
                inbound=(f"smtp.{dom}", f"192.0.2.{rng.randint(2, 250)}"),
                return_path=f"sales@{dom}",
            )
        add_in(t, m)

    # ---- assign reservation ids, then STORES mails ------------------------------
    reservations.sort(key=lambda r: (r["created_at"], r["store"], r["customer_name"]))
    per_day: dict[str, int] = {}
    for r in reservations:
        key = r["created_at"].strftime("%y%m%d")
        per_day[key] = per_day.get(key, 0) + rng.randint(1, 5)
        r["id"] = f"R{key}-{per_day[key]:04d}"

    batch_counter: dict[date, int] = {}
    for r in reservations:
        if r["channel"] != "STORES":
            continue
        c = r["created_at"]
        if at(START, 0, 0) <= c <= END_DT:
            # overnight bookings on weekdays are reflected in the 08:30 morning batch
            t = c + timedelta(seconds=rng.randint(2, 40))
            md = c.date() if c.hour < 9 else c.date() + timedelta(days=1)
            overnight = c.hour >= 22 or c.hour < 8 or (c.hour == 8 and c.minute < 30)
            if overnight and is_weekday(md) and md <= ANCHOR:
                n = batch_counter.get(md, 0)
                batch_counter[md] = n + 1
                t = at(md, 8, 30, min(59, 2 + n * rng.randint(3, 6)))
            elif overnight and not is_weekday(md):
                pass
            if t <= END_DT:
                r["extra"]["booking_mail_id"] = booking_mail(
                    r, "new", t, "予約が入りました", html_only_p=0.3
                )
        if r["status"] == "キャンセル" and "cancelled_at" in r["extra"]:
            t = datetime.fromisoformat(r["extra"]["cancelled_at"]) + timedelta(
                seconds=rng.randint(2, 30)
            )
            if at(START, 0, 0) <= t <= END_DT:
                booking_mail(r, "cancel", t, "予約がキャンセルされました")
        if "changed_at" in r["extra"]:
            t = datetime.fromisoformat(r["extra"]["changed_at"])
            if at(START, 0, 0) <= t <= END_DT:
                booking_mail(r, "change", t, "予約が変更されました", cte="qp", when=False)

    # ---- write mail -------------------------------------------------------------
    write_maildir(OUT / "mail" / MAILBOX, inbox, sent)

    # ---- records -------------------------------------------------------------------
    for c in customers:
        c["extra"].pop("_rom", None)
    write_jsonl(OUT / "customers.jsonl", customers)
    write_jsonl(OUT / "staff.jsonl", staff)
    write_jsonl(OUT / "rooms.jsonl", rooms)
    res_rows = []
    for r in sorted(reservations, key=lambda r: r["id"]):
        row = dict(r)
        for k in ("starts_at", "ends_at", "created_at", "updated_at"):
            row[k] = iso(row[k])
        res_rows.append(row)
    write_jsonl(OUT / "reservations.jsonl", res_rows)

    stores_json = [
        {
            "code": code,
            "region": region,
            "name": name,
            "label": f"{region}/{name}",
            "address": address,
            "phone": phone,
            "open": op,
            "close": cl,
            "rooms": [r[0] for r in rooms_],
        }
        for code, region, name, address, phone, op, cl, rooms_, _w in STORES
    ]
    write_json(OUT / "stores.json", stores_json)
    menus_json = [
        {"name": m[0], "minutes": m[1], "price": m[2], "room_kinds": m[3], "skill": m[4]}
        for m in MENUS
    ]
    menus_json += [{"name": n, "price": p, "retail": True} for n, p in RETAIL]
    write_json(OUT / "services.json", menus_json)

    (OUT / "manifest.toml").write_text(
        'anchor = "2026-01-14"\ntimezone = "Asia/Tokyo"\n'
        'description = "整体サロン 和楽: shared reservation inbox reservation1, Peak Manager customers, '
        'stores/staff/rooms and reservations of 9 salons"\n',
        encoding="utf-8",
    )

    n_stores_mail = sum(1 for _t, m in inbox if BOOKING_FROM in m["From"])
    batch = sum(1 for t, m in inbox if BOOKING_FROM in m["From"] and t.hour == 8 and t.minute == 30)
    print(
        f"{PROFILE}: customers={len(customers)} staff={len(staff)} rooms={len(rooms)} "
        f"reservations={len(reservations)} inbox={len(inbox)} (STORES {n_stores_mail}, morning batch {batch}) "
        f"sent={len(sent)}"
    )


# ================================================================ profile toml
def tq(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def tl(items) -> str:
    return "[" + ", ".join(tq(x) if isinstance(x, str) else str(x) for x in items) + "]"


if __name__ == "__main__":
    main()
