#!/usr/bin/env python3
"""Deterministic generator of the ``stores-zh`` demo fixtures (stdlib only).

Reservation management of a (made-up) Chinese chain of wellness stores,
悦禾养生 (massage, foot care, moxibustion, SPA, facial care): stores, services
with durations and required resources, staff with skills, rooms/stations,
members, reservations from all channels (website, app, third-party platforms,
phone, walk-in) with their statuses, late cancellations, satisfaction scores,
invalid online requests, complaints, and the customer-service mailbox in
GB18030/GBK and UTF-8.

    python tools/fixtures_stores_zh.py     # rewrites fixtures/stores-zh/ (the profile file is kept by hand)
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
    write_json,
    write_jsonl,
    write_maildir,
)

PROFILE = "stores-zh"
OUT = ROOT / "fixtures" / PROFILE

TZ = timezone(timedelta(hours=8))
END_DT = end_of_anchor(TZ)
NOW = datetime(2026, 1, 14, 17, 0, 0, tzinfo=TZ)  # "now" for statuses of today's appointments
WD = "一二三四五六日"

DOMAIN = "yuehe-spa.example"
INBOX_ADDR = f"kefu@{DOMAIN}"
INBOX_NAME = "悦禾养生 客服中心"
MAILBOX = "kefu"
HOTLINE = "400-820-3617"
MX_HOST = "mx.yuehe-spa.example"  # the receiving server named in Received headers

rng = random.Random(2026011486)
mailer = Mailer(rng, MX_HOST, INBOX_ADDR)


# ===================================================================== helpers
def at(d: date, h: int, m: int, s: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=TZ)


def wchoice(pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs], k=1)[0]


def zh_date(d: date) -> str:
    return f"{d.month}月{d.day}日（周{WD[d.weekday()]}）"


def jp_date_long(d: date) -> str:  # used by quote(); Chinese long date
    return f"{d.year}年{d.month}月{d.day}日(星期{WD[d.weekday()]})"


def hm(t: datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def quote(text: str, t: datetime, who: str) -> str:
    q = "\n".join(("> " + ln) if ln else ">" for ln in text.rstrip("\n").split("\n"))
    return f"\n{jp_date_long(t.date())} {hm(t)} {who}:\n{q}\n"


# ======================================================================= data
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
# fmt: off
GIVEN_F = ["芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂英", "晓燕", "欣怡", "子涵", "雨桐", "梓萱",
           "一诺", "佳怡", "婷婷", "晨曦", "雅琪", "嘉怡", "诗涵", "梦瑶", "丽娟", "海燕", "春梅", "玉兰", "淑珍",
           "思琪", "美玲", "慧敏", "小红"]
GIVEN_M = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "平", "刚", "建华", "浩然", "思远", "俊杰",
           "文博", "宇轩", "皓轩", "志强", "国庆", "建国", "晓东", "海波", "子豪"]
PINYIN = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang",
          "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma", "朱": "zhu", "胡": "hu",
          "郭": "guo", "何": "he", "高": "gao", "林": "lin", "罗": "luo", "郑": "zheng", "梁": "liang", "谢": "xie",
          "宋": "song", "唐": "tang", "许": "xu", "韩": "han", "冯": "feng", "邓": "deng", "曹": "cao", "彭": "peng",
          "曾": "zeng", "萧": "xiao", "田": "tian", "董": "dong", "袁": "yuan", "潘": "pan", "于": "yu", "蒋": "jiang",
          "蔡": "cai", "余": "yu", "杜": "du", "叶": "ye", "程": "cheng", "苏": "su", "魏": "wei", "吕": "lv",
          "丁": "ding", "任": "ren", "沈": "shen"}
# fmt: on

# code, name, city, address, phone, open, close, rooms [(name, kind, capacity)]
# fmt: off
STORES = [
    ("SH01", "上海静安店", "上海市", "上海市静安区南京西路悦荟广场3层301室", "021-6288-3617", "10:00", "22:00",
     [("推拿床1", "推拿床", 1), ("推拿床2", "推拿床", 1), ("推拿床3", "推拿床", 1), ("推拿床4", "推拿床", 1),
      ("足疗区A1", "足疗沙发", 1), ("足疗区A2", "足疗沙发", 1), ("足疗区A3", "足疗沙发", 1), ("艾灸房", "艾灸房", 1),
      ("SPA房", "SPA房", 1), ("双人SPA房", "双人SPA房", 2), ("美容床1", "美容床", 1), ("美容床2", "美容床", 1)]),
    ("SH02", "上海徐汇店", "上海市", "上海市徐汇区漕溪北路汇智大厦2层", "021-6468-2290", "10:00", "22:00",
     [("推拿床1", "推拿床", 1), ("推拿床2", "推拿床", 1), ("推拿床3", "推拿床", 1), ("足疗区A1", "足疗沙发", 1),
      ("足疗区A2", "足疗沙发", 1), ("艾灸房", "艾灸房", 1), ("美容床1", "美容床", 1)]),
    ("SH03", "上海陆家嘴店", "上海市", "上海市浦东新区世纪大道星辰中心B1层", "021-5081-7745", "10:00", "22:00",
     [("推拿床1", "推拿床", 1), ("推拿床2", "推拿床", 1), ("推拿床3", "推拿床", 1), ("足疗区A1", "足疗沙发", 1),
      ("足疗区A2", "足疗沙发", 1), ("足疗区A3", "足疗沙发", 1), ("SPA房", "SPA房", 1), ("双人SPA房", "双人SPA房", 2)]),
    ("HZ01", "杭州西湖店", "杭州市", "杭州市西湖区文三路文创园2号楼2层", "0571-8821-5536", "10:00", "21:30",
     [("推拿床1", "推拿床", 1), ("推拿床2", "推拿床", 1), ("足疗区A1", "足疗沙发", 1), ("足疗区A2", "足疗沙发", 1),
      ("艾灸房", "艾灸房", 1), ("双人SPA房", "双人SPA房", 2)]),
    ("SZ01", "苏州园区店", "苏州市", "苏州工业园区星海街湖畔天地3层", "0512-6298-4471", "10:00", "21:30",
     [("推拿床1", "推拿床", 1), ("推拿床2", "推拿床", 1), ("推拿床3", "推拿床", 1), ("足疗区A1", "足疗沙发", 1),
      ("足疗区A2", "足疗沙发", 1), ("美容床1", "美容床", 1)]),
]
# fmt: on
STORE = {s[1]: s for s in STORES}
STORE_W = [30, 18, 20, 17, 15]

# code, name, minutes, price, skill, room kinds, staff needed, preparation note
# fmt: off
SERVICES = [
    ("TN60", "中式推拿 60分钟", 60, 198, "推拿", ["推拿床"], 1, "请穿着宽松衣物，饭后1小时内不宜推拿。"),
    ("JJ45", "肩颈理疗 45分钟", 45, 168, "推拿", ["推拿床"], 1, ""),
    ("ZL60", "足疗 60分钟", 60, 158, "足疗", ["足疗沙发"], 1, ""),
    ("AJ60", "艾灸调理 60分钟", 60, 238, "艾灸", ["艾灸房"], 1, "艾灸前请勿空腹；孕期、经期请提前告知。"),
    ("BG40", "拔罐刮痧 40分钟", 40, 128, "推拿", ["推拿床"], 1, "皮肤破损处不宜拔罐刮痧。"),
    ("SPA90", "精油SPA 90分钟", 90, 398, "SPA", ["SPA房", "双人SPA房"], 1, "孕妇不适用；如对精油过敏请提前告知。"),
    ("MR75", "面部护理 75分钟", 75, 328, "美容", ["美容床"], 1, "请提前15分钟到店卸妆。"),
    ("XE30", "小儿推拿 30分钟", 30, 128, "小儿推拿", ["推拿床"], 1, "需家长全程陪同，适用于3–12岁儿童。"),
    ("SR90", "双人SPA 90分钟", 90, 758, "SPA", ["双人SPA房"], 2, "两位技师同时服务，请两位顾客同时到店。"),
]
# fmt: on
SERVICE = {s[1]: s for s in SERVICES}
SERVICE_W = [26, 16, 20, 8, 6, 8, 7, 4, 3]
PLATFORMS = ["好店团购", "享点评", "本地生活App"]
CHANNELS = [("官网", 15), ("App", 25), ("第三方平台", 22), ("电话", 20), ("到店", 18)]

CAPACITY_NOTE = "资源检查：技师技能与排班、房间/工位类型与空闲时段"

# ===================================================================== people
used_phones: set[str] = set()
used_emails: set[str] = set()


def mobile() -> str:
    while True:
        p = f"13{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"
        if p not in used_phones:
            used_phones.add(p)
            return p


def cn_name(female_share: float = 0.68) -> tuple[str, str, bool]:
    s = rng.choice(SURNAMES)
    female = rng.random() < female_share
    g = rng.choice(GIVEN_F if female else GIVEN_M)
    return s + g, s, female


def email_for(surname: str, phone: str) -> str:
    py = PINYIN.get(surname, "user")
    while True:
        local = rng.choice(
            [
                f"{py}{phone[-4:]}",
                f"{py}_{rng.randint(80, 99)}{rng.randint(10, 99)}",
                f"{phone}",
                f"{py}.{rng.choice(['lily', 'amy', 'jack', 'leo', 'coco', 'sunny', 'echo'])}",
            ]
        )
        e = f"{local}@{rng.choice(['example.cn', 'example.cn', 'example.com', 'mail.example.cn'])}"
        if e not in used_emails:
            used_emails.add(e)
            return e


# fmt: off
CUSTOMER_NOTES = ["", "", "", "", "腰椎间盘突出，力度要轻", "对薰衣草精油过敏", "偏好女技师", "颈椎不适，常做肩颈理疗",
                  "孕期（预产期2026年5月），不做精油SPA", "喜欢安静，服务中少交谈", "有高血压，艾灸时间不宜过长",
                  "常带孩子做小儿推拿"]
# fmt: on


def make_customers(n: int = 262) -> list[dict]:
    rows = []
    no = 1002000
    for _ in range(n):
        no += rng.randint(5, 70)
        name, sn, female = cn_name()
        store = rng.choices([s[1] for s in STORES], weights=STORE_W, k=1)[0]
        phone = mobile()
        emails = [email_for(sn, phone)] if rng.random() < 0.38 else []
        created = datetime(2021, 3, 1, 12, 0, tzinfo=TZ) + timedelta(
            minutes=rng.randint(0, 60 * 24 * 1760)
        )
        created = min(created, at(START - timedelta(days=5), 19, 0)).replace(second=0)
        if created.hour < 10 or created.hour > 21:
            created = created.replace(hour=rng.randint(10, 21))
        # last visit: a few members have been inactive for more than the retention period
        if rng.random() < 0.07:
            last = created.date() + timedelta(days=rng.randint(0, 60))
            last = min(last, ANCHOR - timedelta(days=400 + rng.randint(0, 300)))
            if last < created.date():
                created = at(last - timedelta(days=rng.randint(0, 30)), 14, 0)
        else:
            last = ANCHOR - timedelta(days=rng.randint(9, 200))
            if last < created.date():
                last = created.date() + timedelta(days=rng.randint(0, 8))
        visits = rng.randint(1, 40)
        rows.append(
            {
                "id": f"HY{no}",
                "name": name,
                "name_kana": None,
                "company": None,
                "region": STORE[store][2],
                "store": store,
                "language": "zh",
                "notes": rng.choice(CUSTOMER_NOTES),
                "other": "",
                "created_at": iso(created),
                "updated_at": iso(max(created, at(last, rng.randint(11, 21), rng.randint(0, 59)))),
                "phones": [phone],
                "emails": emails,
                "extra": {
                    "member_level": "金卡会员"
                    if visits > 25
                    else ("银卡会员" if visits > 10 else "普通会员"),
                    "gender": "女" if female else "男",
                    "visits": visits,
                    "last_visit": last.isoformat(),
                    "source": wchoice(
                        [
                            ("App", 30),
                            ("官网", 15),
                            ("第三方平台", 25),
                            ("到店", 20),
                            ("朋友推荐", 10),
                        ]
                    ),
                    "consent": {
                        "sms_reminder": rng.random() < 0.92,
                        "push": rng.random() < 0.6,
                        "email": bool(emails) and rng.random() < 0.8,
                        "marketing": rng.random() < 0.35,
                        "share_with_third_party": rng.random() < 0.1,
                    },
                },
            }
        )
    return rows


def make_staff():
    rows, by_store = [], {}
    used = set()
    emp = 2300
    for code, sname, *_r, rooms in STORES:
        kinds = {r[1] for r in rooms}
        by_store[sname] = []
        plan = [
            ("店长", ["推拿", "艾灸"]),
            ("高级技师", ["推拿", "足疗", "艾灸"]),
            ("技师", ["推拿", "足疗"]),
            ("技师", ["足疗", "推拿"]),
            ("技师", ["SPA", "推拿"]),
            ("美容师", ["美容", "SPA"]),
            ("技师", ["小儿推拿", "推拿"]),
            ("前台", []),
        ]
        if code in ("HZ01", "SZ01"):
            plan = plan[:5] + plan[6:]
        for j, (role, skills) in enumerate(plan, 1):
            if "美容" in skills and "美容床" not in kinds:
                skills = ["推拿", "足疗"]
            if "SPA" in skills and not ({"SPA房", "双人SPA房"} & kinds):
                skills = [s for s in skills if s != "SPA"] + ["足疗"]
            while True:
                name, _sn, _f = cn_name(0.6 if role != "美容师" else 1.0)
                if name not in used:
                    used.add(name)
                    break
            emp += rng.randint(1, 9)
            late = rng.random() < 0.45
            row = {
                "id": f"{code}-{'QT' if role == '前台' else 'JS'}{j:02d}",
                "name": name,
                "store": sname,
                "role": role,
                "services": [s[1] for s in SERVICES if s[4] in skills] if skills else [],
                "extra": {
                    "employee_no": f"YH{emp}",
                    "skills": skills,
                    "shift": {"start": "13:00", "end": "22:00"}
                    if late
                    else {"start": "10:00", "end": "19:00"},
                    "days_off": sorted(rng.sample(range(7), 1 if role == "店长" else 2)),
                    "access_role": "店长"
                    if role == "店长"
                    else ("前台客服" if role == "前台" else "技师"),
                },
            }
            rows.append(row)
            by_store[sname].append(row)
    return rows, by_store


def make_rooms():
    rows, by_store = [], {}
    for code, sname, *_r, rooms in STORES:
        by_store[sname] = []
        for j, (rn, kind, cap) in enumerate(rooms, 1):
            row = {
                "id": f"{code}-R{j:02d}",
                "store": sname,
                "name": rn,
                "kind": kind,
                "capacity": cap,
                "extra": {"services": [s[1] for s in SERVICES if kind in s[5]]},
            }
            rows.append(row)
            by_store[sname].append(row)
    return rows, by_store


# ===================================================================== booking
busy: dict[str, list[tuple[datetime, datetime]]] = {}


def free(key, s, e):
    return all(e <= bs or s >= be for bs, be in busy.get(key, []))


def hours(store: str, d: date):
    o, c = STORE[store][5], STORE[store][6]
    return at(d, int(o[:2]), int(o[3:])), at(d, int(c[:2]), int(c[3:]))


def allocate(store, svc, start, staff_by_store, rooms_by_store, commit=True):
    end = start + timedelta(minutes=svc[2])
    op, cl = hours(store, start.date())
    if start < op or end > cl:
        return None
    cands = []
    for st in staff_by_store[store]:
        if svc[1] not in st["services"] or start.weekday() in st["extra"]["days_off"]:
            continue
        sh = st["extra"]["shift"]
        if start < at(start.date(), int(sh["start"][:2]), 0) or end > at(
            start.date(), int(sh["end"][:2]), 0
        ):
            continue
        if free(st["id"], start, end):
            cands.append(st)
    if len(cands) < svc[6]:
        return None
    rng.shuffle(cands)
    rooms = [
        r
        for k in svc[5]
        for r in rooms_by_store[store]
        if r["kind"] == k and free(r["id"], start, end)
    ]
    if not rooms:
        return None
    staff_ids = [c["id"] for c in cands[: svc[6]]]
    room = rooms[0]["id"]
    if commit:
        for k in staff_ids + [room]:
            busy.setdefault(k, []).append((start, end))
    return start, end, staff_ids, room


def slot(store, d: date, minutes: int, lo: int | None = None, hi: int | None = None) -> datetime:
    op, cl = hours(store, d)
    t, out = op, []
    while t + timedelta(minutes=minutes) <= cl:
        if (lo is None or t.hour >= lo) and (hi is None or t.hour < hi):
            out.append(t)
        t += timedelta(minutes=30)
    w = [3 if t.hour >= 18 else 2 if 13 <= t.hour < 18 else 1 for t in out]
    if d.weekday() >= 5:
        w = [2 if 13 <= t.hour < 18 else x for t, x in zip(out, w, strict=True)]
    return rng.choices(out, weights=w, k=1)[0]


def working_time(t: datetime, lo=5, hi=90) -> datetime:
    """Customer-service desk works 09:00–21:00."""
    r = t + timedelta(minutes=rng.randint(lo, hi))
    if r.hour >= 21:
        r = at(r.date() + timedelta(days=1), 9, rng.randint(0, 40))
    elif r.hour < 9:
        r = at(r.date(), 9, rng.randint(0, 40))
    return r.replace(second=rng.randint(0, 59))


COMPLAINTS = [
    ("等待时间过长", "预约了下午三点，到店后等了二十多分钟才开始，前台也没有解释。"),
    ("技师迟到", "技师迟到15分钟，服务时间却没有顺延。"),
    ("力度不当", "推拿力度太重，第二天脖子还很疼，已经跟技师说了轻一点。"),
    ("服务态度", "前台态度冷淡，问了两次才有人理。"),
    ("卫生问题", "足疗区的毛巾有异味，希望加强卫生管理。"),
    ("收费争议", "团购券显示包含肩颈理疗，到店后又要求加钱。"),
    ("预约未确认", "在App上预约后一直显示待确认，到店才知道没排上技师。"),
]
SURVEY_COMMENTS = {
    5: ["技师手法很专业，非常满意！", "环境很好，下次还来。", "肩颈轻松多了，谢谢！"],
    4: ["整体不错，就是等了一会儿。", "服务好，希望停车更方便。"],
    3: ["一般，力度偏重。", "环境可以，价格有点贵。"],
    2: ["等待时间太长。", "技师手法不太熟练。"],
    1: ["体验很差，不会再来。", "预约时间被推迟也没人通知。"],
}


# ===================================================================== main
def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "mail" / MAILBOX / "Sent").mkdir(parents=True)

    customers = make_customers()
    staff, staff_by_store = make_staff()
    rooms, rooms_by_store = make_rooms()
    fronts = {
        s: [x for x in staff_by_store[s] if x["role"] == "前台"] or staff_by_store[s][:1]
        for s in STORE
    }
    res: list[dict] = []

    def pick_service(store):
        ok = [
            i
            for i, s in enumerate(SERVICES)
            if any(s[1] in st["services"] for st in staff_by_store[store])
            and any(r["kind"] in s[5] for r in rooms_by_store[store])
        ]
        return SERVICES[rng.choices(ok, weights=[SERVICE_W[i] for i in ok], k=1)[0]]

    def make(
        cust,
        store,
        svc,
        alloc,
        channel,
        created,
        start=None,
        status=None,
        extra=None,
        contact=None,
        name=None,
    ):
        if alloc:
            start, end, staff_ids, room = alloc
        else:
            end, staff_ids, room = start + timedelta(minutes=svc[2]), [], None
        r = {
            "id": None,
            "store": store,
            "customer_id": cust["id"] if cust else None,
            "customer_name": name if name is not None else (cust["name"] if cust else None),
            "contact": contact if contact is not None else (cust["phones"][0] if cust else None),
            "email": (cust["emails"][0] if cust and cust["emails"] else None),
            "service": svc[1] if svc else None,
            "starts_at": start,
            "ends_at": end,
            "staff_id": staff_ids[0] if staff_ids else None,
            "room_id": room,
            "channel": channel,
            "status": status,
            "created_at": created,
            "updated_at": created,
            "notes": "",
            "satisfaction": None,
            "extra": {
                "price": svc[3] if svc else None,
                "minutes": svc[2] if svc else None,
                **({"staff_ids": staff_ids} if len(staff_ids) > 1 else {}),
                **(extra or {}),
            },
        }
        if channel == "第三方平台":
            r["extra"]["platform"] = rng.choice(PLATFORMS)
            r["extra"]["platform_order_no"] = f"{rng.randint(10**15, 10**16 - 1)}"
        res.append(r)
        return r

    def finish_states(r):
        """Set status-specific facts for an allocated reservation."""
        start, end = r["starts_at"], r["ends_at"]
        created = r["created_at"]
        ch = r["channel"]
        fr = rng.choice(fronts[r["store"]])
        if ch == "到店":
            r["extra"]["confirmed_at"] = iso(created)
            r["extra"]["confirm_method"] = "到店"
        else:
            conf = working_time(created, 3, 120)
            if conf > start - timedelta(minutes=30):
                conf = created + timedelta(minutes=rng.randint(1, 10))
            r["extra"]["confirmed_at"] = iso(conf)
            r["extra"]["confirm_method"] = {
                "电话": "电话",
                "App": "App推送",
                "官网": "短信",
                "第三方平台": "短信",
            }[ch]
            r["extra"]["confirmed_by"] = fr["id"]
        if start < NOW:
            st = (
                wchoice([("已完成", 80), ("已取消", 10), ("爽约", 5), ("改期", 5)])
                if ch != "到店"
                else "已完成"
            )
        else:
            st = wchoice([("已确认", 80), ("已取消", 12), ("改期", 8)])
        r["status"] = st
        if st == "已完成":
            arrive = start + timedelta(minutes=rng.randint(-15, 12))
            delay = rng.choice([0] * 8 + [rng.randint(10, 25), rng.randint(5, 12)])
            begin = max(arrive, start) + timedelta(minutes=delay)
            r["extra"]["checked_in_at"] = iso(arrive)
            r["extra"]["service_started_at"] = iso(begin)
            r["extra"]["service_ended_at"] = iso(begin + (end - start))
            r["updated_at"] = begin + (end - start) + timedelta(minutes=rng.randint(2, 15))
            sent_at = begin + (end - start) + timedelta(hours=2)
            if sent_at <= END_DT:
                r["extra"]["survey_sent_at"] = iso(sent_at)
                if rng.random() < 0.72:
                    late = (begin - start).total_seconds() > 600
                    score = wchoice(
                        [(5, 52), (4, 30), (3, 11), (2, 4), (1, 3)]
                        if not late
                        else [(5, 15), (4, 25), (3, 30), (2, 18), (1, 12)]
                    )
                    ans = sent_at + timedelta(minutes=rng.randint(5, 600))
                    if ans <= END_DT:
                        r["satisfaction"] = score
                        r["extra"]["survey_answered_at"] = iso(ans)
                        if rng.random() < 0.5:
                            r["extra"]["survey_comment"] = rng.choice(SURVEY_COMMENTS[score])
        elif st in ("已取消", "改期"):
            lo = max(created, datetime.fromisoformat(r["extra"]["confirmed_at"]))
            hi = min(start - timedelta(minutes=10), END_DT)
            if hi <= lo:
                r["status"] = "已完成" if start < NOW else "已确认"
                return finish_states_fix(r)
            k = rng.random()
            if start - timedelta(hours=24) > hi:
                k = 1.0  # cannot be late yet
            if k < 0.25:  # late: under 24 hours
                t = max(lo, start - timedelta(hours=rng.uniform(2.2, 23.5)))
            elif k < 0.35:  # very late: under 2 hours
                t = max(lo, start - timedelta(minutes=rng.randint(15, 110)))
            else:
                t = lo + (hi - lo) * rng.uniform(0.05, 0.7)
            t = min(t, hi).replace(microsecond=0)
            r["updated_at"] = t
            r["extra"]["cancelled_at" if st == "已取消" else "changed_at"] = iso(t)
            r["extra"]["request_via"] = rng.choice(
                ["App", "电话", "电话", "第三方平台"] if ch != "官网" else ["电话", "官网"]
            )
            if st == "已取消":
                r["extra"]["cancel_reason"] = rng.choice(
                    ["临时加班", "身体不适", "行程变更", "下错单", "天气原因", "已在别家做过"]
                )
            for k2 in [*r["extra"].get("staff_ids", []), r["staff_id"], r["room_id"]]:
                if k2 and (r["starts_at"], r["ends_at"]) in busy.get(k2, []):
                    busy[k2].remove((r["starts_at"], r["ends_at"]))
        elif st == "爽约":
            r["updated_at"] = start + timedelta(minutes=30)
            r["extra"]["no_show_marked_by"] = fr["id"]
        return r

    def finish_states_fix(r):
        return r

    # ---- regular reservations --------------------------------------------------------
    for off in range(-8, 15):
        d = ANCHOR + timedelta(days=off)
        for store in STORE:
            base = {"SH01": 4, "SH02": 3, "SH03": 3, "HZ01": 2, "SZ01": 2}[STORE[store][0]]
            n = base + (1 if d.weekday() >= 5 else 0) + rng.randint(-1, 1)
            if off > 3:
                n = max(0, n - (off - 3) // 3 - 1)
            for _ in range(n):
                for _try in range(15):
                    svc = pick_service(store)
                    st_time = slot(store, d, svc[2])
                    ch = wchoice(CHANNELS)
                    if ch == "到店" and st_time > NOW:
                        continue
                    alloc = allocate(store, svc, st_time, staff_by_store, rooms_by_store)
                    if alloc:
                        break
                else:
                    continue
                cust = None
                r_ = rng.random()
                if r_ < 0.82:
                    pool = (
                        [c for c in customers if c["store"] == store]
                        if rng.random() < 0.85
                        else customers
                    )
                    cust = rng.choice(pool)
                if ch == "到店":
                    created = st_time - timedelta(minutes=rng.randint(3, 25))
                else:
                    lead_h = rng.choice([2, 5, 10, 20, 26, 30, 48, 72, 96, 150, 200, 260])
                    created = st_time - timedelta(hours=lead_h, minutes=rng.randint(0, 59))
                    if created > END_DT:
                        created = END_DT - timedelta(
                            hours=rng.randint(1, 30), minutes=rng.randint(0, 59)
                        )
                    if created.hour < 7:
                        created = created.replace(hour=rng.randint(8, 11))
                created = created.replace(second=rng.randint(0, 59))
                name = None
                contact = None
                if cust is None:
                    name, sn, _f = cn_name()
                    contact = mobile()
                r = make(cust, store, svc, alloc, ch, created, name=name, contact=contact)
                if cust is None and rng.random() < 0.3:
                    r["email"] = email_for(sn, contact)
                if ch == "电话" and rng.random() < 0.3:
                    r["contact"] = f"{r['contact'][:3]}-{r['contact'][3:7]}-{r['contact'][7:]}"
                finish_states(r)

    # rescheduled reservations get their new record
    for r in list(res):
        if r["status"] == "改期":
            svc = SERVICE[r["service"]]
            for _k in range(1, 8):
                d = r["starts_at"].date() + timedelta(days=rng.randint(1, 6))
                alloc = allocate(
                    r["store"], svc, slot(r["store"], d, svc[2]), staff_by_store, rooms_by_store
                )
                if alloc:
                    break
            else:
                r["status"] = "已取消"
                continue
            cust = next((c for c in customers if c["id"] == r["customer_id"]), None)
            r2 = make(
                cust,
                r["store"],
                svc,
                alloc,
                r["channel"],
                datetime.fromisoformat(r["extra"]["changed_at"]),
                name=r["customer_name"],
                contact=r["contact"],
            )
            r2["email"] = r["email"]
            finish_states(r2)
            if r2["status"] == "改期":
                r2["status"] = "已确认" if r2["starts_at"] >= NOW else "已完成"
                r2["extra"].pop("changed_at", None)
            r2["extra"]["rescheduled_from"] = r
            r["extra"]["_rescheduled_to"] = r2

    # ---- pending online requests (待确认), some conflicting with booked resources ----
    pending = []
    for _ in range(22):
        store = rng.choices(list(STORE), weights=STORE_W, k=1)[0]
        svc = pick_service(store)
        d = ANCHOR + timedelta(days=rng.randint(1, 9))
        st_time = slot(store, d, svc[2])
        ch = wchoice([("官网", 30), ("App", 45), ("第三方平台", 25)])
        created = at(
            ANCHOR - timedelta(days=rng.choice([0, 0, 0, 1])),
            rng.randint(8, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
        )
        cust = rng.choice(customers) if rng.random() < 0.7 else None
        name = contact = None
        if cust is None:
            name, sn, _f = cn_name()
            contact = mobile()
        r = make(
            cust,
            store,
            svc,
            None,
            ch,
            created,
            start=st_time,
            status="待确认",
            name=name,
            contact=contact,
        )
        if rng.random() < 0.35:
            # requested a named technician who is already booked at that time
            booked = [
                x
                for x in res
                if x["store"] == store
                and x["staff_id"]
                and x["status"] in ("已确认",)
                and x["starts_at"] > NOW
            ]
            if booked:
                b = rng.choice(booked)
                r["starts_at"], r["ends_at"] = (
                    b["starts_at"],
                    b["starts_at"] + timedelta(minutes=svc[2]),
                )
                r["extra"]["requested_staff"] = b["staff_id"]
        pending.append(r)

    # ---- invalid online requests (validation) ----------------------------------------
    # fmt: off
    BAD = [("contact", ""), ("contact", None), ("contact", "1381234567"), ("contact", "138-1234-56789"),
           ("contact", "12812345678"), ("contact", "+86 138 1234 567"), ("name", ""), ("service", None),
           ("time", "23:30"), ("contact", "微信同号")]
    # fmt: on
    for field, val in BAD:
        store = rng.choices(list(STORE), weights=STORE_W, k=1)[0]
        svc = pick_service(store)
        d = ANCHOR + timedelta(days=rng.randint(1, 6))
        st_time = slot(store, d, svc[2])
        if field == "time":
            st_time = at(d, 23, 30)
        ch = wchoice([("官网", 50), ("App", 25), ("第三方平台", 25)])
        created = at(
            ANCHOR - timedelta(days=rng.choice([0, 1])),
            rng.randint(8, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
        )
        name, sn, _f = cn_name()
        contact = mobile()
        r = make(
            None,
            store,
            svc,
            None,
            ch,
            created,
            start=st_time,
            status="待确认",
            name=name,
            contact=contact,
        )
        if field == "contact":
            r["contact"] = val
        elif field == "name":
            r["customer_name"] = val
        elif field == "service":
            r["service"] = None
            r["extra"]["price"] = None
            r["extra"]["minutes"] = None
        if rng.random() < 0.4:
            r["email"] = email_for(sn, contact)
        r["extra"]["raw_request"] = {
            "姓名": r["customer_name"],
            "联系方式": r["contact"],
            "服务项目": r["service"],
            "预约时间": st_time.strftime("%Y-%m-%d %H:%M"),
            "门店": store,
        }

    # ---- complaints ----------------------------------------------------------------------
    done = [r for r in res if r["status"] == "已完成" and r["starts_at"] > at(START, 0, 0)]
    low = [r for r in done if r["satisfaction"] in (1, 2)]
    by_mail = rng.sample([r for r in done if r["email"] and r not in low[:5]], 2)
    picks = (
        by_mail + low[:4] + rng.sample([r for r in done if r not in low and r not in by_mail], 4)
    )
    for i, r in enumerate(picks):
        cat, text = COMPLAINTS[i % len(COMPLAINTS)]
        at_ = r["ends_at"] + timedelta(hours=rng.randint(1, 30))
        if at_ > END_DT:
            at_ = END_DT - timedelta(hours=rng.randint(1, 5))
        comp = {
            "category": cat,
            "text": text,
            "received_at": iso(at_.replace(second=0)),
            "received_via": rng.choice(["电话", "邮件", "App评价", "第三方平台评价"]),
            "status": rng.choice(["处理中", "已处理", "已处理"]),
            "handled_by": rng.choice(fronts[r["store"]])["id"],
        }
        if comp["status"] == "已处理":
            comp["resolution"] = {
                "等待时间过长": "致歉并赠送肩颈理疗体验券一张",
                "技师迟到": "致歉并补足服务时间券",
                "力度不当": "已对技师进行培训，赠送复诊理疗一次",
                "服务态度": "已约谈前台并致歉",
                "卫生问题": "已更换毛巾供应商",
                "收费争议": "退还差价",
                "预约未确认": "致歉并优先安排改约",
            }[cat]
        if r in by_mail:
            comp["received_via"] = "邮件"
            r["extra"]["complaint"] = comp
        elif i % 3 == 0:
            r["notes"] = (r["notes"] + " " if r["notes"] else "") + f"顾客投诉：{text}"
        else:
            r["extra"]["complaint"] = comp

    # ---- ids ----------------------------------------------------------------------------------
    res.sort(key=lambda r: (r["created_at"], r["store"], r["customer_name"] or ""))
    seq: dict[str, int] = {}
    for r in res:
        k = r["created_at"].strftime("%y%m%d")
        seq[k] = seq.get(k, 0) + rng.randint(1, 4)
        r["id"] = f"YX{k}{seq[k]:04d}"
    for r in res:
        if "_rescheduled_to" in r["extra"]:
            r["extra"]["rescheduled_to"] = r["extra"].pop("_rescheduled_to")["id"]
        if isinstance(r["extra"].get("rescheduled_from"), dict):
            r["extra"]["rescheduled_from"] = r["extra"]["rescheduled_from"]["id"]

    # ---- mail ---------------------------------------------------------------------------------
    inbox: list[tuple[datetime, Message]] = []
    sent: list[tuple[datetime, Message]] = []

    def store_sig(s):
        return (
            f"\n——————————\n悦禾养生 客服中心\n服务热线：{HOTLINE}（每日 9:00–21:00）\n"
            f"门店：{s}　{STORE[s][3]}　电话 {STORE[s][4]}\n"
        )

    def zh_quote(text, t, frm, to, subject):
        ampm = "上午" if t.hour < 12 else "下午"
        h12 = t.hour if t.hour <= 12 else t.hour - 12
        return (
            f"\n\n------------------ 原始邮件 ------------------\n发件人: {frm}\n"
            f"发送时间: {jp_date_long(t.date())} {ampm}{h12}:{t.minute:02d}\n收件人: {to}\n主题: {subject}\n\n{text}"
        )

    def customer_mail(
        t, name, address, subject, body, cs, *, in_reply_to=None, refs=None, attachments=()
    ):
        style = {"gb18030": "mime", "gbk": "outlook", "utf-8": "mime"}[cs]
        dom = address.split("@")[1]
        mid = mailer.new_msgid(t, "plain", dom)
        html = html_doc(text_to_html(body), cs) if cs != "gbk" and rng.random() < 0.5 else None
        xm = {
            "gb18030": "Foxmail 7.2.25.375[cn]",
            "gbk": "Microsoft Outlook 16.0",
            "utf-8": "iPhone Mail (22C152)",
        }[cs]
        m = mailer.build_mail(
            t=t,
            frm=addr(name, address, cs),
            to=INBOX_ADDR,
            subject=subject,
            cs=cs,
            text=body,
            html=html,
            attachments=attachments,
            msgid=mid,
            in_reply_to=in_reply_to,
            references=refs,
            style=style,
            inbound=(f"mx.{dom}", f"203.0.113.{rng.randint(2, 250)}"),
            return_path=address,
            x_mailer=xm,
        )
        inbox.append((t, m))
        return mid, m

    def kefu_mail(t, name, address, subject, body, *, in_reply_to=None, refs=None, html=True):
        mid = mailer.new_msgid(t, "plain", DOMAIN)
        m = mailer.build_mail(
            t=t,
            frm=addr(INBOX_NAME, INBOX_ADDR),
            to=addr(name, address),
            subject=subject,
            cs="utf-8",
            cte="base64",
            text=body,
            html=html_doc(text_to_html(body)) if html else None,
            msgid=mid,
            in_reply_to=in_reply_to,
            references=refs,
            style="mime",
        )
        sent.append((t, m))
        return mid, m

    def svc_line(r):
        return r["service"] or "（未填写）"

    # website booking notifications (官网), including invalid ones
    web = [
        r for r in res if r["channel"] == "官网" and at(START, 0, 0) <= r["created_at"] <= END_DT
    ]
    web_pick = [r for r in web if r["extra"].get("raw_request")]
    web_pick += rng.sample([r for r in web if r not in web_pick], min(10, len(web) - len(web_pick)))
    for r in sorted(web_pick, key=lambda x: x["created_at"]):
        t = r["created_at"] + timedelta(seconds=rng.randint(1, 20))
        st = r["starts_at"]
        text = (
            f"新预约申请（官网）\n\n预约编号：{r['id']}\n门店：{r['store']}\n服务项目：{r['service'] or ''}\n"
            f"预约时间：{st.strftime('%Y-%m-%d %H:%M')}\n顾客姓名：{r['customer_name'] or ''}\n"
            f"联系电话：{r['contact'] or ''}\n电子邮箱：{r['email'] or ''}\n备注：{r['notes'] or '无'}\n\n"
            f"请在后台核对资源后确认：https://admin.{DOMAIN}/reservations/{r['id']}\n"
        )
        rows = "".join(
            f'<tr><th align="left">{k}</th><td>{v}</td></tr>'
            for k, v in [
                ("预约编号", r["id"]),
                ("门店", r["store"]),
                ("服务项目", r["service"] or ""),
                ("预约时间", st.strftime("%Y-%m-%d %H:%M")),
                ("顾客姓名", r["customer_name"] or ""),
                ("联系电话", r["contact"] or ""),
                ("电子邮箱", r["email"] or ""),
            ]
        )
        html = html_doc(
            f'<h3>新预约申请（官网）</h3><table border="1" cellpadding="4">{rows}</table>'
            f'<p><a href="https://admin.{DOMAIN}/reservations/{r["id"]}">进入后台确认</a></p>'
        )
        mid = mailer.new_msgid(t, "plain", DOMAIN)
        inbox.append(
            (
                t,
                mailer.build_mail(
                    t=t,
                    frm=addr("悦禾养生官网", f"noreply@{DOMAIN}"),
                    to=INBOX_ADDR,
                    subject=f"【官网预约】新预约申请 {r['id']}（{r['store']}）",
                    cs="utf-8",
                    cte="base64",
                    text=text if rng.random() < 0.6 else None,
                    html=html,
                    msgid=mid,
                    style="mime",
                    inbound=(f"web.{DOMAIN}", "192.0.2.66"),
                    return_path=f"noreply@{DOMAIN}",
                    extra_headers=[("X-Reservation-Id", r["id"])],
                ),
            )
        )
        r["extra"]["notification_message_id"] = mid

    # third-party platform notifications (HTML only)
    plat = [
        r
        for r in res
        if r["channel"] == "第三方平台" and at(START, 0, 0) <= r["created_at"] <= END_DT
    ]
    for r in sorted(rng.sample(plat, min(8, len(plat))), key=lambda x: x["created_at"]):
        t = r["created_at"] + timedelta(seconds=rng.randint(5, 60))
        pf = r["extra"]["platform"]
        pdom = {
            "好店团购": "haodian-tuangou.example",
            "享点评": "xiangdianping.example",
            "本地生活App": "bendi-life.example",
        }[pf]
        masked = (
            (r["contact"][:3] + "****" + r["contact"][-4:])
            if r["contact"] and len(r["contact"]) >= 11
            else (r["contact"] or "")
        )
        html = html_doc(
            f'<div style="font-size:14px"><p>尊敬的商家：</p><p>您有一笔新的预约订单，请及时处理。</p>'
            f'<table border="1" cellpadding="4"><tr><th>订单号</th><td>{r["extra"]["platform_order_no"]}</td></tr>'
            f"<tr><th>门店</th><td>悦禾养生（{r['store']}）</td></tr><tr><th>项目</th><td>{r['service']}</td></tr>"
            f"<tr><th>到店时间</th><td>{r['starts_at'].strftime('%Y-%m-%d %H:%M')}</td></tr>"
            f"<tr><th>顾客</th><td>{(r['customer_name'] or '')[:1]}**</td></tr><tr><th>手机</th><td>{masked}</td></tr></table>"
            f"<p>请在24小时内确认，超时未确认订单将自动取消。</p><p>{pf} 商家中心</p></div>"
        )
        mid = mailer.new_msgid(t, "plain", pdom)
        inbox.append(
            (
                t,
                mailer.build_mail(
                    t=t,
                    frm=addr(f"{pf}商家中心", f"notice@{pdom}"),
                    to=INBOX_ADDR,
                    subject=f"【{pf}】新预约订单通知（订单号 {r['extra']['platform_order_no']}）",
                    cs="utf-8",
                    cte="qp",
                    html=html,
                    msgid=mid,
                    style="mime",
                    inbound=(f"smtp.{pdom}", f"198.51.100.{rng.randint(2, 250)}"),
                    return_path=f"bounce@{pdom}",
                ),
            )
        )

    # confirmation / reminder / survey e-mails from the desk (customers who left an e-mail)
    with_mail = [
        r
        for r in res
        if r["email"]
        and r["status"] in ("已确认", "已完成")
        and r["channel"] != "到店"
        and "confirmed_at" in r["extra"]
        and at(START, 0, 0) <= datetime.fromisoformat(r["extra"]["confirmed_at"]) <= END_DT
    ]
    for r in sorted(with_mail, key=lambda x: x["extra"]["confirmed_at"])[:10]:
        t = datetime.fromisoformat(r["extra"]["confirmed_at"]) + timedelta(
            seconds=rng.randint(5, 90)
        )
        st = r["starts_at"]
        prep = SERVICE[r["service"]][7]
        body = (
            f"{r['customer_name']} 您好：\n\n您的预约已确认，信息如下：\n预约编号：{r['id']}\n"
            f"时间：{zh_date(st.date())} {hm(st)}\n门店：悦禾养生{r['store']}（{STORE[r['store']][3]}）\n"
            f"项目：{svc_line(r)}\n"
            + (f"温馨提示：{prep}\n" if prep else "")
            + "如需改期或取消，请至少提前24小时联系我们，未提前24小时取消将按规定收取违约金。\n"
            + store_sig(r["store"])
        )
        mid, _m = kefu_mail(
            t, r["customer_name"], r["email"], f"【悦禾养生】预约确认通知 {r['id']}", body
        )
        r["extra"]["confirmation_message_id"] = mid
    reminders = [
        r
        for r in res
        if r["email"]
        and r["status"] in ("已确认", "已完成")
        and at(START, 1, 0) <= r["starts_at"] - timedelta(hours=24) <= END_DT
    ]
    for r in sorted(reminders, key=lambda x: x["starts_at"])[:8]:
        t = (r["starts_at"] - timedelta(hours=24)).replace(second=rng.randint(0, 30))
        body = (
            f"{r['customer_name']} 您好：\n\n温馨提醒：您预约的{svc_line(r)}将于明天 {hm(r['starts_at'])} 开始，"
            f"地点：悦禾养生{r['store']}。\n请提前10分钟到店签到。\n" + store_sig(r["store"])
        )
        kefu_mail(
            t, r["customer_name"], r["email"], "【悦禾养生】预约提醒：明天见", body, html=False
        )
    surveys = [r for r in res if r["email"] and r["extra"].get("survey_sent_at")]
    for r in sorted(surveys, key=lambda x: x["extra"]["survey_sent_at"])[:5]:
        t = datetime.fromisoformat(r["extra"]["survey_sent_at"])
        body = (
            f"{r['customer_name']} 您好：\n\n感谢您今天光临悦禾养生{r['store']}。\n"
            "请花1分钟为本次服务打分（1–5分），您的意见对我们非常重要：\n"
            f"https://survey.{DOMAIN}/s/{r['id']}\n" + store_sig(r["store"])
        )
        kefu_mail(t, r["customer_name"], r["email"], "【悦禾养生】服务满意度调查", body)

    # customer e-mails: change, cancellation (one late), complaint, questions, a fix of an invalid request
    cust_mail = [c for c in customers if c["emails"]]
    enc_cycle = ["gb18030", "gbk", "utf-8", "gb18030", "utf-8", "gbk", "utf-8", "gb18030"]
    future = [
        r
        for r in res
        if r["status"] == "已确认"
        and r["email"]
        and r["customer_id"]
        and r["starts_at"] > at(ANCHOR, 20, 0)
    ]
    k = 0
    future = [
        r for r in future if datetime.fromisoformat(r["extra"]["confirmed_at"]) < at(ANCHOR, 12, 0)
    ]
    for r in rng.sample(future, min(3, len(future))):
        lo = max(datetime.fromisoformat(r["extra"]["confirmed_at"]), at(START, 8, 0))
        t = lo + (min(END_DT, r["starts_at"] - timedelta(days=1)) - lo) * rng.uniform(0.1, 0.9)
        t = t.replace(microsecond=0)
        cs = enc_cycle[k % len(enc_cycle)]
        k += 1
        new_t = r["starts_at"] + timedelta(days=rng.randint(1, 3))
        body = (
            f"您好，\n\n我预约了{zh_date(r['starts_at'].date())} {hm(r['starts_at'])} 在{r['store']}的{r['service']}"
            f"（预约编号 {r['id']}）。\n因临时有事，想改到{zh_date(new_t.date())} {hm(new_t)}，不知道是否还有位置？\n"
            f"麻烦回复，谢谢！\n\n{r['customer_name']}\n{r['contact']}\n"
        )
        mid, _ = customer_mail(t, r["customer_name"], r["email"], f"预约改期 {r['id']}", body, cs)
        if rng.random() < 0.7:
            rt = working_time(t, 10, 80)
            if rt <= END_DT:
                kefu_mail(
                    rt,
                    r["customer_name"],
                    r["email"],
                    f"回复：预约改期 {r['id']}",
                    f"{r['customer_name']} 您好：\n\n已收到您的改期申请，正在为您核对{zh_date(new_t.date())}的技师与房间，"
                    "确认后将以短信通知您。\n"
                    + store_sig(r["store"])
                    + zh_quote(
                        body,
                        t,
                        f'"{r["customer_name"]}"<{r["email"]}>',
                        INBOX_ADDR,
                        f"预约改期 {r['id']}",
                    ),
                    in_reply_to=mid,
                    refs=[mid],
                )
    late = [
        r
        for r in res
        if r["status"] == "已取消"
        and r["email"]
        and "cancelled_at" in r["extra"]
        and r["starts_at"] - datetime.fromisoformat(r["extra"]["cancelled_at"])
        < timedelta(hours=24)
        and at(START, 8, 0) <= datetime.fromisoformat(r["extra"]["cancelled_at"]) <= END_DT
    ]
    for r in late[:2]:
        t = datetime.fromisoformat(r["extra"]["cancelled_at"])
        cs = enc_cycle[k % len(enc_cycle)]
        k += 1
        body = (
            f"你好，我是{r['customer_name']}，原定{zh_date(r['starts_at'].date())} {hm(r['starts_at'])}的{r['service']}"
            f"（{r['id']}）因为{r['extra'].get('cancel_reason', '临时有事')}去不了了，麻烦帮我取消。\n请问会扣违约金吗？\n"
        )
        r["extra"]["request_via"] = "邮件"
        customer_mail(t, r["customer_name"], r["email"], "取消预约", body, cs)
    comp = [
        r
        for r in res
        if (r["extra"].get("complaint") or {}).get("received_via") == "邮件" and r["email"]
    ]
    for r in comp[:2] or [r for r in res if r["extra"].get("complaint") and r["email"]][:1]:
        c = r["extra"]["complaint"]
        t = datetime.fromisoformat(c["received_at"])
        cs = "gbk" if k % 2 else "gb18030"
        k += 1
        body = (
            f"客服你好：\n\n{zh_date(r['starts_at'].date())}在{r['store']}做了{r['service']}。\n{c['text']}\n"
            "希望你们重视并给个说法。\n\n" + r["customer_name"] + "\n"
        )
        atts = (
            [attach(png_bytes(10, 14, (210, 200, 190)), "image", "png", "xiaopiao.png")]
            if rng.random() < 0.6
            else []
        )
        customer_mail(
            t, r["customer_name"], r["email"], f"投诉：{c['category']}", body, cs, attachments=atts
        )
    questions = [
        ("请问静安店附近有停车场吗？", "停车咨询"),
        ("请问可以开增值税普通发票吗？抬头是公司名称。", "发票问题"),
        ("会员卡余额可以在杭州的门店使用吗？", "会员卡跨店使用"),
        ("孕期可以做足疗吗？", "孕期能否做足疗"),
    ]
    for q, subj in questions:
        c = rng.choice(cust_mail)
        t = at(rng.choice(DAYS), rng.randint(8, 22), rng.randint(0, 59), rng.randint(0, 59))
        cs = enc_cycle[k % len(enc_cycle)]
        k += 1
        customer_mail(
            t, c["name"], c["emails"][0], subj, f"您好，\n{q}\n谢谢。\n\n{c['name']}\n", cs
        )
    # a customer with an invalid request answers the fix-it mail
    inval = [
        r for r in res if r["status"] == "待确认" and r["email"] and r["extra"].get("raw_request")
    ]
    for r in inval[:1]:
        t = working_time(r["created_at"], 20, 120)
        fix_body = (
            f"{r['customer_name'] or '顾客'} 您好：\n\n您在官网提交的预约申请（{r['id']}）中，联系电话“{r['contact'] or ''}”"
            "格式不正确或为空，我们无法为您确认预约。\n请回复本邮件提供正确的11位手机号码，谢谢！\n"
            + store_sig(r["store"])
        )
        mid, _ = kefu_mail(
            t,
            r["customer_name"] or "顾客",
            r["email"],
            f"【悦禾养生】请补充预约信息 {r['id']}",
            fix_body,
        )
        t2 = t + timedelta(hours=rng.randint(1, 5), minutes=rng.randint(0, 59))
        if t2 <= END_DT:
            customer_mail(
                t2,
                r["customer_name"] or "",
                r["email"],
                f"回复：【悦禾养生】请补充预约信息 {r['id']}",
                f"不好意思，刚才填错了，我的手机号是 {mobile()}。\n",
                "utf-8",
                in_reply_to=mid,
                refs=[mid],
            )

    # a confirmation to a mistyped address bounced (Postfix DSN)
    if sent:
        bt, bm = sent[0]
        to = bm["To"].split("<")[-1].rstrip(">")
        local, dom = to.split("@")
        bad = f"{local}@{dom.replace('.cn', '.cm').replace('.com', '.con')}"
        bm.replace_header("To", bm["To"].replace(to, bad))
        t = bt + timedelta(seconds=rng.randint(5, 40))
        root = MIMEMultipart(
            "report", report_type="delivery-status", boundary=boundary(str(t) + "zh", "mime")
        )
        root.attach(
            text_part(
                f"This is the mail system at host mail.{DOMAIN}.\n\nI'm sorry to have to inform you that your message could not\n"
                "be delivered to one or more recipients. It's attached below.\n\n                   The mail system\n\n"
                f"<{bad}>: Host or domain name not found. Name service error for\n    name={bad.split('@')[1]} type=MX: Host not found, try again\n",
                "plain",
                "us-ascii",
            )
        )
        root.attach(
            delivery_status(
                [("Reporting-MTA", f"dns; mail.{DOMAIN}"), ("Arrival-Date", format_datetime(bt))],
                [
                    ("Final-Recipient", f"rfc822; {bad}"),
                    ("Action", "failed"),
                    ("Status", "5.4.4"),
                    (
                        "Diagnostic-Code",
                        f"X-Postfix; Host or domain name not found. Name service error for name={bad.split('@')[1]} type=MX",
                    ),
                ],
            )
        )
        root.attach(
            MIMEText(
                "".join(
                    f"{k2}: {v}\n"
                    for k2, v in bm.items()
                    if k2 in ("Date", "From", "To", "Subject", "Message-ID")
                ),
                "rfc822-headers",
                "us-ascii",
            )
        )
        inbox.append(
            (
                t,
                finalize(
                    root,
                    [
                        ("Return-Path", "<>"),
                        ("Date", format_datetime(t)),
                        ("From", f"MAILER-DAEMON@mail.{DOMAIN} (Mail Delivery System)"),
                        ("To", INBOX_ADDR),
                        ("Subject", "Undelivered Mail Returned to Sender"),
                        ("Message-ID", f"<20260106.{rng.randint(100000, 999999)}@mail.{DOMAIN}>"),
                        ("Auto-Submitted", "auto-replied"),
                    ],
                ),
            )
        )

    write_maildir(OUT / "mail" / MAILBOX, inbox, sent)

    # ---- records ----------------------------------------------------------------------------
    write_jsonl(OUT / "customers.jsonl", customers)
    write_jsonl(OUT / "staff.jsonl", staff)
    write_jsonl(OUT / "rooms.jsonl", rooms)
    rows = []
    for r in sorted(res, key=lambda x: x["id"]):
        o = dict(r)
        for k2 in ("starts_at", "ends_at", "created_at", "updated_at"):
            o[k2] = iso(o[k2])
        rows.append(o)
    write_jsonl(OUT / "reservations.jsonl", rows)
    keys = "code name city address phone open close".split()  # the rooms are left out
    write_json(OUT / "stores.json", [dict(zip(keys, s[:7], strict=True)) for s in STORES])
    keys = "code name minutes price skill room_kinds staff_needed preparation".split()
    write_json(OUT / "services.json", [dict(zip(keys, s, strict=True)) for s in SERVICES])
    (OUT / "manifest.toml").write_text(
        'anchor = "2026-01-14"\ntimezone = "Asia/Shanghai"\n'
        'description = "悦禾养生: 5 stores, services, staff and rooms, members, reservations from all channels, '
        'customer-service mailbox kefu"\n',
        encoding="utf-8",
    )
    from collections import Counter

    print(
        f"{PROFILE}: customers={len(customers)} staff={len(staff)} rooms={len(rooms)} reservations={len(res)} "
        f"{dict(Counter(r['status'] for r in res))} inbox={len(inbox)} sent={len(sent)}"
    )


# ================================================================ profile toml
def tl(items) -> str:
    return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in items) + "]"


if __name__ == "__main__":
    main()
