#!/usr/bin/env python3
"""Generate the `pharmacy-uk` demo dataset (online pharmacy confirming unpaid orders, Ukraine).

Deterministic (seeded ``random``), stdlib only.  Running it (re)writes
``fixtures/pharmacy-uk/``:

    manifest.toml
    customers.jsonl  orders.jsonl  call_attempts.jsonl  notes.jsonl
    stock.csv                 (logistics stock file: sku;name;qty, UTF-8)
    calls/Master.csv          (Asterisk cdr_csv of the agents' extensions, no header)
    mail/info/NNNN.eml, mail/info/Sent/NNNN.eml

Orders look like Magento orders ("Magna" admin): increment ids, statuses
pending / pending_payment / processing / complete / canceled / holded, payment
methods banktransfer / checkmo / cashondelivery, a campaign value and the
"customer support called" field.  Everything is synthetic: invented Ukrainian
names, ``*.example`` domains, random +380 mobile numbers.  Anchor: Wednesday
2026-01-14 (Europe/Kyiv, UTC+2 in January); activity ANCHOR-8 days .. ANCHOR.

The profile configuration lives in ``fixtures/profiles/pharmacy-uk.toml``; the
constants below must stay consistent with it.
"""

# ruff: noqa: E501  (long data rows and message texts are kept on one line for readability)
from __future__ import annotations

import csv
import heapq
import io
import random
import shutil
from datetime import date, datetime, timedelta, timezone
from email.mime.text import MIMEText
from email.utils import format_datetime

from fixturelib import (
    ANCHOR,
    DAYS,
    ROOT,
    START,
    MailBox,
    attachment,
    delivery_status,
    fake_jpeg,
    fake_pdf,
    html_of,
    iso,
    listed,
    public,
    table,
    write_jsonl,
)

PROFILE = "pharmacy-uk"
OUT = ROOT / "fixtures" / PROFILE

TZ = timezone(timedelta(hours=2), "EET")
DAY0 = START
END = datetime(2026, 1, 14, 23, 59, 59, tzinfo=TZ)
# Ukraine, January 2026: 1 January is the only public holiday (7 January is no longer one since 2024);
# under martial law holidays are working days anyway.
HOLIDAYS = {date(2026, 1, 1)}


def at(d: date, h: int, m: int = 0, s: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=TZ)


def rng_for(name: str) -> random.Random:
    return random.Random(f"{PROFILE}/{name}/v1")


def is_business(d: date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


def prev_business(d: date) -> date:
    d -= timedelta(days=1)
    while not is_business(d):
        d -= timedelta(days=1)
    return d


def next_business_time(t: datetime, rng: random.Random) -> datetime:
    """The next moment inside business hours (09:00-18:00 on a business day)."""
    d = t.date()
    if is_business(d) and 9 <= t.hour < 18:
        return t
    if is_business(d) and t.hour < 9:
        return at(d, 9, rng.randint(0, 40))
    d += timedelta(days=1)
    while not is_business(d):
        d += timedelta(days=1)
    return at(d, 9, rng.randint(0, 40))


def uah(x: float) -> str:
    return f"{x:,.2f}".replace(",", " ").replace(".", ",")


# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------

SHOP = "Добрий лік"
SITE = "dobryi-lik.example"
MAILBOX = "info"
MAILBOX_ADDR = {"info": "info@dobryi-lik.example"}
MAILBOX_NAME = {"info": "Інтернет-аптека «Добрий лік»"}
SUPERVISOR = ("Бондаренко Сергій", "bondarenko@dobryi-lik.example", "100")
AGENTS = {"Кравченко": ("Кравченко Андрій", "102"), "Мельник": ("Мельник Олена", "101")}
CALLCENTRE = "Call-центр"
DID = "0443334455"
BANK = {
    "recipient": "ТОВ «Добрий лік» (демо)",
    "edrpou": "12345678",
    "iban": "UA713999990000026001234567890",
    "bank": "АТ «Банк Приклад»",
}


def agent_for(d: date) -> str:
    """The queue task is assigned to one agent for a whole week."""
    return "Мельник" if d >= date(2026, 1, 12) else "Кравченко"


# sku | site name | logistics name | price | prescription only (Rx)
CATALOGUE = table(
    (str, str, str, int, lambda c: c == "Rx"),
    """
LK-100101 | Парацетамол таблетки 500 мг №10 | ПАРАЦЕТАМОЛ ТАБ. 500МГ №10 | 25 | -
LK-100118 | Ібупрофен капсули 200 мг №20 | ІБУПРОФЕН КАПС. 200МГ №20 | 89 | -
LK-100125 | Ібупрофен суспензія для дітей 100 мг/5 мл, 100 мл | ІБУПРОФЕН СУСП. ДИТ. 100МГ/5МЛ 100МЛ | 145 | -
LK-100132 | Німесулід гранули 100 мг, саше №30 | НІМЕСУЛІД ГРАН. 100МГ САШЕ №30 | 210 | -
LK-100149 | Диклофенак гель 1%, 40 г | ДИКЛОФЕНАК ГЕЛЬ 1% 40Г | 95 | -
LK-100156 | Мелоксикам таблетки 15 мг №20 | МЕЛОКСИКАМ ТАБ. 15МГ №20 | 95 | -
LK-100163 | Дротаверин таблетки 40 мг №20 | ДРОТАВЕРИН ТАБ. 40МГ №20 | 45 | -
LK-100200 | Амброксол сироп 15 мг/5 мл, 100 мл | АМБРОКСОЛ СИРОП 15МГ/5МЛ 100МЛ | 78 | -
LK-100217 | Ацетилцистеїн шипучі таблетки 600 мг №10 | АЦЕТИЛЦИСТЕЇН ТАБ. ШИП. 600МГ №10 | 165 | -
LK-100224 | Сироп від кашлю з екстрактом плюща для дітей, 100 мл | СИРОП ПЛЮЩ ДИТ. 100МЛ | 185 | -
LK-100231 | Льодяники від кашлю з медом і лимоном №24 | ЛЬОДЯНИКИ МЕД-ЛИМОН №24 | 75 | -
LK-100248 | Ксилометазолін краплі назальні 0,1%, 10 мл | КСИЛОМЕТАЗОЛІН КРАПЛІ НАЗ. 0,1% 10МЛ | 48 | -
LK-100255 | Оксиметазолін спрей назальний 0,05%, 10 мл | ОКСИМЕТАЗОЛІН СПРЕЙ 0,05% 10МЛ | 110 | -
LK-100262 | Морська вода спрей назальний, 100 мл | МОРСЬКА ВОДА СПРЕЙ НАЗ. 100МЛ | 135 | -
LK-100279 | Декаметоксин розчин для полоскання, 200 мл | ДЕКАМЕТОКСИН Р-Н 200МЛ | 88 | -
LK-100300 | Лоратадин таблетки 10 мг №10 | ЛОРАТАДИН ТАБ. 10МГ №10 | 48 | -
LK-100317 | Цетиризин таблетки 10 мг №10 | ЦЕТИРИЗИН ТАБ. 10МГ №10 | 62 | -
LK-100324 | Дезлоратадин таблетки 5 мг №10 | ДЕЗЛОРАТАДИН ТАБ. 5МГ №10 | 118 | -
LK-100400 | Омепразол капсули 20 мг №30 | ОМЕПРАЗОЛ КАПС. 20МГ №30 | 92 | -
LK-100417 | Пантопразол таблетки 40 мг №28 | ПАНТОПРАЗОЛ ТАБ. 40МГ №28 | 235 | -
LK-100424 | Панкреатин таблетки 25 ОД №50 | ПАНКРЕАТИН ТАБ. 25ОД №50 | 74 | -
LK-100431 | Лоперамід капсули 2 мг №10 | ЛОПЕРАМІД КАПС. 2МГ №10 | 38 | -
LK-100448 | Смектит діоктаедричний, порошок 3 г №10 | СМЕКТИТ ПОР. 3Г №10 | 155 | -
LK-100455 | Регідратаційна сіль, порошок №10 | РЕГІДРАТ. СІЛЬ ПОР. №10 | 98 | -
LK-100462 | Вугілля активоване таблетки 250 мг №10 | ВУГІЛЛЯ АКТИВ. ТАБ. 250МГ №10 | 12 | -
LK-100500 | Метформін таблетки 850 мг №60 | МЕТФОРМІН ТАБ. 850МГ №60 | 120 | Rx
LK-100517 | Амлодипін таблетки 5 мг №30 | АМЛОДИПІН ТАБ. 5МГ №30 | 58 | Rx
LK-100524 | Лізиноприл таблетки 10 мг №30 | ЛІЗИНОПРИЛ ТАБ. 10МГ №30 | 64 | Rx
LK-100531 | Бісопролол таблетки 5 мг №30 | БІСОПРОЛОЛ ТАБ. 5МГ №30 | 85 | Rx
LK-100548 | Аторвастатин таблетки 20 мг №30 | АТОРВАСТАТИН ТАБ. 20МГ №30 | 175 | Rx
LK-100555 | Ацетилсаліцилова кислота кардіо 100 мг №30 | АСК КАРДІО ТАБ. 100МГ №30 | 58 | -
LK-100600 | Магнію цитрат + вітамін B6 таблетки №50 | МАГНІЙ+B6 ТАБ. №50 | 210 | -
LK-100617 | Вітамін D3 краплі 2000 МО/мл, 10 мл | ВІТАМІН D3 КРАПЛІ 2000МО 10МЛ | 185 | -
LK-100624 | Вітамін C 1000 мг шипучі таблетки №20 | ВІТАМІН C 1000МГ ШИП. №20 | 125 | -
LK-100631 | Цинк + вітамін C таблетки №30 | ЦИНК+ВІТ. C ТАБ. №30 | 140 | -
LK-100648 | Омега-3 капсули 1000 мг №60 | ОМЕГА-3 КАПС. 1000МГ №60 | 320 | -
LK-100655 | Фолієва кислота таблетки 5 мг №50 | ФОЛІЄВА К-ТА ТАБ. 5МГ №50 | 45 | -
LK-100662 | Заліза (III) гідроксид полімальтозат сироп, 100 мл | ЗАЛІЗО ПОЛІМАЛЬТОЗАТ СИРОП 100МЛ | 260 | -
LK-100700 | Хлоргексидин розчин 0,05%, 100 мл | ХЛОРГЕКСИДИН Р-Н 0,05% 100МЛ | 22 | -
LK-100717 | Перекис водню 3%, 100 мл | ПЕРЕКИС ВОДНЮ 3% 100МЛ | 15 | -
LK-100724 | Пантенол спрей 5%, 130 г | ПАНТЕНОЛ СПРЕЙ 5% 130Г | 210 | -
LK-100731 | Мазь хлорамфенікол + метилурацил, 40 г | МАЗЬ ХЛОРАМФ.+МЕТИЛУРАЦИЛ 40Г | 95 | -
LK-100748 | Ацикловір крем 5%, 5 г | АЦИКЛОВІР КРЕМ 5% 5Г | 55 | -
LK-100755 | Флуконазол капсули 150 мг №1 | ФЛУКОНАЗОЛ КАПС. 150МГ №1 | 45 | -
LK-100800 | Азитроміцин таблетки 500 мг №3 | АЗИТРОМІЦИН ТАБ. 500МГ №3 | 135 | Rx
LK-100817 | Амоксицилін капсули 500 мг №20 | АМОКСИЦИЛІН КАПС. 500МГ №20 | 120 | Rx
LK-100824 | Цефуроксим таблетки 500 мг №10 | ЦЕФУРОКСИМ ТАБ. 500МГ №10 | 390 | Rx
LK-100900 | Валеріани екстракт таблетки 20 мг №50 | ВАЛЕРІАНИ ЕКСТР. ТАБ. 20МГ №50 | 32 | -
LK-100917 | Гліцин таблетки сублінгвальні 100 мг №50 | ГЛІЦИН ТАБ. 100МГ №50 | 58 | -
MT-200101 | Тонометр автоматичний на плече | ТОНОМЕТР АВТОМАТ. НА ПЛЕЧЕ | 1450 | -
MT-200118 | Термометр електронний | ТЕРМОМЕТР ЕЛЕКТРОННИЙ | 165 | -
MT-200125 | Пульсоксиметр пальцевий | ПУЛЬСОКСИМЕТР ПАЛЬЦЕВИЙ | 690 | -
MT-200132 | Глюкометр з тест-смужками №50 | ГЛЮКОМЕТР + ТЕСТ-СМУЖКИ №50 | 980 | -
MT-200149 | Тест-смужки для глюкометра №50 | ТЕСТ-СМУЖКИ ДО ГЛЮКОМЕТРА №50 | 520 | -
MT-200156 | Інгалятор компресорний | ІНГАЛЯТОР КОМПРЕСОРНИЙ | 1850 | -
MT-200200 | Маска медична тришарова №50 | МАСКА МЕДИЧНА 3-ШАР. №50 | 120 | -
MT-200217 | Бинт марлевий стерильний 7 м × 14 см | БИНТ СТЕР. 7М Х 14СМ | 28 | -
MT-200224 | Лейкопластир у котушці 2 × 500 см | ЛЕЙКОПЛАСТИР КОТУШКА 2Х500СМ | 45 | -
MT-200231 | Шприц 5 мл №10 | ШПРИЦ 5МЛ №10 | 30 | -
MT-200248 | Рукавички оглядові нітрилові, розмір M, №100 | РУКАВИЧКИ НІТРИЛ. M №100 | 310 | -
MT-200255 | Тест на вагітність, смужка №1 | ТЕСТ НА ВАГІТНІСТЬ СМУЖКА №1 | 35 | -
KS-300101 | Дитячий крем під підгузок, 100 мл | КРЕМ ДИТ. ПІД ПІДГУЗОК 100МЛ | 145 | -
""",
)
CAT = {c[0]: c for c in CATALOGUE}
# out of stock in the logistics file
OUT_OF_STOCK = {
    "LK-100324",
    "LK-100662",
    "MT-200156",
    "LK-100824",
    "LK-100132",
    "MT-200125",
    "LK-100617",
}

F_NAMES = """
Олена Ірина Наталія Тетяна Оксана Юлія Світлана Марія Анна Людмила Галина Катерина Вікторія
Ольга Алла Валентина Надія Лариса Христина Софія Інна Зоряна Мирослава Дарина
""".split()
M_NAMES = """
Андрій Олександр Сергій Володимир Іван Михайло Дмитро Юрій Василь Петро Микола Богдан Тарас Олег
Віталій Роман Ярослав Степан Максим
""".split()
SURNAMES = """
Шевченко Коваленко Бондар Ткаченко Олійник Шевчук Поліщук Бойко Ковальчук Лисенко Марченко
Савченко Руденко Петренко Кузьменко Павленко Мороз Левченко Гончаренко Карпенко Харченко
Власенко Ткачук Романенко Кушнір Литвиненко Клименко Гаврилюк Козак Приходько Сидоренко Яковенко
Захарченко Юрченко Пономаренко Білоус Гнатюк Остапчук Костенко Дмитренко Мартинюк Стасюк Шаповал
Вакуленко Кириленко Нестеренко Федоренко Гуменюк Зінченко Семенюк Панчук Довгань Тимошенко
Кравчук Лук'яненко Заєць
""".split()
M_ONLY = {
    "Ковальський": "Ковальська",
    "Головатий": "Головата",
    "Яремчук": "Яремчук",
    "Вербицький": "Вербицька",
}

TRANSLIT = dict(
    zip(
        "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'",
        "a,b,v,h,g,d,e,ie,zh,z,y,i,i,i,k,l,m,n,o,p,r,s,t,u,f,kh,ts,ch,sh,shch,,iu,ia,".split(","),
        strict=True,
    )
)


def translit(s: str) -> str:
    return "".join(TRANSLIT.get(c, c) for c in s.lower())


# city: (oblast, weight, streets); "country stores" orders come mostly from smaller towns
CITIES = {
    row[0]: row[1:]
    for row in table(
        (str, str, int, listed),
        """
Київ | м. Київ | 10 | вул. Хрещатик; просп. Перемоги; вул. Антоновича; вул. Здолбунівська
Львів | Львівська обл. | 5 | вул. Городоцька; вул. Личаківська; просп. Червоної Калини
Одеса | Одеська обл. | 4 | вул. Дерибасівська; вул. Канатна; просп. Шевченка
Дніпро | Дніпропетровська обл. | 4 | просп. Яворницького; вул. Робоча; вул. Січеславська Набережна
Харків | Харківська обл. | 3 | просп. Науки; вул. Сумська; вул. Героїв Праці
Вінниця | Вінницька обл. | 4 | вул. Соборна; вул. Келецька; просп. Коцюбинського
Житомир | Житомирська обл. | 3 | вул. Київська; вул. Велика Бердичівська; вул. Перемоги
Полтава | Полтавська обл. | 3 | вул. Соборності; вул. Європейська; вул. Шевченка
Чернігів | Чернігівська обл. | 3 | просп. Миру; вул. Гетьмана Полуботка; вул. Рокоссовського
Суми | Сумська обл. | 2 | вул. Соборна; вул. Харківська; вул. Прокоф'єва
Черкаси | Черкаська обл. | 3 | бульв. Шевченка; вул. Смілянська; вул. Хрещатик
Кропивницький | Кіровоградська обл. | 2 | вул. Велика Перспективна; вул. Преображенська
Хмельницький | Хмельницька обл. | 3 | вул. Проскурівська; вул. Кам'янецька; вул. Зарічанська
Рівне | Рівненська обл. | 3 | вул. Соборна; вул. Київська; вул. Степана Бандери
Луцьк | Волинська обл. | 2 | вул. Лесі Українки; просп. Волі; вул. Винниченка
Тернопіль | Тернопільська обл. | 2 | вул. Руська; бульв. Дмитра Вишневецького; вул. Микулинецька
Івано-Франківськ | Івано-Франківська обл. | 2 | вул. Незалежності; вул. Галицька; вул. Вовчинецька
Ужгород | Закарпатська обл. | 2 | вул. Корзо; просп. Свободи; вул. Собранецька
Чернівці | Чернівецька обл. | 2 | вул. Головна; вул. Руська; просп. Незалежності
Біла Церква | Київська обл. | 3 | вул. Ярослава Мудрого; бульв. Олександрійський; вул. Леваневського
Кременчук | Полтавська обл. | 2 | вул. Соборна; вул. Театральна
Умань | Черкаська обл. | 2 | вул. Європейська; вул. Небесної Сотні
Бердичів | Житомирська обл. | 2 | вул. Європейська; вул. Житомирська
Ніжин | Чернігівська обл. | 2 | вул. Гоголя; вул. Незалежності
Ковель | Волинська обл. | 2 | вул. Незалежності; вул. Грушевського
Дрогобич | Львівська обл. | 2 | вул. Шевченка; вул. Трускавецька
Коломия | Івано-Франківська обл. | 2 | вул. Театральна; вул. Карпатська
Кам'янець-Подільський | Хмельницька обл. | 2 | вул. Князів Коріятовичів; просп. Грушевського
Мукачево | Закарпатська обл. | 1 | вул. Духновича; вул. Пушкіна
Конотоп | Сумська обл. | 1 | просп. Миру; вул. Садова
""",
    )
}
BIG_CITIES = {"Київ", "Львів", "Одеса", "Дніпро", "Харків"}
OPERATORS = ["67", "68", "96", "97", "98", "50", "66", "95", "99", "63", "73", "93"]


def fmt_ua(digits: str, style: int) -> str:
    """380671234567 -> the ways Ukrainians type it."""
    op, a, b, c = digits[3:5], digits[5:8], digits[8:10], digits[10:12]
    return [
        f"+380 {op} {a} {b} {c}",
        f"+380{op}{a}{b}{c}",
        f"0{op} {a} {b} {c}",
        f"0{op}{a}{b}{c}",
        f"+38 (0{op}) {a}-{b}-{c}",
        f"(0{op}) {a}-{b}{c}",
    ][style]


class Data:
    def __init__(self):
        self.rng = rng_for("orders")
        self.prng = rng_for("people")
        self.customers: list[dict] = []
        self.orders: list[dict] = []
        self.attempts: list[dict] = []
        self.notes: list[dict] = []
        self.cdr: list[dict] = []
        self.used_phones: set[str] = set()
        self.used_emails: set[str] = set()
        self.cust_seq = 5120

    def phone(self) -> str:
        while True:
            d = "380" + self.prng.choice(OPERATORS) + f"{self.prng.randrange(10**7):07d}"
            if d not in self.used_phones:
                self.used_phones.add(d)
                return d

    def new_customer(self, t: datetime, country: bool) -> dict:
        r = self.prng
        female = r.random() < 0.7
        first = r.choice(F_NAMES if female else M_NAMES)
        if r.random() < 0.06:
            m = r.choice(sorted(M_ONLY))
            last = M_ONLY[m] if female else m
        else:
            last = r.choice(SURNAMES)
        names = [c for c in CITIES if (c not in BIG_CITIES) == country or r.random() < 0.15]
        city = r.choices(names, weights=[CITIES[c][1] for c in names])[0]
        digits = self.phone()
        email_addr = None
        for _ in range(40):
            f, s = translit(first), translit(last)
            local = r.choice(
                [
                    f"{f}.{s}",
                    f"{s}.{f[0]}",
                    f"{f}{r.randrange(80, 100)}",
                    f"{s}{r.randrange(1, 999)}",
                    f"{f[0]}{s}",
                ]
            )
            dom = r.choice(
                ["example.ua", "example.ua", "ukr.example.ua", "i.example.ua", "example.com"]
            )
            e = f"{local}@{dom}"
            if e not in self.used_emails:
                self.used_emails.add(e)
                email_addr = e
                break
        street = r.choice(CITIES[city][2])
        address = f"{street}, {r.randint(1, 160)}" + (
            f", кв. {r.randint(1, 210)}" if r.random() < 0.7 else ""
        )
        cid = str(self.cust_seq)
        self.cust_seq += r.randint(1, 9)
        created = t - timedelta(
            days=r.choice([0, 0, 0, 12, 60, 240, 500]), minutes=r.randint(1, 500)
        )
        c = {
            "id": cid,
            "name": f"{first} {last}",
            "name_kana": None,
            "company": None,
            "region": CITIES[city][0],
            "store": None,
            "language": "uk",
            "notes": None,
            "other": None,
            "created_at": iso(created),
            "updated_at": iso(created),
            "extra": {
                "magento_group": r.choice(["General", "General", "Wholesale", "Retailer"])
                if created < t
                else "NOT LOGGED IN",
                "city": city,
            },
            "phones": [fmt_ua(digits, r.choice([0, 1, 2, 3]))],
            "emails": [email_addr],
            "_first": first,
            "_last": last,
            "_female": female,
            "_digits": digits,
            "_city": city,
            "_address": address,
            "_created": created,
            "_alt": None,
        }
        if r.random() < 0.1:
            alt = self.phone()
            c["_alt"] = alt
            c["phones"].append(fmt_ua(alt, r.choice([0, 2, 3])))
        self.customers.append(c)
        return c


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------

HOUR_W = [
    1,
    0.5,
    0.3,
    0.2,
    0.2,
    0.4,
    0.8,
    1.5,
    3,
    4,
    4.5,
    4.5,
    4.5,
    4,
    4,
    4,
    4,
    4,
    4.5,
    5,
    5,
    4.5,
    3,
    2,
]
CAMPAIGNS_BT = (
    ["country stores"] * 64
    + ["google / cpc"] * 12
    + ["direct"] * 12
    + ["email / newsletter"] * 8
    + ["facebook / social"] * 5
    + ["city stores"] * 7
)
CAMPAIGNS_OTHER = (
    ["country stores"] * 30
    + ["google / cpc"] * 20
    + ["direct"] * 25
    + ["email / newsletter"] * 10
    + ["facebook / social"] * 8
    + ["city stores"] * 7
)


def np_branch(rng: random.Random, city: str) -> str:
    n = rng.randint(1, 60 if city in BIG_CITIES else 12)
    street = rng.choice(CITIES[city][2])
    return f"Відділення №{n}: {street}, {rng.randint(1, 120)}"


def make_order(data: Data, t: datetime, oid: str) -> dict:
    r = data.rng
    pay = r.choices(["banktransfer", "cashondelivery", "checkmo"], weights=[60, 31, 9])[0]
    camp = r.choice(CAMPAIGNS_BT if pay == "banktransfer" else CAMPAIGNS_OTHER)
    pool = [c for c in data.customers if c["_created"] < t - timedelta(hours=6)]
    if pool and r.random() < 0.09:
        cust = r.choice(pool)
    else:
        cust = data.new_customer(t, country=camp == "country stores")
    n = r.choices([1, 2, 3, 4, 5], weights=[40, 30, 16, 9, 5])[0]
    skus = r.sample([c[0] for c in CATALOGUE], n)
    items = []
    for sku in skus:
        c = CAT[sku]
        qty = 1 if c[3] > 300 else r.choices([1, 2, 3], weights=[70, 22, 8])[0]
        items.append(
            {"sku": sku, "name": c[1], "qty": qty, "price": float(c[3]), "supplier_group": None}
        )
    goods = sum(i["price"] * i["qty"] for i in items)
    method = r.choices(
        ["Нова Пошта — відділення", "Нова Пошта — кур'єр", "Укрпошта", "Самовивіз з аптеки"],
        weights=[70, 10, 15, 5],
    )[0]
    if method == "Самовивіз з аптеки" and cust["_city"] not in ("Київ", "Вінниця"):
        method = "Нова Пошта — відділення"
    cost = (
        0.0
        if goods >= 1000
        else {
            "Нова Пошта — відділення": 70.0,
            "Нова Пошта — кур'єр": 110.0,
            "Укрпошта": 45.0,
            "Самовивіз з аптеки": 0.0,
        }[method]
    )
    extra = {
        "increment_id": oid,
        "store_view": "Україна — українська",
        "customer_group": cust["extra"]["magento_group"],
        "shipping_description": method,
        "bank_details_emailed": pay == "banktransfer",
        "order_email_sent": r.random() > 0.04,
    }
    if method.startswith("Нова Пошта — відділення"):
        extra["np_branch"] = np_branch(r, cust["_city"])
    if any(CAT[i["sku"]][4] for i in items):
        extra["prescription_required"] = True
    status = "pending"
    if pay == "banktransfer" and r.random() < 0.32:
        status = "pending_payment"
    o = {
        "id": oid,
        "site": SITE,
        "campaign": camp,
        "customer_id": cust["id"],
        "customer_name": f"{cust['_first']} {cust['_last']}",
        "phone": fmt_ua(cust["_digits"], r.choices(range(6), weights=[30, 25, 15, 20, 7, 3])[0]),
        "email": cust["emails"][0],
        "address": f"{cust['_address']}, м. {cust['_city']}",
        "city": cust["_city"],
        "status": status,
        "payment_method": pay,
        "payment_status": "unpaid",
        "total": float(goods + cost),
        "delivery_cost": cost,
        "currency": "UAH",
        "support_called": False,
        "manager": None,
        "delivery_method": method,
        "delivery_date": None,
        "timezone": "Europe/Kyiv",
        "created_at": iso(t),
        "updated_at": iso(t),
        "extra": extra,
        "items": items,
        "flags": [],
        "comments": [],
        "status_history": [{"at": iso(t), "status": status, "actor": "system"}],
        "_t": t,
        "_cust": cust,
        "_confirmed": None,
        "_paid": None,
        "_canceled": None,
        "_attempts": [],
    }
    data.orders.append(o)
    return o


def set_status(o: dict, t: datetime, status: str, actor: str):
    o["status"] = status
    o["status_history"].append({"at": iso(t), "status": status, "actor": actor})


def comment(o: dict, t: datetime, author: str, text: str):
    o["comments"].append({"at": iso(t), "author": author, "text": text})


def generate_orders(data: Data):
    r = data.rng
    per_day = dict(zip(DAYS, [34, 33, 35, 32, 20, 18, 38, 36, 31], strict=True))
    times = sorted(
        at(d, 0)
        + timedelta(
            hours=r.choices(range(24), weights=HOUR_W)[0],
            minutes=r.randrange(60),
            seconds=r.randrange(60),
        )
        for d, n in per_day.items()
        for _ in range(n)
    )
    seq = 100004811
    for t in times:
        make_order(data, t, str(seq))
        seq += 1


def in_queue(o: dict) -> bool:
    return o["payment_method"] == "banktransfer" and o["campaign"] == "country stores"


# ---------------------------------------------------------------------------
# The agent's day: attempts, outcomes, notes, CDR
# ---------------------------------------------------------------------------

NOANSWER = [
    "Не бере слухавку",
    "Абонент поза зоною досяжності",
    "{Скинула|Скинув} виклик",
    "Автовідповідач, повідомлення {не залишала|не залишав}",
    "Довгі гудки, ніхто не відповідає",
    "Телефон вимкнений",
]
CALLBACK = [
    "{Попросила|Попросив} передзвонити після 15:00 — зараз за кермом",
    "{Зайнята|Зайнятий}, просить передзвонити через 2 години",
    "На роботі, просить передзвонити ввечері або завтра зранку",
    "Не зручно говорити, передзвонити пізніше",
    "Просить передзвонити на інший номер {alt}",
    "У лікарні, просить набрати після обіду",
]
AGENT_FEMALE = {"Мельник": True, "Кравченко": False}


def g(text: str, female: bool) -> str:
    """Pick the feminine or masculine form in "{f|m}" groups."""
    out, i = [], 0
    while True:
        j = text.find("{", i)
        if j < 0 or "|" not in text[j : text.find("}", j)]:
            out.append(text[i:])
            return "".join(out)
        k = text.find("}", j)
        f, m = text[j + 1 : k].split("|")
        out.append(text[i:j])
        out.append(f if female else m)
        i = k + 1


def stock_qty() -> dict:
    r = rng_for("stock")
    q = {}
    for c in CATALOGUE:
        q[c[0]] = (
            0 if c[0] in OUT_OF_STOCK else r.choice([2, 3, 5, 8, 12, 15, 24, 40, 60, 120, 200])
        )
    return q


def confirm_note(data: Data, o: dict, r: random.Random, t: datetime, agent: str, stock: dict):
    cust = o["_cust"]
    fa = AGENT_FEMALE[agent]
    fc = cust["_female"]
    aname = AGENTS[agent][0]
    parts = [
        "Особу підтверджено."
        if r.random() < 0.5
        else g("{Розмовляла|Розмовляв} ", fa) + g("{з клієнткою|з клієнтом}.", fc)
    ]
    parts.append(g("Замовлення {підтвердила|підтвердив}.", fc))
    if "np_branch" in o["extra"]:
        parts.append(
            f"Адресу звірено: {o['city']}, НП {o['extra']['np_branch'].split(':')[0].lower()}."
        )
    else:
        parts.append(f"Адресу звірено: {o['address']}.")
    missing = [i for i in o["items"] if stock[i["sku"]] == 0]
    hold = False
    if missing:
        names = ", ".join(i["name"] for i in missing)
        if r.random() < 0.5:
            parts.append(
                g(
                    f"Немає в наявності: {names} — {{запропонувала|запропонував}} аналог, клієнт погодився, замовлення змінено.",
                    fa,
                )
            )
            comment(
                o, t, aname, f"Заміна товару за згодою клієнта: {names} → аналог. Сума без змін."
            )
        else:
            parts.append(
                f"Немає в наявності: {names} — клієнт чекатиме поставку, замовлення утримано."
            )
            hold = True
    else:
        parts.append("Товар є на складі.")
    resent = False
    if r.random() < 0.35:
        parts.append(
            g("Лист з реквізитами не {отримала|отримав}", fc)
            + g(" — {надіслала|надіслав} повторно, {порадила|порадив} перевірити «Спам».", fa)
        )
        resent = True
    else:
        parts.append(g("Реквізити та лист про оплату {отримала|отримав}.", fc))
    return " ".join(parts), hold, resent


def cdr_out(data: Data, agent: str, digits: str, t: datetime, disposition: str, billsec: int):
    name, ext = AGENTS[agent] if agent in AGENTS else (SUPERVISOR[0], SUPERVISOR[2])
    r = rng_for(f"cdr/{t.isoformat()}/{digits}")
    dialled = "0" + digits[3:]
    ring = {
        "ANSWERED": r.randint(5, 20),
        "NO ANSWER": r.randint(30, 45),
        "BUSY": r.randint(2, 7),
        "FAILED": 0,
    }[disposition]
    data.cdr.append(
        {
            "src": ext,
            "dst": dialled,
            "dcontext": "from-internal",
            "clid": f'"{name}" <{ext}>',
            "channel": f"PJSIP/{ext}-{r.randrange(16**8):08x}",
            "dstchannel": ""
            if disposition == "FAILED"
            else f"PJSIP/trunk-voip-{r.randrange(16**8):08x}",
            "lastapp": "Dial",
            "lastdata": f"PJSIP/{dialled}@trunk-voip,60,tT",
            "start": t,
            "answer": t + timedelta(seconds=ring) if disposition == "ANSWERED" else None,
            "end": t + timedelta(seconds=ring + billsec),
            "duration": ring + billsec,
            "billsec": billsec,
            "disposition": disposition,
        }
    )
    return ring + billsec


def cdr_in(data: Data, digits: str, t: datetime, answered_by: str | None, billsec: int):
    r = rng_for(f"cdr-in/{t.isoformat()}/{digits}")
    ring = r.randint(4, 18) if answered_by else r.randint(20, 40)
    ext = AGENTS[answered_by][1] if answered_by else AGENTS[agent_for(t.date())][1]
    src = digits if r.random() < 0.7 else "0" + digits[3:]
    data.cdr.append(
        {
            "src": src,
            "dst": DID,
            "dcontext": "from-trunk",
            "clid": f'"{src}" <{src}>',
            "channel": f"PJSIP/trunk-voip-{r.randrange(16**8):08x}",
            "dstchannel": f"PJSIP/{ext}-{r.randrange(16**8):08x}",
            "lastapp": "Dial",
            "lastdata": f"PJSIP/{ext},30,tr",
            "start": t,
            "answer": t + timedelta(seconds=ring) if answered_by else None,
            "end": t + timedelta(seconds=ring + billsec),
            "duration": ring + billsec,
            "billsec": billsec,
            "disposition": "ANSWERED" if answered_by else "NO ANSWER",
        }
    )


def attempt(data: Data, o: dict, t: datetime, agent: str, outcome: str, note: str):
    data.attempts.append(
        {
            "target": f"orders:{o['id']}",
            "agent": AGENTS[agent][0],
            "at": iso(t),
            "outcome": outcome,
            "note": note,
            "_t": t,
            "_order": o,
        }
    )
    o["_attempts"].append((t, outcome))


def run_queue(data: Data, mb):
    r = rng_for("queue")
    stock = stock_qty()
    violations = {"few": set(), "gap": set()}
    bank_resend: list[tuple[dict, datetime, str]] = []
    questions: list[tuple[dict, datetime, str]] = []
    for d in DAYS:
        if not is_business(d):
            continue
        agent = agent_for(d)
        start = prev_business(d)
        day_end = at(d, 17, 58)
        # the queue at the start of the day plus orders arriving during the day (refreshed regularly)
        cands = [o for o in data.orders if in_queue(o) and start <= o["_t"].date() <= d]
        heap: list = []
        state: dict[str, dict] = {}
        for o in sorted(cands, key=lambda o: o["_t"], reverse=True):  # newest first
            first = max(at(d, 9, 2), o["_t"] + timedelta(minutes=r.randint(12, 45)))
            if first > day_end:
                continue
            # newest-first ordering of the morning pass; later arrivals are picked up on refresh
            key = first if first > at(d, 9, 2) else at(d, 9, 2) + timedelta(seconds=len(heap))
            heapq.heappush(heap, (key, o["id"]))
            state[o["id"]] = {"o": o, "n": 0, "last": None}
        byid = {o["id"]: o for o in cands}
        if d == ANCHOR - timedelta(days=1):
            ids = sorted(
                oid
                for oid in state
                if byid[oid]["_t"] < at(d, 10, 30)
                and not byid[oid]["support_called"]
                and byid[oid]["status"] in ("pending", "pending_payment")
            )
            r.shuffle(ids)
            violations["few"].update(ids[:3])
            violations["gap"].update(ids[3:5])
        free = at(d, 9, 0)
        while heap:
            key, oid = heapq.heappop(heap)
            inbound = oid.startswith("in:")
            if inbound:
                oid = oid[3:]
            o = byid[oid]
            st = state[oid]
            # skip orders that left the queue (confirmed, paid, cancelled)
            if o["support_called"] or o["status"] not in ("pending", "pending_payment"):
                continue
            digits = o["_cust"]["_digits"]
            if inbound:
                # the customer calls back after a missed call
                if key > at(d, 17, 58) or key < free or r.random() > 0.8:
                    cdr_in(data, digits, key, None, 0)
                    continue
                talk = r.randint(60, 240)
                cdr_in(data, digits, key, agent, talk)
                note, hold, resent = confirm_note(data, o, r, key, agent, stock)
                attempt(
                    data,
                    o,
                    key,
                    agent,
                    "confirmed",
                    "Вхідний дзвінок від клієнта (передзвонив після пропущеного). " + note,
                )
                o["support_called"] = True
                o["_confirmed"] = key
                o["manager"] = AGENTS[agent][0]
                comment(
                    o,
                    key + timedelta(seconds=talk + 40),
                    AGENTS[agent][0],
                    "Клієнт передзвонив і підтвердив замовлення. Customer Support Called = Yes.",
                )
                if hold:
                    set_status(o, key + timedelta(seconds=talk + 60), "holded", AGENTS[agent][0])
                if resent:
                    bank_resend.append((o, key + timedelta(seconds=talk + 90), agent))
                free = key + timedelta(seconds=talk + r.randint(40, 120))
                continue
            t = max(key, free) + timedelta(seconds=r.randint(5, 90))
            if t > day_end:
                continue
            if 13 <= t.hour < 14 and r.random() < 0.8:  # lunch
                t = at(d, 14, r.randint(0, 10), r.randrange(60))
            roll = r.random()
            p_conf = 0.36 if st["n"] else 0.28
            special = d == ANCHOR - timedelta(days=1) and (
                oid in violations["few"] or oid in violations["gap"]
            )
            if special:
                p_conf = 0.0
            if roll < p_conf:
                outcome = "confirmed"
            elif roll < p_conf + 0.15:
                outcome = "callback"
            else:
                outcome = "no-answer"
            if outcome == "no-answer":
                disp = r.choices(["NO ANSWER", "BUSY", "FAILED"], weights=[78, 16, 6])[0]
                dur = cdr_out(data, agent, digits, t, disp, 0)
                note = g(r.choice(NOANSWER), o["_cust"]["_female"])
                if disp == "BUSY":
                    note = "Номер зайнятий"
                elif disp == "FAILED":
                    note = "Абонент поза зоною досяжності"
                if r.random() < 0.3 and not special:
                    heapq.heappush(
                        heap,
                        (
                            t + timedelta(minutes=r.randint(10, 150), seconds=r.randrange(60)),
                            "in:" + oid,
                        ),
                    )
            elif outcome == "callback":
                dur = cdr_out(data, agent, digits, t, "ANSWERED", r.randint(15, 55))
                alt = o["_cust"]["_alt"]
                note = g(r.choice(CALLBACK), o["_cust"]["_female"])
                if "{alt}" in note:
                    note = (
                        note.format(alt=fmt_ua(alt, 2))
                        if alt
                        else "Не зручно говорити, передзвонити пізніше"
                    )
            else:
                dur = cdr_out(data, agent, digits, t, "ANSWERED", r.randint(70, 330))
                note, hold, resent = confirm_note(data, o, r, t, agent, stock)
                o["support_called"] = True
                o["_confirmed"] = t
                o["manager"] = AGENTS[agent][0]
                comment(
                    o,
                    t + timedelta(seconds=dur + 40),
                    AGENTS[agent][0],
                    "Клієнт підтвердив замовлення по телефону. Customer Support Called = Yes.",
                )
                if hold:
                    set_status(o, t + timedelta(seconds=dur + 60), "holded", AGENTS[agent][0])
                    comment(
                        o,
                        t + timedelta(seconds=dur + 60),
                        AGENTS[agent][0],
                        "Утримано: товару немає на складі, клієнт чекає поставку.",
                    )
                if resent:
                    bank_resend.append((o, t + timedelta(seconds=dur + r.randint(60, 200)), agent))
                if r.random() < 0.12:
                    questions.append((o, t + timedelta(seconds=dur + 30), agent))
                    note += g(
                        " Питання клієнта {записала|записав}, відповідь — e-mail сьогодні до 17:00.",
                        AGENT_FEMALE[agent],
                    )
            attempt(data, o, t, agent, outcome, note)
            st["n"] += 1
            st["last"] = t
            free = t + timedelta(seconds=dur + r.randint(40, 150))
            if outcome == "confirmed":
                continue
            limit = 2 if special and oid in violations["few"] else 3
            if st["n"] >= limit:
                continue
            if special and oid in violations["gap"] and st["n"] == 1:
                nxt = t + timedelta(minutes=r.randint(35, 80))
            elif outcome == "callback" and "15:00" in note and t.hour < 13:
                nxt = max(t + timedelta(hours=2), at(d, 15, r.randint(0, 20)))
            else:
                nxt = t + timedelta(hours=2, minutes=r.randint(5, 45))
            heapq.heappush(heap, (nxt, oid))
    return bank_resend, questions, violations


def payments_and_other_orders(data: Data):
    """Payments, shipping, auto-cancel; call-centre confirmation of other orders."""
    r = rng_for("payments")
    for o in sorted(data.orders, key=lambda o: o["_t"]):
        t0 = o["_t"]
        if in_queue(o):
            conf = o["_confirmed"]
            if o["status"] == "holded":
                continue
            if conf is not None and r.random() < 0.72:
                tp = next_business_time(conf + timedelta(hours=r.randint(2, 30)), r)
            elif conf is None and r.random() < 0.22:
                tp = next_business_time(t0 + timedelta(hours=r.randint(3, 40)), r)
            else:
                tp = None
            if tp is not None and tp <= END:
                o["_paid"] = tp
                o["payment_status"] = "paid"
                set_status(o, tp, "processing", "system")
                comment(
                    o,
                    tp,
                    "system",
                    f"Оплата надійшла на рахунок: {uah(o['total'])} грн (банківська виписка).",
                )
                ts = next_business_time(tp + timedelta(hours=r.randint(4, 26)), r)
                if ts <= END and ts.date() < ANCHOR:
                    set_status(o, ts, "complete", "Склад")
                    o["delivery_date"] = (ts.date() + timedelta(days=1)).isoformat()
                    comment(o, ts, "Склад", f"Відправлено: ТТН 20450{r.randrange(10**9):09d}.")
            elif tp is None and t0.date() <= date(2026, 1, 8):
                tc = at(t0.date() + timedelta(days=5), 3, 0)
                if tc <= END:
                    set_status(o, tc, "canceled", "system")
                    comment(
                        o,
                        tc,
                        "system",
                        "Автоматичне скасування: оплата не надійшла протягом 5 днів.",
                    )
            continue
        # other orders: the general call centre confirms cash-on-delivery and some others
        if o["payment_method"] == "cashondelivery" or r.random() < 0.45:
            tc = next_business_time(t0 + timedelta(minutes=r.randint(20, 240)), r)
            if tc <= END and r.random() < 0.85:
                o["support_called"] = True
                o["manager"] = CALLCENTRE
                comment(o, tc, CALLCENTRE, "Підтверджено по телефону.")
                if o["payment_method"] == "cashondelivery":
                    set_status(o, tc + timedelta(minutes=2), "processing", CALLCENTRE)
                    ts = next_business_time(tc + timedelta(hours=r.randint(3, 24)), r)
                    if ts <= END and ts.date() < ANCHOR:
                        set_status(o, ts, "complete", "Склад")
                        o["delivery_date"] = (ts.date() + timedelta(days=1)).isoformat()
                        comment(
                            o,
                            ts,
                            "Склад",
                            f"Відправлено: ТТН 20450{r.randrange(10**9):09d}, післяплата {uah(o['total'])} грн.",
                        )
                elif r.random() < 0.6:
                    tp = next_business_time(tc + timedelta(hours=r.randint(2, 30)), r)
                    if tp <= END:
                        o["payment_status"] = "paid"
                        set_status(o, tp, "processing", "system")
            elif tc <= END and r.random() < 0.5:
                set_status(o, tc, "canceled", CALLCENTRE)
                comment(
                    o,
                    tc,
                    CALLCENTRE,
                    r.choice(
                        [
                            "Клієнт відмовився: знайшов дешевше.",
                            "Дубль замовлення.",
                            "Клієнт відмовився: замовив помилково.",
                        ]
                    ),
                )


def deliberate_mistakes(data: Data, avoid: set):
    """A few records that break the procedure (for the checks)."""
    # (no randomness needed here)
    y = ANCHOR - timedelta(days=1)
    # support_called set to Yes without a phone confirmation (confirmed by e-mail only)
    cands = [
        o
        for o in data.orders
        if in_queue(o)
        and not o["support_called"]
        and o["_attempts"]
        and o["_t"].date() in (y, ANCHOR)
        and o["status"] in ("pending", "pending_payment")
        and o["id"] not in avoid
    ]
    o = sorted(cands, key=lambda o: o["id"])[0]
    o["support_called"] = True
    o["manager"] = AGENTS["Мельник"][0]
    comment(
        o,
        o["_attempts"][-1][0] + timedelta(minutes=50),
        AGENTS["Мельник"][0],
        g(
            "{Клієнтка відповіла|Клієнт відповів} на лист, що замовлення актуальне. ",
            o["_cust"]["_female"],
        )
        + "Поставила Support Called = Yes.",
    )
    data.mistake_ids = [o["id"]]


# ---------------------------------------------------------------------------
# Mail
# ---------------------------------------------------------------------------

CLIENT_STYLES = [
    ("utf-8", "base64", None, "plain", False),
    ("utf-8", "base64", None, "plain", True),
    ("utf-8", "qp", None, "plain", True),
    ("utf-8", "8bit", "Mozilla Thunderbird", "plain", False),
    ("windows-1251", "qp", "Microsoft Outlook 16.0", "outlook", True),
    ("windows-1251", "base64", "Microsoft Outlook 16.0", "outlook", True),
    ("windows-1251", "8bit", None, "plain", False),
]
CLIENT_W = [26, 18, 8, 6, 16, 10, 8]


def quote(text: str, who: str, t: datetime) -> str:
    lines = "\n".join("> " + ln if ln else ">" for ln in text.strip().split("\n"))
    return f"\n\n{t.strftime('%d.%m.%Y %H:%M')}, {who} пише:\n{lines}\n"


def customer_mail(mb, rng, cust, subject, text, t, attachments=(), in_reply_to=None, charset=None):
    style = rng.choices(CLIENT_STYLES, weights=CLIENT_W)[0]
    if charset:
        style = next(s for s in CLIENT_STYLES if s[0] == charset)
    cs, cte, mailer, bstyle, alt = style
    name = rng.choice(
        [f"{cust['_first']} {cust['_last']}", f"{cust['_last']} {cust['_first']}", None]
    )
    msg = mb.build_mail(
        frm=(name, cust["emails"][0]),
        to=[(None, MAILBOX_ADDR[MAILBOX])],
        subject=subject,
        t=t,
        text=text,
        html=html_of(text) if alt else None,
        charset=cs,
        cte=cte,
        attachments=list(attachments),
        in_reply_to=in_reply_to,
        mailer=mailer,
        style=bstyle,
    )
    mb.add(MAILBOX, "INBOX", t, msg)
    return msg


def team_mail(mb, agent_name, to, subject, text, t, attachments=(), in_reply_to=None, cc=()):
    msg = mb.build_mail(
        frm=(MAILBOX_NAME[MAILBOX], MAILBOX_ADDR[MAILBOX]),
        to=[to],
        subject=subject,
        t=t,
        text=text,
        charset="utf-8",
        cte="base64",
        attachments=list(attachments),
        in_reply_to=in_reply_to,
        cc=list(cc),
        mailer="Magna Mail",
    )
    mb.add(MAILBOX, "Sent", t, msg)
    return msg


def signature(agent_name: str) -> str:
    return f"З повагою,\n{agent_name}\nінтернет-аптека «{SHOP}»\n+380 44 333 44 55\n{SITE}"


def bank_details_text(o: dict, agent_name: str) -> str:
    c = o["_cust"]
    return (
        f"Доброго дня, {c['_first']}!\n\nДякуємо за замовлення №{o['id']} на суму {uah(o['total'])} грн.\n\n"
        f"Реквізити для оплати:\nОтримувач: {BANK['recipient']}\nЄДРПОУ: {BANK['edrpou']}\nIBAN: {BANK['iban']}\n"
        f"Банк: {BANK['bank']}\nПризначення платежу: Оплата за замовлення №{o['id']}, без ПДВ\n\n"
        f"Після надходження коштів (зазвичай протягом 1 банківського дня) ми відправимо замовлення. "
        f"Якщо наші листи потрапляють у «Спам», позначте їх як «Не спам».\n\n{signature(agent_name)}"
    )


def reminder_text(o: dict, agent_name: str) -> str:
    c = o["_cust"]
    return (
        f"Доброго дня, {c['_first']}!\n\nНагадуємо, що замовлення №{o['id']} на суму {uah(o['total'])} грн "
        f"очікує оплати. Реквізити для оплати — у попередньому листі (або відповімо на цей лист і надішлемо ще раз).\n"
        f"Якщо ви вже оплатили, надішліть, будь ласка, квитанцію у відповідь на цей лист.\n\n{signature(agent_name)}"
    )


def mails(data: Data, mb, bank_resend, questions):
    r = rng_for("mail-scen")
    # 1) bank details re-sent after the call
    for o, t, agent in bank_resend:
        if t > END:
            continue
        team_mail(
            mb,
            AGENTS[agent][0],
            (o["customer_name"], o["email"]),
            f"Реквізити для оплати замовлення №{o['id']}",
            bank_details_text(o, AGENTS[agent][0]),
            t,
        )
        comment(o, t, AGENTS[agent][0], "Реквізити надіслано повторно на e-mail.")
    # 2) customers asking for bank details / did not get the e-mail
    bt = [o for o in data.orders if o["payment_method"] == "banktransfer"]
    r.shuffle(bt)
    for i, o in enumerate(bt[:12]):
        c = o["_cust"]
        t = o["_t"] + timedelta(minutes=r.randint(20, 900))
        if t > END:
            continue
        subj, text = r.choice(
            [
                (
                    "Реквізити",
                    f"Добрий день! Надішліть, будь ласка, реквізити для оплати замовлення {o['id']}. Лист не прийшов.",
                ),
                (
                    f"Замовлення {o['id']}",
                    g(
                        "Доброго дня. {Оформила|Оформив} замовлення, а як оплатити? Де реквізити?",
                        c["_female"],
                    ),
                ),
                (
                    "оплата",
                    f"Не можу знайти лист з рахунком на оплату, замовлення №{o['id']}. Дякую",
                ),
                (
                    "Рахунок на оплату",
                    f"Доброго дня! Прошу надіслати рахунок для оплати замовлення №{o['id']} (оплата з картки через банк).",
                ),
            ]
        )
        text += "\n\n" + r.choice(
            [
                c["_first"],
                f"{c['_first']} {c['_last']}",
                f"З повагою, {c['_last']} {c['_first'][0]}.",
            ]
        )
        m = customer_mail(mb, r, c, subj, text, t)
        if i in (3, 9) or t > at(ANCHOR, 17, 30):
            continue  # not answered yet
        agent = agent_for(t.date())
        tr = next_business_time(t + timedelta(minutes=r.randint(8, 70)), r)
        if tr > END:
            continue
        team_mail(
            mb,
            AGENTS[agent][0],
            (None, c["emails"][0]),
            f"Re: {subj}",
            bank_details_text(o, AGENTS[agent][0]) + quote(text, c["emails"][0], t),
            tr,
            in_reply_to=m,
        )
    # 3) payment receipts (attachments) and "when will you ship?"
    paid = [
        o
        for o in data.orders
        if o["payment_status"] == "paid" and o["payment_method"] == "banktransfer"
    ]
    r.shuffle(paid)
    for i, o in enumerate(paid[:9]):
        c = o["_cust"]
        tp = datetime.fromisoformat(
            next(h["at"] for h in o["status_history"] if h["status"] == "processing")
        )
        t = tp - timedelta(minutes=r.randint(30, 600))
        if t < o["_t"]:
            t = o["_t"] + timedelta(minutes=r.randint(20, 60))
        kind = "jpg" if i % 3 else "pdf"
        fname = (
            f"IMG_{t.strftime('%Y%m%d')}_{r.randint(100000, 235959)}.jpg"
            if kind == "jpg"
            else f"Квитанція_{o['id']}.pdf"
        )
        data_ = fake_jpeg(r) if kind == "jpg" else fake_pdf("Kvytantsiia", r)
        text = r.choice(
            [
                g(
                    f"Доброго дня! {{Оплатила|Оплатив}} замовлення №{o['id']}, квитанція у вкладенні.",
                    c["_female"],
                ),
                f"Оплата за замовлення {o['id']} — квитанція додається. Коли відправите?",
                g(
                    "Добрий день, {оплатила|оплатив}. Прошу відправити сьогодні, якщо можна.",
                    c["_female"],
                ),
            ]
        )
        customer_mail(
            mb,
            r,
            c,
            r.choice(
                [
                    "Оплата",
                    f"Квитанція, замовлення {o['id']}",
                    g("{Оплатила|Оплатив}", c["_female"]),
                ]
            ),
            text,
            t,
            attachments=[attachment(data_, fname, kind)],
        )
    # 4) payment reminders for confirmed but unpaid orders (Sent)
    unpaid = [
        o
        for o in data.orders
        if in_queue(o)
        and o["support_called"]
        and o["payment_status"] == "unpaid"
        and o["_confirmed"]
        and o["_confirmed"].date() < ANCHOR
        and o["status"] != "holded"
    ]
    for o in unpaid[:7]:
        t = next_business_time(o["_confirmed"] + timedelta(hours=r.randint(20, 26)), r)
        if t > END:
            continue
        agent = agent_for(t.date())
        team_mail(
            mb,
            AGENTS[agent][0],
            (o["customer_name"], o["email"]),
            f"Нагадування про оплату замовлення №{o['id']}",
            reminder_text(o, AGENTS[agent][0]),
            t,
        )
        comment(o, t, AGENTS[agent][0], "Надіслано нагадування про оплату.")
    # 5) questions the agent could not answer: supervisor round trip, then the answer to the customer
    qtexts = [
        (
            "Чи можна приймати {item} разом з антибіотиком?",
            "Так, можна, але з інтервалом 2 години; краще уточнити у лікаря.",
        ),
        ("Чи потрібен рецепт на {item}?", "{rx}"),
        (
            "Чи можна отримати фіскальний чек на підприємство?",
            "Так, виставимо рахунок на ФОП/ТОВ, потрібні реквізити підприємства.",
        ),
        ("Який термін придатності {item}?", "Партія на складі придатна до 09.2027."),
    ]
    for k, (o, t, agent) in enumerate(questions[:4]):
        if t > END:
            continue
        q, a = qtexts[k % len(qtexts)]
        q = q.format(item=o["items"][0]["name"])
        if a == "{rx}":
            a = (
                "Так, препарат рецептурний: фото рецепта треба надіслати до відправлення."
                if CAT[o["items"][0]["sku"]][4]
                else "Ні, препарат відпускається без рецепта."
            )
        aname = AGENTS[agent][0]
        data.notes.append(
            {
                "id": f"N-{len(data.notes) + 1:04d}",
                "target": f"orders:{o['id']}",
                "author": aname,
                "at": iso(t + timedelta(minutes=1)),
                "text": g(
                    f"Питання клієнта: «{q}» Домовились: відповідь на e-mail до 17:00. {{Запитала|Запитав}} керівника.",
                    AGENT_FEMALE[agent],
                ),
            }
        )
        m = team_mail(
            mb,
            aname,
            (SUPERVISOR[0], SUPERVISOR[1]),
            f"Питання клієнта по замовленню №{o['id']}",
            g(
                f"Сергію, добрий день!\n\nКлієнт по замовленню №{o['id']} питає: {q}\n{{Обіцяла|Обіцяв}} відповісти на e-mail до 17:00.\n\n{aname}",
                AGENT_FEMALE[agent],
            ),
            t + timedelta(minutes=3),
        )
        ts = t + timedelta(minutes=r.randint(25, 110))
        if ts > END:
            continue
        sup = mb.build_mail(
            frm=(SUPERVISOR[0], SUPERVISOR[1]),
            to=[(None, MAILBOX_ADDR[MAILBOX])],
            subject=f"Re: Питання клієнта по замовленню №{o['id']}",
            t=ts,
            text=f"{a}\n\nС.Б." + quote(f"Клієнт питає: {q}", aname, t),
            charset="utf-8",
            cte="8bit",
            in_reply_to=m,
        )
        mb.add(MAILBOX, "INBOX", ts, sup)
        tr = ts + timedelta(minutes=r.randint(5, 30))
        if tr <= END:
            team_mail(
                mb,
                aname,
                (o["customer_name"], o["email"]),
                f"Відповідь на ваше питання, замовлення №{o['id']}",
                f"Доброго дня, {o['_cust']['_first']}!\n\nВи питали: {q}\n{a}\n\n{signature(aname)}",
                tr,
            )
            data.notes.append(
                {
                    "id": f"N-{len(data.notes) + 1:04d}",
                    "target": f"orders:{o['id']}",
                    "author": aname,
                    "at": iso(tr),
                    "text": f"Відповідь керівника передана клієнту e-mail: {a}",
                }
            )
    # 6) stock questions and "when will you ship"
    others = [o for o in data.orders if o["payment_method"] != "banktransfer"]
    r.shuffle(others)
    for i, o in enumerate(others[:6]):
        c = o["_cust"]
        t = o["_t"] + timedelta(hours=r.randint(1, 30))
        if t > END:
            continue
        it = o["items"][0]
        subj, text = [
            (
                "Наявність",
                f"Чи є у вас {it['name']}? Хочу дозамовити ще 2 упаковки до замовлення {o['id']}.",
            ),
            ("Коли відправка?", f"Доброго дня, коли буде відправлено замовлення {o['id']}? Дякую."),
            (
                "Зміна адреси",
                f"Прошу змінити відділення Нової Пошти для замовлення {o['id']} на №{r.randint(2, 30)}.",
            ),
        ][i % 3]
        m = customer_mail(mb, r, c, subj, text, t)
        tr = next_business_time(t + timedelta(minutes=r.randint(10, 90)), r)
        if tr <= END and i % 2 == 0:
            team_mail(
                mb,
                CALLCENTRE,
                (None, c["emails"][0]),
                f"Re: {subj}",
                f"Доброго дня!\n\nДякуємо за звернення, {['є в наявності, додали до замовлення', 'відправка протягом 1 робочого дня після підтвердження', 'змінили відділення'][i % 3]}.\n\n{signature('Служба підтримки')}"
                + quote(text, c["emails"][0], t),
                tr,
                in_reply_to=m,
            )
    # 7) Magento new-order copies (HTML only)
    for o in sorted(data.orders, key=lambda o: o["_t"])[::40]:
        rows = "".join(
            f"<tr><td>{i['name']}</td><td>{i['sku']}</td><td>{i['qty']}</td><td>{uah(i['price'])} грн</td></tr>"
            for i in o["items"]
        )
        html = (
            f'<html><body style="font-family:Arial"><h2>Нове замовлення №{o["id"]}</h2>'
            f"<p>Клієнт: {o['customer_name']}, {o['phone']}, {o['email']}</p>"
            f"<p>Доставка: {o['delivery_method']}, {o['city']}</p><p>Оплата: {o['payment_method']}</p>"
            f'<table border="1" cellpadding="4"><tr><th>Товар</th><th>Артикул</th><th>К-сть</th><th>Ціна</th></tr>{rows}</table>'
            f"<p><b>Разом: {uah(o['total'])} грн</b></p></body></html>"
        )
        msg = mb.build_mail(
            frm=("Magna", f"noreply@{SITE}"),
            to=[(None, MAILBOX_ADDR[MAILBOX])],
            subject=f"{SHOP}: Нове замовлення № {o['id']}",
            t=o["_t"] + timedelta(seconds=20),
            html=html,
            charset="utf-8",
            cte="qp",
        )
        mb.add(MAILBOX, "INBOX", o["_t"] + timedelta(seconds=20), msg)


def bounces(data: Data, mb, avoid: set):
    r = rng_for("bounces")
    q = [
        o
        for o in data.orders
        if in_queue(o)
        and o["_attempts"]
        and o["status"] in ("pending", "pending_payment")
        and o["_t"].date() >= ANCHOR - timedelta(days=2)
        and o["id"] not in avoid
    ]
    q = sorted(q, key=lambda o: o["id"])
    o1, o2 = q[0], q[1]
    # 1) RFC 3464 delivery status notification
    c = o1["_cust"]
    bad = c["emails"][0].split("@")[0] + "@exmaple.ua"
    o1["email"] = bad
    c["notes"] = f"У замовленні №{o1['id']} e-mail з помилкою ({bad})"
    t = datetime.fromisoformat(o1["created_at"]) + timedelta(minutes=1)
    orig = team_mail(
        mb,
        "system",
        (o1["customer_name"], bad),
        f"Реквізити для оплати замовлення №{o1['id']}",
        bank_details_text(o1, "Інтернет-аптека"),
        t,
    )
    tb = t + timedelta(seconds=9)
    human = MIMEText(
        f"This is the mail system at host mail.{SITE}.\n\nI'm sorry to have to inform you that your message "
        f"could not be delivered to one or more recipients.\n\n<{bad}>: Host or domain name not found. "
        f"Name service error for name=exmaple.ua type=MX: Host not found\n",
        "plain",
        "us-ascii",
    )
    ds = delivery_status(
        [("Reporting-MTA", f"dns; mail.{SITE}"), ("Arrival-Date", format_datetime(t))],
        [
            ("Final-Recipient", f"rfc822; {bad}"),
            ("Action", "failed"),
            ("Status", "5.1.2"),
            (
                "Diagnostic-Code",
                "X-Postfix; Host or domain name not found. Name service error for name=exmaple.ua type=MX: Host not found",
            ),
        ],
    )
    mb.add_bounce(MAILBOX, tb, f"mail.{SITE}", human, ds, orig, bad, MAILBOX_ADDR[MAILBOX])
    # 2) exim-style free-text bounce (mailbox does not exist)
    c = o2["_cust"]
    bad2 = c["emails"][0].replace("@", ".ua@", 1) if r.random() < 0.5 else "x" + c["emails"][0]
    o2["email"] = bad2
    t2 = datetime.fromisoformat(o2["created_at"]) + timedelta(minutes=1)
    orig2 = team_mail(
        mb,
        "system",
        (o2["customer_name"], bad2),
        f"Реквізити для оплати замовлення №{o2['id']}",
        bank_details_text(o2, "Інтернет-аптека"),
        t2,
    )
    tb2 = t2 + timedelta(seconds=44)
    dom = bad2.split("@")[1]
    text = (
        f"This message was created automatically by mail delivery software.\n\n"
        f"A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. "
        f"The following address(es) failed:\n\n  {bad2}\n    host mx.{dom} [192.0.2.17]\n"
        f"    SMTP error from remote mail server after RCPT TO:<{bad2}>:\n    550 5.1.1 User unknown\n\n"
        f"------ This is a copy of the message, including all the headers. ------\n\n"
        + orig2.as_bytes().decode("ascii", "replace")
    )
    m = mb.build_mail(
        frm=("Mail Delivery System", f"Mailer-Daemon@relay.{SITE}"),
        to=[(None, MAILBOX_ADDR[MAILBOX])],
        subject="Mail delivery failed: returning message to sender",
        t=tb2,
        text=text,
        charset="us-ascii",
        cte="8bit",
    )
    mb.add(MAILBOX, "INBOX", tb2, m)
    return [o1["id"], o2["id"]]


# ---------------------------------------------------------------------------
# Extra inbound calls (not tied to the queue) and output
# ---------------------------------------------------------------------------


def other_calls(data: Data):
    r = rng_for("other-calls")
    # customers of other orders and numbers that match nothing
    for d in DAYS:
        n = 5 if is_business(d) else 2
        for _ in range(n):
            h = r.choice(
                [9, 10, 11, 12, 14, 15, 16, 17, 18, 19] if is_business(d) else [10, 11, 12, 15, 16]
            )
            t = at(d, h, r.randrange(60), r.randrange(60))
            if r.random() < 0.6:
                o = r.choice([o for o in data.orders if o["_t"] < t] or data.orders)
                digits = o["_cust"]["_digits"]
            else:
                digits = "380" + r.choice(OPERATORS) + f"{r.randrange(10**7):07d}"
            working = is_business(d) and 9 <= h < 18
            ans = agent_for(d) if working and r.random() < 0.7 else None
            cdr_in(data, digits, t, ans, r.randint(30, 200) if ans else 0)


def hold_notes(data: Data):
    """Notes on held orders (waiting for stock) and the supervisor's follow-ups."""
    r = rng_for("notes")
    stock = stock_qty()
    for o in sorted(data.orders, key=lambda o: o["id"]):
        if o["status"] != "holded":
            continue
        t = datetime.fromisoformat(o["status_history"][-1]["at"]) + timedelta(
            minutes=r.randint(2, 15)
        )
        missing = [i["name"] for i in o["items"] if stock[i["sku"]] == 0]
        eta = (t.date() + timedelta(days=r.randint(2, 5))).strftime("%d.%m")
        data.notes.append(
            {
                "id": f"N-{len(data.notes) + 1:04d}",
                "target": f"orders:{o['id']}",
                "author": o["manager"],
                "at": iso(t),
                "text": f"Чекаємо поставку: {', '.join(missing)}. Логістика обіцяє до {eta}. "
                f"Клієнт згоден чекати, повідомити SMS після надходження.",
            }
        )
        t2 = t + timedelta(hours=r.randint(1, 5))
        if t2 <= END:
            data.notes.append(
                {
                    "id": f"N-{len(data.notes) + 1:04d}",
                    "target": f"orders:{o['id']}",
                    "author": SUPERVISOR[0],
                    "at": iso(t2),
                    "text": f"Перевірив: у логістиці залишок 0, поставка до {eta}. Тримаємо замовлення.",
                }
            )
    if getattr(data, "mistake_ids", None):
        o = next(x for x in data.orders if x["id"] == data.mistake_ids[0])
        t = datetime.fromisoformat(o["comments"][-1]["at"]) + timedelta(minutes=5)
        data.notes.append(
            {
                "id": f"N-{len(data.notes) + 1:04d}",
                "target": f"orders:{o['id']}",
                "author": o["manager"],
                "at": iso(t),
                "text": "Підтвердження отримано e-mail-ом, телефоном не дозвонилась (3 спроби).",
            }
        )


def write_master(data: Data) -> int:
    rows = sorted(data.cdr, key=lambda c: (c["start"], c["src"], c["dst"]))
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    seq = 4180
    fmt = "%Y-%m-%d %H:%M:%S"
    for c in rows:
        if c["start"] > END:
            continue
        seq += 1
        epoch = int(c["start"].timestamp())
        w.writerow(
            [
                "",
                c["src"],
                c["dst"],
                c["dcontext"],
                c["clid"],
                c["channel"],
                c["dstchannel"],
                c["lastapp"],
                c["lastdata"],
                c["start"].strftime(fmt),
                c["answer"].strftime(fmt) if c["answer"] else "",
                c["end"].strftime(fmt),
                c["duration"],
                c["billsec"],
                c["disposition"],
                "DOCUMENTATION",
                f"{epoch}.{seq}",
                "",
            ]
        )
    (OUT / "calls").mkdir(parents=True, exist_ok=True)
    (OUT / "calls" / "Master.csv").write_text(buf.getvalue(), encoding="utf-8")
    return seq - 4180


def finalize(data: Data):
    for o in data.orders:
        o["status_history"].sort(key=lambda h: h["at"])
        o["comments"].sort(key=lambda c: c["at"])
        o["status"] = o["status_history"][-1]["status"]
        o["updated_at"] = max(
            [o["created_at"]]
            + [h["at"] for h in o["status_history"]]
            + [c["at"] for c in o["comments"]]
        )
    for c in data.customers:
        mine = [o for o in data.orders if o["customer_id"] == c["id"]]
        if mine:
            c["updated_at"] = max(o["updated_at"] for o in mine)
            c["extra"]["orders"] = len(mine)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    data = Data()
    generate_orders(data)
    mb = MailBox(rng_for("mail"))
    bank_resend, questions, violations = run_queue(data, mb)
    payments_and_other_orders(data)
    special = violations["few"] | violations["gap"]
    deliberate_mistakes(data, special)
    mails(data, mb, bank_resend, questions)
    bounced = bounces(data, mb, special | set(data.mistake_ids))
    other_calls(data)
    hold_notes(data)
    finalize(data)
    write_jsonl(
        OUT / "customers.jsonl", map(public, sorted(data.customers, key=lambda c: int(c["id"])))
    )
    write_jsonl(OUT / "orders.jsonl", map(public, sorted(data.orders, key=lambda o: o["id"])))
    attempts = sorted(data.attempts, key=lambda a: (a["_t"], a["target"]))
    for i, a in enumerate(attempts, 1):
        a["id"] = f"CA-{i:05d}"
    write_jsonl(OUT / "call_attempts.jsonl", [{"id": a["id"], **public(a)} for a in attempts])
    write_jsonl(OUT / "notes.jsonl", map(public, sorted(data.notes, key=lambda n: n["at"])))
    stock = stock_qty()
    with open(OUT / "stock.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(["sku", "name", "qty"])
        for c in CATALOGUE:
            w.writerow([c[0], c[2], stock[c[0]]])
    n_cdr = write_master(data)
    counts = mb.write(OUT, END)
    (OUT / "manifest.toml").write_text(
        'anchor = "2026-01-14"\n'
        'timezone = "Europe/Kyiv"\n'
        'description = "Інтернет-аптека «Добрий лік»: підтвердження неоплачених замовлень (Magento), '
        'спроби дзвінків, склад логістики, пошта, Asterisk CDR"\n',
        encoding="utf-8",
    )
    print(
        f"customers {len(data.customers)}, orders {len(data.orders)}, call_attempts {len(attempts)}, "
        f"notes {len(data.notes)}, cdr {n_cdr}, mail {sum(counts.values())} {counts}"
    )
    print(
        f"  violations: fewer than 3 attempts on {sorted(violations['few'])}, gap < 2 h on {sorted(violations['gap'])}; "
        f"support_called without phone confirmation: {data.mistake_ids}; bounced: {bounced}"
    )


if __name__ == "__main__":
    main()
