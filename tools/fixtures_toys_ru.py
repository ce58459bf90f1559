#!/usr/bin/env python3
"""Generate the `toys-ru` demo dataset (online toy shop with affiliate storefronts, Russia).

Deterministic (seeded ``random``), stdlib only.  Running it (re)writes
``fixtures/toys-ru/``:

    manifest.toml
    customers.jsonl  orders.jsonl  returns.jsonl
    pickup_points.csv                      (ПВЗ reference list, ``;``-separated, UTF-8)
    calls/sipuni-2026-01-06--2026-01-07.csv   (older export: CP1251, short column set)
    calls/sipuni-2026-01-08--2026-01-14.csv   (UTF-8 with BOM, full column set)
    mail/<mailbox>/NNNN.eml, mail/<mailbox>/Sent/NNNN.eml

Everything is synthetic: names are invented, domains are ``*.example``, phone
numbers are random numbers in the Russian mobile format.  The data is anchored
at ANCHOR (Wednesday 2026-01-14, Europe/Moscow); activity covers ANCHOR-8 days
00:00 .. ANCHOR 23:59.  A few delivered December orders exist only as the
originals of return requests (ЗНВ).

The profile configuration lives in ``fixtures/profiles/toys-ru.toml``; the
constants below (lines, tariffs, statuses, flags, affiliates, delivery tables)
must stay consistent with it.
"""

# ruff: noqa: E501  (long data rows and message texts are kept on one line for readability)
from __future__ import annotations

import csv
import io
import math
import random
import shutil
import zipfile
from datetime import date, datetime, timedelta, timezone
from email.message import Message
from email.mime.message import MIMEMessage
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

PROFILE = "toys-ru"
OUT = ROOT / "fixtures" / PROFILE

TZ = timezone(timedelta(hours=3), "MSK")
DAY0 = START  # Tuesday 2026-01-06


def at(d: date, h: int, m: int = 0, s: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=TZ)


SNAP = at(ANCHOR, 21, 0)  # the state of the order system is "as of" the end of the day shift
END = at(ANCHOR, 23, 59, 59)

# Non-working days in Russia in the anchor month (government calendar 2026:
# 1-8 January public holidays, 9 January moved from 3 January, 10-11 weekend).
HOLIDAYS = {date(2026, 1, d) for d in range(1, 9)} | {date(2026, 1, 9)}


def rng_for(name: str) -> random.Random:
    return random.Random(f"{PROFILE}/{name}/v1")


def rub(x: float) -> str:
    s = f"{x:,.0f}".replace(",", " ")
    return f"{s} ₽"


def rub2(x: float) -> str:
    return f"{x:,.2f}".replace(",", " ").replace(".", ",")


# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------

MAIN_SITE = "igromir.example"

# code: (site, display name, mailbox dir, address, delivery group, signature required)
AFFILIATES = {
    "igromir": ("igromir.example", "Игромир", "support", "support@igromir.example", "A", False),
    "konstruktor-pro": (
        "konstruktor-pro.example",
        "Конструктор-Про",
        "konstruktor-pro",
        "zakaz@konstruktor-pro.example",
        "B",
        True,
    ),
    "kukly-ko": ("kukly-ko.example", "Куклы и Ко", "kukly-ko", "info@kukly-ko.example", "B", True),
    "malysh-market": (
        "malysh-market.example",
        "Малыш-Маркет",
        "malysh-market",
        "shop@malysh-market.example",
        "A",
        False,
    ),
    "radio-igrushki": (
        "radio-igrushki.example",
        "Радиоигрушки",
        "radio-igrushki",
        "help@radio-igrushki.example",
        "B",
        False,
    ),
}
AFF_WEIGHTS = {
    "igromir": 44,
    "konstruktor-pro": 15,
    "kukly-ko": 14,
    "malysh-market": 15,
    "radio-igrushki": 12,
}
AFF_HOTLINE = {"igromir": "8-800 Игромир"}  # the others share "8-800 Партнёры"

SIGNATURES = {
    "igromir": "С уважением,\nслужба поддержки интернет-магазина «Игромир»\n8 800 100-00-00 (звонок бесплатный)\nigromir.example",
    "konstruktor-pro": "С уважением,\nслужба заботы о клиентах «Конструктор-Про»\n8 800 200-00-00\nkonstruktor-pro.example",
    "kukly-ko": "С уважением,\nкоманда магазина «Куклы и Ко»\n8 800 200-00-00\nkukly-ko.example",
    "malysh-market": "С уважением,\nМалыш-Маркет\nmalysh-market.example",
    "radio-igrushki": "С уважением,\nинтернет-магазин «Радиоигрушки»\nradio-igrushki.example",
}
MAILBOX_ADDR = {
    "support": "support@igromir.example",
    "returns": "vozvrat@igromir.example",
    "delivery": "dostavka@igromir.example",
    "konstruktor-pro": "zakaz@konstruktor-pro.example",
    "kukly-ko": "info@kukly-ko.example",
    "malysh-market": "shop@malysh-market.example",
    "radio-igrushki": "help@radio-igrushki.example",
}
MAILBOX_NAME = {
    "support": "Игромир — поддержка",
    "returns": "Игромир — возвраты",
    "delivery": "Игромир — доставка",
    "konstruktor-pro": "Конструктор-Про",
    "kukly-ko": "Куклы и Ко",
    "malysh-market": "Малыш-Маркет",
    "radio-igrushki": "Радиоигрушки",
}

# Managers: surname -> (full display name, sipuni extension)
MANAGERS = {
    "Смирнова": ("Смирнова Анна", "201"),
    "Кузнецов": ("Кузнецов Илья", "202"),
    "Попова": ("Попова Ольга", "203"),
    "Васильева": ("Васильева Екатерина", "204"),
    "Морозов": ("Морозов Денис", "205"),
    "Новикова": ("Новикова Дарья", "206"),
    "Лебедев": ("Лебедев Артём", "207"),  # night shift
}
DAY_MANAGERS = ["Смирнова", "Кузнецов", "Попова", "Васильева", "Морозов", "Новикова"]
HOLIDAY_MANAGERS = ["Смирнова", "Попова", "Морозов"]
HEAD_OF_SALES = ("Волков Дмитрий", "rop@igromir.example", "210")

# Sipuni lines.  Billing: 8-800 hotlines per minute, all other lines per second.
LINES = {
    name: {"number": number, "billing": billing, "rate": rate, "internal": internal}
    for name, number, billing, rate, internal in [
        ("Игромир Москва", "74951000000", "per_second", 1.80, False),
        ("Игромир СПб", "78121000000", "per_second", 1.80, False),
        ("8-800 Игромир", "78001000000", "per_minute", 4.50, False),
        ("8-800 Партнёры", "78002000000", "per_minute", 4.50, False),
        ("ОРТ", "74951000010", "per_second", 1.80, True),
        ("HR", "74951000020", "per_second", 1.80, True),
        ("V3stock", "74951000030", "per_second", 1.80, True),
    ]
}

ST_NEW, ST_BEFORE, ST_FOR, ST_NOANS = "Новый", "Перед сборкой", "Для сборки", "Недозвон"
ST_CANCEL, ST_DUP, ST_ASSEMBLED = "Отмена", "Отмена дубль", "Собран"
ST_SHIPPED, ST_DELIVERED, ST_RETURNED = "Отгружен", "Доставлен", "Возврат"

F_EXCH = "Обмен/Возврат"
F_INVOICE = "Отправить счёт"
F_TAKEN = "Получен менеджером"
F_KEEP = "Оставляем"
F_CALLBACK = "Перезвонить"
F_CALLING = "Обзвон"
F_STOCK = "Склад"
F_PRICE = "Изменение стоимости"
F_REFUND = "Возврат денег"
F_PROBLEM = "Проблемный заказ"
F_NIGHT = "Ночь"
F_PEK = "ПЭК"

# Toy catalogue: sku, name, price, supplier group, oversized, supplier
CATALOGUE = [
    ("KN-10211", "Конструктор магнитный «Магнитики» 64 детали", 2490, "1", False, "Игросфера"),
    ("KN-10234", "Конструктор деревянный «Городок» 120 деталей", 1890, "2", False, "Деревяшкин"),
    ("KN-10302", "Конструктор «Техник: Эвакуатор» 412 деталей", 3290, "1", False, "Игросфера"),
    ("KN-10315", "Конструктор «Замок принцессы» 298 деталей", 2790, "1", False, "Игросфера"),
    ("KN-10340", "Набор блоков «Мега-старт» 80 деталей", 1490, "2", False, "Деревяшкин"),
    (
        "KN-10377",
        "Конструктор металлический «Юный инженер» 220 деталей",
        1690,
        "2",
        False,
        "Деревяшкин",
    ),
    ("KL-20105", "Кукла «Алёнка» 35 см в платье", 1290, "2", False, "Кукольный двор"),
    ("KL-20118", "Кукла-пупс «Малыш» с аксессуарами 40 см", 2190, "2", False, "Кукольный двор"),
    ("KL-20140", "Кукла шарнирная «Вероника» с гардеробом", 1990, "3", False, "Кукольный двор"),
    ("KL-20166", "Домик для кукол трёхэтажный с мебелью", 6990, "3", True, "Кукольный двор"),
    ("KL-20171", "Коляска для кукол трансформер", 2590, "3", False, "Кукольный двор"),
    ("MS-30012", "Машинка на радиоуправлении «Джип 4×4» 1:16", 3490, "1", False, "Радиомир"),
    ("MS-30027", "Набор машинок металлических «Спецтехника» 6 шт.", 990, "1", False, "Радиомир"),
    ("MS-30041", "Трек «Горный серпантин» с 2 машинками", 2590, "2", False, "Радиомир"),
    ("MS-30056", "Грузовик-автовоз с 4 машинками", 1590, "2", False, "Радиомир"),
    ("MS-30090", "Электромобиль детский «Кроссовер» 12V", 18990, "3", True, "Электрокар"),
    ("MS-30102", "Вертолёт на р/у «Сокол» с гироскопом", 2890, "1", False, "Радиомир"),
    ("MS-30118", "Робот-трансформер на р/у «Гром»", 3990, "1", False, "Радиомир"),
    ("MS-30125", "Железная дорога «Экспресс» 3,5 м", 3990, "1", False, "Радиомир"),
    ("RZ-40003", "Пирамидка деревянная радужная", 490, "2", False, "Деревяшкин"),
    ("RZ-40019", "Сортер «Домик» с 12 фигурками", 890, "2", False, "Деревяшкин"),
    ("RZ-40026", "Бизиборд «Котик» 30×40 см", 1790, "3", False, "Деревяшкин"),
    ("RZ-40038", "Развивающий коврик «Лесные друзья»", 2390, "2", False, "Игросфера"),
    ("RZ-40044", "Музыкальный телефон «Весёлые зверята»", 790, "1", False, "Игросфера"),
    ("RZ-40059", "Детский обучающий планшет «Умняша»", 1590, "2", False, "Игросфера"),
    ("NI-50007", "Настольная игра «Монополька. Город»", 1390, "1", False, "Игросфера"),
    ("NI-50015", "Настольная игра «Лото. Сказки»", 590, "2", False, "Игросфера"),
    ("NI-50022", "Пазл 1000 элементов «Кремль зимой»", 690, "2", False, "Игросфера"),
    ("NI-50030", "Пазл 3D «Эйфелева башня»", 1190, "1", False, "Игросфера"),
    ("MI-60011", "Мягкая игрушка «Медведь Потап» 60 см", 1690, "2", False, "Плюшевый край"),
    ("MI-60024", "Мягкая игрушка «Кот Батон» 30 см", 890, "2", False, "Плюшевый край"),
    ("MI-60033", "Мягкая игрушка «Единорог» 45 см", 1290, "2", False, "Плюшевый край"),
    ("MI-60050", "Медведь плюшевый 150 см", 4990, "3", True, "Плюшевый край"),
    ("TV-70002", "Набор для лепки «Пластилин» 12 цветов", 290, "1", False, "Игросфера"),
    ("TV-70016", "Набор для рисования в чемоданчике, 86 предметов", 1490, "1", False, "Игросфера"),
    ("TV-70021", "Кинетический песок 1 кг с формочками", 790, "2", False, "Игросфера"),
    ("TV-70039", "Набор «Юный химик», 40 опытов", 1990, "3", False, "Научные игры"),
    ("SP-80004", "Самокат трёхколёсный со светящимися колёсами", 2990, "3", False, "Спорт-Кид"),
    ("SP-80017", 'Беговел «Старт» 12"', 4290, "3", False, "Спорт-Кид"),
    ("SP-80025", "Санки-ледянка «Снежок»", 590, "1", False, "Спорт-Кид"),
    ("SP-80031", "Ватрушка надувная 80 см", 1290, "1", False, "Спорт-Кид"),
    ("SP-80048", "Детский спортивный комплекс «Карусель»", 15990, "3", True, "Спорт-Кид"),
    ("SP-80053", "Игровой домик-палатка «Замок»", 2490, "2", False, "Спорт-Кид"),
    ("SP-80066", "Батут детский 140 см с защитной сеткой", 12990, "3", True, "Спорт-Кид"),
    ("RI-90010", "Интерактивная собака «Шарик»", 2790, "2", False, "Игросфера"),
    ("RI-90024", "Набор «Доктор» в чемоданчике", 990, "2", False, "Игросфера"),
    ("RI-90031", "Кухня детская игровая с водой и звуком", 7490, "3", True, "Игросфера"),
    ("RI-90045", "Набор посуды «Чаепитие», 24 предмета", 890, "2", False, "Игросфера"),
    ("RI-90052", "Игровой набор «Парикмахерская»", 1290, "2", False, "Игросфера"),
    ("RI-90068", "Калейдоскоп «Звёздочка»", 250, "1", False, "Игросфера"),
]
SUPPLIER_MAIL = {
    "Игросфера": "opt@igrosfera.example",
    "Деревяшкин": "zakaz@derevyashkin.example",
    "Кукольный двор": "sales@kukolny-dvor.example",
    "Радиомир": "b2b@radiomir.example",
    "Электрокар": "opt@elektrokar.example",
    "Плюшевый край": "info@plush-krai.example",
    "Научные игры": "opt@nauchnye-igry.example",
    "Спорт-Кид": "sales@sport-kid.example",
}
# Affiliate storefront specialisation: weights over catalogue prefixes
AFF_PREFIX = {
    "igromir": None,
    "konstruktor-pro": ["KN", "KN", "KN", "NI", "TV"],
    "kukly-ko": ["KL", "KL", "KL", "MI", "RI"],
    "malysh-market": ["RZ", "RZ", "MI", "RI", "SP", "TV"],
    "radio-igrushki": ["MS", "MS", "MS", "MS", "KN"],
}

F_NAMES = """
Анна Мария Елена Ольга Татьяна Наталья Екатерина Ирина Светлана Юлия Анастасия Дарья Ксения
Марина Виктория Алина Полина Евгения Валерия Кристина Людмила Надежда Софья Вероника Оксана
Галина
""".split()
M_NAMES = """
Александр Дмитрий Сергей Андрей Алексей Максим Иван Михаил Артём Николай Павел Роман Евгений
Владимир Игорь Олег Денис Константин Антон Кирилл Илья Виктор Егор Юрий
""".split()
PATRON = dict(
    pair.split("=")
    for pair in """
Александр=Александров Дмитрий=Дмитриев Сергей=Сергеев Андрей=Андреев Алексей=Алексеев
Максим=Максимов Иван=Иванов Михаил=Михайлов Николай=Николаев Павел=Павлов Роман=Романов
Владимир=Владимиров Игорь=Игорев Олег=Олегов Денис=Денисов Константин=Константинов Антон=Антонов
Кирилл=Кириллов Виктор=Викторов Юрий=Юрьев Евгений=Евгеньев
""".split()
)
SURNAMES = """
Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков
Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин
Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов
Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв
Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов
Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов Мельников Денисов
Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов Мартынов
Ефимов Федотов Щербаков Назаров Калинин Исаев Быков Маслов Родионов Коновалов Лазарев Воронин
Климов Филатов Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Трофимов Леонов Соболев
Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Архипов Громов Кириллов
Малышев Панов Моисеев Румянцев Акимов Бирюков Горбунов Галкин Лукьянов Скворцов Белоусов
Нестеров Симонов Харитонов Князев Цветков Логинов Горшков Краснов Майоров Демидов Рыбаков
Сафонов Плотников Жданов Сазонов Блинов
""".split()

TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a,b,v,g,d,e,e,zh,z,i,y,k,l,m,n,o,p,r,s,t,u,f,kh,ts,ch,sh,sch,,y,,e,yu,ya".split(","),
        strict=True,
    )
)


def translit(s: str) -> str:
    return "".join(TRANSLIT.get(c, c) for c in s.lower())


# city: (region, tz name, utc offset, kind, pvz zone, post zone, phone prefixes, weight, streets)
CITIES = {
    row[0]: row[1:]
    for row in table(
        (str, str, str, int, str, int, int, str.split, int, listed),
        """
Москва | Москва | Europe/Moscow | 3 | msk | 0 | 1 | 903 905 909 915 916 917 925 926 977 985 999 | 36 | ул. Профсоюзная; Ленинский пр-т; ул. Академика Янгеля; Каширское ш.; ул. Маршала Жукова; ул. Новослободская; Варшавское ш.; ул. Широкая; ул. Бутлерова; Мичуринский пр-т; ул. Перовская; ул. Вилиса Лациса; Дмитровское ш.; ул. Генерала Белова; ул. Кировоградская; Волгоградский пр-т; ул. Тверская; Рязанский пр-т; ул. Удальцова; ул. Ельнинская
Балашиха | Московская обл. | Europe/Moscow | 3 | msk_obl | 0 | 1 | 903 916 926 965 | 3 | ул. Советская; ш. Энтузиастов; мкр. Павлино
Химки | Московская обл. | Europe/Moscow | 3 | msk_obl | 0 | 1 | 915 926 985 | 3 | ул. Молодёжная; Юбилейный пр-т; ул. Панфилова
Мытищи | Московская обл. | Europe/Moscow | 3 | msk_obl | 0 | 1 | 903 916 968 | 2 | Олимпийский пр-т; ул. Колпакова; ул. Мира
Подольск | Московская обл. | Europe/Moscow | 3 | msk_obl | 0 | 1 | 905 916 926 | 2 | ул. Кирова; Октябрьский пр-т; ул. Большая Серпуховская
Люберцы | Московская обл. | Europe/Moscow | 3 | msk_obl | 0 | 1 | 903 925 977 | 2 | Октябрьский пр-т; ул. Смирновская; ул. 3-е Почтовое отделение
Санкт-Петербург | Санкт-Петербург | Europe/Moscow | 3 | spb | 0 | 1 | 911 921 931 981 952 | 14 | пр. Просвещения; ул. Савушкина; Лиговский пр-т; Невский пр-т; ул. Типанова; Московский пр-т; ул. Бассейная; пр. Ветеранов; Дунайский пр-т; ул. Коллонтай
Казань | Республика Татарстан | Europe/Moscow | 3 | region | 1 | 2 | 917 927 937 987 | 4 | ул. Баумана; пр-т Победы; ул. Чистопольская; ул. Декабристов
Нижний Новгород | Нижегородская обл. | Europe/Moscow | 3 | region | 1 | 2 | 904 910 920 930 | 4 | ул. Большая Покровская; пр-т Гагарина; ул. Родионова
Воронеж | Воронежская обл. | Europe/Moscow | 3 | region | 1 | 2 | 903 908 920 951 | 3 | ул. Плехановская; Московский пр-т; ул. 20-летия Октября
Краснодар | Краснодарский край | Europe/Moscow | 3 | region | 1 | 3 | 918 928 938 988 | 4 | ул. Красная; ул. Северная; ул. Ставропольская; ул. Тургенева
Ростов-на-Дону | Ростовская обл. | Europe/Moscow | 3 | region | 1 | 3 | 918 928 951 989 | 3 | ул. Большая Садовая; пр-т Стачки; ул. Малиновского
Тверь | Тверская обл. | Europe/Moscow | 3 | region | 1 | 1 | 904 915 920 | 2 | ул. Советская; пр-т Калинина; Смоленский пер.
Самара | Самарская обл. | Europe/Samara | 4 | region | 2 | 3 | 917 927 937 987 | 3 | ул. Ново-Садовая; Московское ш.; ул. Победы
Екатеринбург | Свердловская обл. | Asia/Yekaterinburg | 5 | region | 2 | 3 | 912 922 932 950 | 4 | ул. Малышева; ул. 8 Марта; ул. Белинского; ул. Сыромолотова
Калининград | Калининградская обл. | Europe/Kaliningrad | 2 | region | 2 | 4 | 906 911 921 | 2 | Ленинский пр-т; ул. Черняховского; Московский пр-т
Новосибирск | Новосибирская обл. | Asia/Novosibirsk | 7 | region | 3 | 4 | 913 923 953 983 | 2 | Красный пр-т; ул. Петухова; ул. Кирова
Иркутск | Иркутская обл. | Asia/Irkutsk | 8 | region | 3 | 5 | 902 914 924 950 | 2 | ул. Ленина; ул. Байкальская; ул. Лермонтова
Хабаровск | Хабаровский край | Asia/Vladivostok | 10 | region | 3 | 5 | 909 914 924 962 | 1 | ул. Муравьёва-Амурского; ул. Карла Маркса; ул. Ким Ю Чена
Владивосток | Приморский край | Asia/Vladivostok | 10 | region | 3 | 5 | 902 914 924 950 | 1 | ул. Светланская; Океанский пр-т; ул. Русская
""",
    )
}

# Delivery tables (per affiliate delivery group)
PVZ_COST = {"A": {1: 149, 2: 199, 3: 249}, "B": {1: 169, 2: 219, 3: 249}}
SPB_COURIER = {"A": 199, "B": 299}
POST_COST = {1: 250, 2: 300, 3: 350, 4: 420, 5: 500}
MSK_COURIER = 199
MSK_PER_5KM = 50
PEK_FEE = 199

PVZ_NETWORK = "ПунктОК"
COURIER_SERVICE = ("Курьерская служба «Быстрый Кот»", "dispatch@bystry-kot.example")
COURIER_SPB = ("СПб Курьер Экспресс", "info@spb-kurier.example")
PEK_MAIL = ("ПЭК — отдел клиентского сервиса", "client@pek-terminal.example")


def delivery_windows(kind: str, d: date) -> list[str]:
    weekend = d.weekday() >= 5
    if kind in ("msk", "msk_obl"):
        return ["10:00-18:00"] if weekend else ["10:00-15:00", "18:00-21:00"]
    if kind == "spb":
        return ["12:00-18:00"] if weekend else ["12:00-15:00", "18:00-21:00"]
    return []


# ---------------------------------------------------------------------------
# People and phones
# ---------------------------------------------------------------------------


def fem(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname


class People:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used_phones: set[str] = set()
        self.used_emails: set[str] = set()

    def person(self):
        r = self.rng
        female = r.random() < 0.78  # toy shop customers are mostly mothers / grandmothers
        first = r.choice(F_NAMES if female else M_NAMES)
        sur = r.choice(SURNAMES)
        pfather = r.choice(sorted(PATRON))
        surname = fem(sur) if female else sur
        patr = PATRON[pfather] + ("на" if female else "ич")  # PATRON holds the stem: Юрьев-на
        return {"first": first, "surname": surname, "patronymic": patr, "female": female}

    def phone(self, prefixes: list[str]) -> str:
        while True:
            p = "7" + self.rng.choice(prefixes) + f"{self.rng.randrange(0, 10**7):07d}"
            if p not in self.used_phones:
                self.used_phones.add(p)
                return p

    def email(self, person) -> str:
        r = self.rng
        f, s = translit(person["first"]), translit(person["surname"])
        for _ in range(50):
            style = r.randrange(6)
            local = [
                f"{f}.{s}",
                f"{s}.{f[0]}",
                f"{f}{r.randrange(70, 100)}",
                f"{s}{r.randrange(1, 999)}",
                f"{f[0]}{s}",
                f"{f}_{s}{r.randrange(10, 99)}",
            ][style]
            dom = r.choice(
                [
                    "example.ru",
                    "example.ru",
                    "mail.example.ru",
                    "ya.example.ru",
                    "example.com",
                    "inbox.example.ru",
                ]
            )
            e = f"{local}@{dom}"
            if e not in self.used_emails:
                self.used_emails.add(e)
                return e
        raise RuntimeError("email space exhausted")


def fmt_phone(digits: str, style: int) -> str:
    """79161234567 -> one of the ways people type it."""
    a, b1, b2, b3 = digits[1:4], digits[4:7], digits[7:9], digits[9:11]
    return [
        f"+7 ({a}) {b1}-{b2}-{b3}",
        f"+7 {a} {b1}-{b2}-{b3}",
        f"8 ({a}) {b1}-{b2}-{b3}",
        f"8{a}{b1}{b2}{b3}",
        f"+7{a}{b1}{b2}{b3}",
        f"8 {a} {b1} {b2} {b3}",
    ][style]


# ---------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------


def is_work(t: datetime) -> bool:
    return 9 <= t.hour < 21


def next_work(t: datetime, rng: random.Random, lo: int = 2, hi: int = 40) -> datetime:
    """The first moment of the day shift at or after t (plus a random lag when it jumps)."""
    if t.hour < 9:
        return at(t.date(), 9, 0) + timedelta(minutes=rng.randint(lo, hi))
    if t.hour >= 21:
        return at(t.date() + timedelta(days=1), 9, 0) + timedelta(minutes=rng.randint(lo, hi))
    return t


def add_minutes(t: datetime, rng: random.Random, lo: int, hi: int) -> datetime:
    return t + timedelta(minutes=rng.randint(lo, hi), seconds=rng.randint(0, 59))


def next_weekday(d: date, wd: int, include: bool = False) -> date:
    days = (wd - d.weekday()) % 7
    if days == 0 and not include:
        days = 7
    return d + timedelta(days=days)


HOUR_W = [
    1,
    0.5,
    0.3,
    0.2,
    0.2,
    0.3,
    0.6,
    1.2,
    2,
    3,
    4,
    4.5,
    4.5,
    4.5,
    4.5,
    4,
    4,
    4,
    4,
    4.5,
    5,
    5,
    4,
    2.5,
]


def random_time(rng: random.Random, d: date, weights=HOUR_W) -> datetime:
    h = rng.choices(range(24), weights=weights)[0]
    return at(d, h, rng.randrange(60), rng.randrange(60))


# ---------------------------------------------------------------------------
# Customers and orders
# ---------------------------------------------------------------------------


class Shop:
    def __init__(self):
        self.rng = rng_for("orders")
        self.people = People(rng_for("people"))
        self.customers: list[dict] = []
        self.by_cid: dict[str, dict] = {}
        self.orders: list[dict] = []
        self.by_oid: dict[str, dict] = {}
        self.returns: list[dict] = []
        self.calls: list[dict] = []  # raw call events, rendered later
        self.cid_seq = 40112
        self.oid_seq = 481200
        self.company_customers: list[dict] = []

    # -- customers ---------------------------------------------------------
    def new_customer(
        self, since: datetime, city: str | None = None, company: str | None = None
    ) -> dict:
        r = self.people.rng
        if city is None:
            names = list(CITIES)
            city = r.choices(names, weights=[CITIES[c][7] for c in names])[0]
        region, tzname, off, kind, pvz_zone, post_zone, prefixes, _, streets = CITIES[city]
        p = self.people.person()
        digits = self.people.phone(prefixes)
        phones = [fmt_phone(digits, r.choice([0, 1, 2, 4]))]
        second = None
        if r.random() < 0.12:
            second = self.people.phone(prefixes)
            phones.append(fmt_phone(second, r.choice([0, 2, 3])))
        email = self.people.email(p)
        emails = [email]
        if r.random() < 0.05:
            emails.append(self.people.email(p))
        street = r.choice(streets)
        house = r.randint(1, 140)
        corp = f", корп. {r.randint(1, 4)}" if r.random() < 0.2 else ""
        flat = r.randint(1, 320)
        if kind == "msk_obl":
            address = f"Московская обл., г. {city}, {street}, д. {house}{corp}, кв. {flat}"
        elif city in ("Москва", "Санкт-Петербург"):
            address = f"г. {city}, {street}, д. {house}{corp}, кв. {flat}"
        else:
            address = f"{region}, г. {city}, {street}, д. {house}{corp}, кв. {flat}"
        created = since - timedelta(
            days=r.choice([0, 0, 0, 0, 30, 90, 200, 400]), minutes=r.randint(1, 300)
        )
        cid = f"C{self.cid_seq}"
        self.cid_seq += r.randint(1, 4)
        c = {
            "id": cid,
            "name": f"{p['surname']} {p['first']} {p['patronymic']}",
            "name_kana": None,
            "company": company,
            "region": region,
            "store": None,
            "language": "ru",
            "notes": None,
            "other": None,
            "created_at": iso(created),
            "updated_at": iso(created),
            "extra": {"city": city},
            "phones": phones,
            "emails": emails,
            # private generator state (stripped on output)
            "_p": p,
            "_digits": digits,
            "_digits2": second,
            "_city": city,
            "_address": address,
            "_kind": kind,
            "_tz": tzname,
            "_off": off,
            "_created": created,
        }
        if company:
            c["extra"]["inn"] = f"77{r.randrange(10**7, 10**8)}"
            c["extra"]["legal_entity"] = True
        self.customers.append(c)
        self.by_cid[cid] = c
        return c

    def pick_customer(self, t: datetime) -> dict:
        r = self.rng
        if self.customers and r.random() < 0.11:
            pool = [
                c
                for c in self.customers
                if c["_created"] < t - timedelta(hours=6) and not c["company"]
            ]
            if pool:
                return r.choice(pool)
        return self.new_customer(t)

    # -- items and pricing -------------------------------------------------
    def pick_items(self, aff: str, big_ok: bool) -> list[dict]:
        r = self.rng
        prefixes = AFF_PREFIX[aff]
        n = r.choices([1, 2, 3, 4, 5, 6], weights=[42, 28, 15, 8, 5, 2])[0]
        items: list[dict] = []
        seen = set()
        for _ in range(n * 3):
            if len(items) >= n:
                break
            if prefixes:
                pre = r.choice(prefixes)
                cands = [c for c in CATALOGUE if c[0].startswith(pre)]
            else:
                cands = CATALOGUE
            c = r.choice(cands)
            if c[4] and (not big_ok or r.random() < 0.85):
                continue
            if c[0] in seen:
                continue
            seen.add(c[0])
            qty = 1 if c[2] > 1500 or r.random() < 0.8 else r.randint(2, 3)
            items.append(
                {
                    "sku": c[0],
                    "name": c[1],
                    "qty": qty,
                    "price": float(c[2]),
                    "supplier_group": c[3],
                }
            )
        if not items:
            c = r.choice([c for c in CATALOGUE if not c[4]])
            items.append(
                {"sku": c[0], "name": c[1], "qty": 1, "price": float(c[2]), "supplier_group": c[3]}
            )
        return items

    # -- orders -------------------------------------------------------------
    def make_order(
        self,
        created: datetime,
        cust: dict,
        aff: str | None = None,
        items=None,
        oid: str | None = None,
        phone_style: int | None = None,
    ) -> dict:
        r = self.rng
        if aff is None:
            aff = r.choices(list(AFF_WEIGHTS), weights=list(AFF_WEIGHTS.values()))[0]
        site, aff_name, mailbox, _, group, _ = AFFILIATES[aff]
        kind = cust["_kind"]
        city = cust["_city"]
        region, tzname, off, _, pvz_zone, post_zone, _, _, _ = CITIES[city]
        if items is None:
            items = self.pick_items(aff, big_ok=True)
        oversized = any(CAT_BY_SKU[i["sku"]][4] for i in items)
        goods = sum(i["price"] * i["qty"] for i in items)
        extra: dict = {"affiliate": aff_name, "affiliate_code": aff}
        # delivery method and cost
        if cust["company"]:
            method = (
                "ПЭК" if oversized else ("Курьер Москва" if kind in ("msk", "msk_obl") else "ПВЗ")
            )
        elif oversized and (kind == "region" or r.random() < 0.5):
            method = "ПЭК"
        elif kind == "msk":
            method = r.choices(["Курьер Москва", "ПВЗ"], weights=[78, 22])[0]
        elif kind == "msk_obl":
            method = r.choices(["Курьер Москва", "ПВЗ"], weights=[70, 30])[0]
        elif kind == "spb":
            method = r.choices(["Курьер СПб", "ПВЗ"], weights=[75, 25])[0]
        else:
            method = r.choices(["ПВЗ", "Почта России", "ПЭК"], weights=[68, 27, 5])[0]
        if method == "Курьер Москва":
            if kind == "msk_obl":
                km = r.choice([5, 5, 10, 10, 15, 20, 25])
                cost = MSK_COURIER + MSK_PER_5KM * math.ceil(km / 5)
                extra["km_outside_mkad"] = km
                extra["delivery_zone"] = "за МКАД"
            else:
                cost = MSK_COURIER
                extra["delivery_zone"] = "в пределах МКАД"
        elif method == "Курьер СПб":
            cost = SPB_COURIER[group]
            extra["delivery_zone"] = "в пределах КАД"
        elif method == "ПВЗ":
            zone = max(pvz_zone, 1)
            cost = PVZ_COST[group][zone]
            extra["pickup_point"] = PVZ_BY_CITY[city][r.randrange(len(PVZ_BY_CITY[city]))]["code"]
        elif method == "Почта России":
            cost = POST_COST[post_zone]
            extra["post_zone"] = post_zone
        else:  # ПЭК
            cost = PEK_FEE
            extra["pek"] = {
                "delivery": r.choice(["до терминала", "до двери"]),
                "terminal": f"ПЭК {city}",
                "payment": "безналичный расчёт",
                "recipient": cust["name"],
            }
        if goods >= 5000 and method in ("Курьер Москва", "ПВЗ") and r.random() < 0.5:
            cost = 0
            extra["free_delivery"] = "акция: бесплатная доставка от 5000 ₽"
        # payment
        if cust["company"]:
            pay = "Безналичный расчёт (счёт)"
        elif method in ("ПВЗ", "Почта России"):
            pay = r.choices(["Онлайн-оплата картой", "Оплата при получении"], weights=[45, 55])[0]
        elif method == "ПЭК":
            pay = r.choices(
                ["Онлайн-оплата картой", "Безналичный расчёт (счёт)"], weights=[70, 30]
            )[0]
        else:
            pay = r.choices(
                ["Онлайн-оплата картой", "Наличными курьеру", "Картой курьеру"],
                weights=[40, 35, 25],
            )[0]
        total = goods + cost
        paid = pay == "Онлайн-оплата картой"
        if oid is None:
            oid = str(self.oid_seq)
            self.oid_seq += r.choice([1, 1, 1, 1, 2, 3])
        ph_style = (
            phone_style
            if phone_style is not None
            else r.choices([0, 1, 2, 3, 4], weights=[50, 12, 15, 13, 10])[0]
        )
        name_style = r.randrange(5)
        p = cust["_p"]
        cname = [
            f"{p['first']} {p['surname']}",
            f"{p['surname']} {p['first']} {p['patronymic']}",
            f"{p['surname']} {p['first']}",
            f"{p['first']}",
            f"{p['first'].lower()} {p['surname'].lower()}",
        ][name_style]
        if cust["company"]:
            cname = f"{cust['company']} ({p['surname']} {p['first']})"
        o = {
            "id": oid,
            "site": site,
            "campaign": r.choices(
                ["yandex_direct", "organic", "email_rassylka", "vk_ads", None, "cashback_partner"],
                weights=[30, 30, 10, 12, 12, 6],
            )[0],
            "customer_id": cust["id"],
            "customer_name": cname,
            "phone": fmt_phone(cust["_digits"], ph_style),
            "email": cust["emails"][0],
            "address": cust["_address"],
            "city": city,
            "status": ST_NEW,
            "payment_method": pay,
            "payment_status": "Оплачен" if paid else "Не оплачен",
            "total": float(total),
            "delivery_cost": float(cost),
            "currency": "RUB",
            "support_called": None,
            "manager": None,
            "delivery_method": method,
            "delivery_date": None,
            "timezone": tzname,
            "created_at": iso(created),
            "updated_at": iso(created),
            "extra": extra,
            "items": items,
            "flags": [],
            "comments": [],
            "status_history": [{"at": iso(created), "status": ST_NEW, "actor": "сайт"}],
            "_created": created,
            "_cust": cust,
            "_aff": aff,
            "_events": [],
            "_paid": paid,
        }
        extra["to_pay"] = 0.0 if paid else float(total)
        if off - 3 >= 4:
            o["flags"].append(F_NIGHT)
        if method == "ПЭК":
            o["flags"].append(F_PEK)
        self.orders.append(o)
        self.by_oid[oid] = o
        return o

    def set_status(self, o: dict, t: datetime, status: str, actor: str):
        o["status"] = status
        o["status_history"].append({"at": iso(t), "status": status, "actor": actor})
        o["updated_at"] = iso(t)

    def comment(self, o: dict, t: datetime, author: str, text: str):
        o["comments"].append({"at": iso(t), "author": author, "text": text})
        if t.isoformat() > o["updated_at"]:
            o["updated_at"] = iso(t)

    def flag(self, o: dict, f: str):
        if f not in o["flags"]:
            o["flags"].append(f)

    def unflag(self, o: dict, f: str):
        if f in o["flags"]:
            o["flags"].remove(f)


CAT_BY_SKU = {c[0]: c for c in CATALOGUE}

# Pick-up points (ПВЗ) per city
PVZ_BY_CITY: dict[str, list[dict]] = {}


def build_pvz():
    r = rng_for("pvz")
    n = 1
    for city, spec in CITIES.items():
        streets = spec[8]
        pts = []
        for k in range(3 if spec[3] in ("msk", "spb") else 2):
            street = streets[(k * 3 + 1) % len(streets)]
            pts.append(
                {
                    "code": f"PK-{n:04d}",
                    "city": city,
                    "address": f"г. {city}, {street}, д. {r.randint(2, 90)}",
                    "network": PVZ_NETWORK,
                    "hours": r.choice(
                        ["пн-вс 10:00-21:00", "пн-сб 09:00-20:00, вс выходной", "пн-вс 09:00-22:00"]
                    ),
                    "storage_days": r.choice([3, 5, 5, 7]),
                }
            )
            n += r.randint(1, 5)
        PVZ_BY_CITY[city] = pts


PVZ_INDEX: dict[str, dict] = {}


def supplier_dates(t: datetime, items: list[dict]) -> tuple[date, date]:
    """Warehouse date and courier date from the supplier cut-offs."""
    wh = t.date()
    for it in items:
        g = it["supplier_group"]
        if g == "1":
            d = t.date() if t.hour < 10 else t.date() + timedelta(days=1)
        elif g == "2":
            d = t.date() + timedelta(days=1 if t.hour < 14 else 2)
        else:
            d = t.date() + timedelta(days=2 if t.hour < 12 else 3)
        wh = max(wh, d)
    return wh, wh + timedelta(days=1)


def customer_date(o: dict, wh: date, rng: random.Random) -> date:
    m = o["delivery_method"]
    if m in ("Курьер Москва", "Курьер СПб"):
        return wh + timedelta(days=1)
    if m == "ПВЗ":
        zone = CITIES[o["city"]][4]
        d = wh + timedelta(days=1 if zone == 0 else zone + rng.randint(1, 2))
    elif m == "Почта России":
        d = wh + timedelta(days=rng.randint(4, 8))
    else:
        d = wh + timedelta(days=rng.randint(3, 6))
    if d.weekday() == 6:  # regions closed on Sunday
        d += timedelta(days=1)
    return d


# ---------------------------------------------------------------------------
# Calls (raw events) — rendered into sipuni CSV later
# ---------------------------------------------------------------------------


def call_event(
    shop: Shop,
    kind: str,
    start: datetime,
    line: str | None,
    frm: str,
    to: str,
    answered: bool,
    talk: int = 0,
    ring: int | None = None,
    answered_by: str = "",
    busy: bool = False,
    why: str = "",
) -> dict:
    r = rng_for(f"call/{start.isoformat()}/{frm}/{to}")
    if ring is None:
        ring = r.randint(4, 25) if answered else r.randint(15, 45)
    ev = {
        "kind": kind,
        "start": start,
        "line": line,
        "from": frm,
        "to": to,
        "answered": answered,
        "talk": talk if answered else 0,
        "ring": ring,
        "answered_by": answered_by,
        "busy": busy,
        "why": why,
        "cost_override": None,
        "callback_state": "",
        "callback_time": None,
    }
    shop.calls.append(ev)
    return ev


def talk_seconds(rng: random.Random, lo: int = 25, hi: int = 420) -> int:
    s = int(rng.triangular(lo, hi, lo + (hi - lo) * 0.25))
    # keep per-second charges visibly non-round: avoid exact minutes and multiples of 100 s
    while s % 60 == 0 or s % 100 == 0:
        s += 1
    return s


def ext_label(surname: str) -> str:
    name, ext = MANAGERS[surname]
    return f"{ext} ({name})"


def line_for_customer(o: dict, rng: random.Random) -> str:
    if o["_aff"] == "igromir":
        return rng.choices(
            ["8-800 Игромир", "Игромир Москва", "Игромир СПб"],
            weights=[
                60,
                30 if o["city"] != "Санкт-Петербург" else 5,
                2 if o["city"] != "Санкт-Петербург" else 35,
            ],
        )[0]
    return rng.choices(["8-800 Партнёры", "Игромир Москва"], weights=[80, 20])[0]


def outgoing_line(o: dict) -> str:
    return "Игромир СПб" if o["city"] == "Санкт-Петербург" else "Игромир Москва"


def call_customer(
    shop: Shop, o: dict, t: datetime, mgr: str, reached: bool, talk: int, busy=False, why=""
) -> dict:
    """The manager calls the order's customer from the order's outgoing line."""
    digits = o["_cust"]["_digits"]
    return call_event(
        shop,
        "out",
        t,
        outgoing_line(o),
        mgr,
        digits,
        reached,
        talk,
        answered_by=digits if reached else "",
        busy=busy,
        why=why,
    )


# ---------------------------------------------------------------------------
# Order life cycle
# ---------------------------------------------------------------------------

CANCEL_REASONS = [
    "клиент передумал",
    "нашли дешевле в другом магазине",
    "долгий срок доставки",
    "подарили такую же игрушку",
    "не устроила стоимость доставки",
    "заказал по ошибке",
    "хотели к празднику, не успеваем",
]
NOANSWER_NOTES = [
    "не берёт трубку",
    "абонент недоступен",
    "сбрасывает",
    "занято",
    "автоответчик",
    "номер не обслуживается",
    "просили перезвонить позже",
]


def manager_for(t: datetime, rng: random.Random) -> str:
    pool = HOLIDAY_MANAGERS if (t.date() in HOLIDAYS or t.weekday() >= 5) else DAY_MANAGERS
    return rng.choice(pool)


def process_order(shop: Shop, o: dict, r: random.Random, force_leave_before: bool = False):
    """Walk an order through the statuses up to SNAP, emitting call events."""
    created = o["_created"]
    holiday = created.date() in HOLIDAYS or created.weekday() >= 5
    lag_hi = 180 if holiday else 75
    taken = next_work(add_minutes(created, r, 3, lag_hi), r, 5, 90)
    if taken.hour >= 21:
        taken = next_work(taken, r)
    # Far-east customers: the night shift calls them (Moscow 03:00-07:00)
    night = F_NIGHT in o["flags"]
    if night and r.random() < 0.7:
        base = created.date() + timedelta(days=1 if created.hour >= 3 else 0)
        taken = at(base, r.randint(3, 6), r.randrange(60), r.randrange(60))
        if taken < created:
            taken += timedelta(days=1)
        mgr = "Лебедев"
    else:
        mgr = manager_for(taken, r)
    # the status planned delivery date (visible after Перед сборкой)
    wh, _ = supplier_dates(created, o["items"])
    o["delivery_date"] = customer_date(o, wh, r).isoformat()
    if o["delivery_method"] in ("Курьер Москва", "Курьер СПб"):
        wins = delivery_windows(CITIES[o["city"]][3], date.fromisoformat(o["delivery_date"]))
        o["extra"]["delivery_window"] = r.choice(wins)
    if taken > SNAP:
        return  # still Новый
    o["manager"] = mgr
    shop.set_status(o, taken, ST_BEFORE, mgr)
    shop.flag(o, F_TAKEN)
    o["_taken"] = taken
    if force_leave_before:
        return
    # outcome of the first call
    t = add_minutes(taken, r, 1, 6)
    attempts = 0
    while True:
        attempts += 1
        roll = r.random()
        if attempts == 1:
            p_ok, p_cancel = 0.74, 0.07
        else:
            p_ok, p_cancel = 0.6, 0.08
        if t > SNAP:
            return
        if roll < p_ok:
            talk = talk_seconds(r, 40, 300)
            call_customer(shop, o, t, mgr, True, talk, why=f"подтверждение {o['id']}")
            done = t + timedelta(seconds=talk + r.randint(30, 240))
            shop.set_status(o, done, ST_FOR, mgr)
            shop.unflag(o, F_TAKEN)
            o["_confirmed"] = done
            # the date is recomputed from the confirmation time
            wh, _ = supplier_dates(done, o["items"])
            o["delivery_date"] = customer_date(o, wh, r).isoformat()
            if "delivery_window" in o["extra"]:
                wins = delivery_windows(
                    CITIES[o["city"]][3], date.fromisoformat(o["delivery_date"])
                )
                o["extra"]["delivery_window"] = r.choice(wins)
            o["_wh"] = wh
            break
        elif roll < p_ok + p_cancel:
            talk = talk_seconds(r, 30, 200)
            call_customer(shop, o, t, mgr, True, talk, why=f"отмена {o['id']}")
            done = t + timedelta(seconds=talk + r.randint(30, 180))
            shop.set_status(o, done, ST_CANCEL, mgr)
            shop.unflag(o, F_TAKEN)
            shop.comment(o, done, mgr, f"Отмена: {r.choice(CANCEL_REASONS)}.")
            return
        else:
            busy = r.random() < 0.2
            call_customer(shop, o, t, mgr, False, 0, busy=busy, why=f"недозвон {o['id']}")
            done = t + timedelta(seconds=r.randint(60, 200))
            if o["status"] != ST_NOANS:
                shop.set_status(o, done, ST_NOANS, mgr)
                shop.unflag(o, F_TAKEN)
            shop.comment(o, done, mgr, f"Недозвон ({r.choice(NOANSWER_NOTES)}), отправлено письмо.")
            o.setdefault("_noanswer_mails", []).append(done)
            if attempts >= 3:
                if r.random() < 0.5 and done.date() < ANCHOR - timedelta(days=1):
                    t2 = next_work(add_minutes(done, r, 600, 1500), r)
                    if t2 <= SNAP:
                        shop.set_status(o, t2, ST_CANCEL, mgr)
                        shop.comment(
                            o, t2, mgr, "Отмена: не дозвонились 3 дня, клиенту отправлено письмо."
                        )
                return
            if r.random() < 0.25:
                return  # stays Недозвон for now
            t = next_work(add_minutes(done, r, 120, 1100), r)
            mgr = manager_for(t, r) if not night else mgr
    # Для сборки -> Собран -> Отгружен -> Доставлен
    wh = o["_wh"]
    t_as = at(wh, r.randint(10, 16), r.randrange(60))
    if t_as < o["_confirmed"]:
        t_as = o["_confirmed"] + timedelta(minutes=r.randint(30, 120))
    if t_as > SNAP:
        return
    shop.set_status(o, t_as, ST_ASSEMBLED, "Склад")
    if o["payment_method"] == "Безналичный расчёт (счёт)":
        return  # handled by the cashless scenario (invoice, payment)
    ship_d = wh if t_as.hour < 17 else wh + timedelta(days=1)
    t_sh = at(ship_d, r.randint(17, 20), r.randrange(60))
    if t_sh <= t_as:
        t_sh = t_as + timedelta(hours=2)
    if t_sh > SNAP:
        return
    shop.set_status(o, t_sh, ST_SHIPPED, "Склад")
    dd = date.fromisoformat(o["delivery_date"])
    if dd < t_sh.date():
        dd = t_sh.date() + timedelta(days=1)
        o["delivery_date"] = dd.isoformat()
    t_dl = at(dd, r.randint(11, 20), r.randrange(60))
    if t_dl <= SNAP and r.random() < 0.93:
        actor = (
            "Курьер"
            if o["delivery_method"].startswith("Курьер")
            else ("ПВЗ" if o["delivery_method"] == "ПВЗ" else o["delivery_method"])
        )
        if o["delivery_method"] == "ПВЗ":
            # reached the pick-up point; handed over a bit later (or still waiting)
            t_dl = at(dd, r.randint(11, 20), r.randrange(60)) + timedelta(
                days=r.choice([0, 0, 1, 1, 2, 3, 5, 8, 9, 10, 12, 14])
            )
            if t_dl > SNAP:
                o["extra"]["at_pickup_point_since"] = dd.isoformat()
                return
        shop.set_status(o, t_dl, ST_DELIVERED, actor)
        if not o["_paid"]:
            o["payment_status"] = "Оплачен"
            o["extra"]["to_pay"] = 0.0


def generate_orders(shop: Shop):
    r = shop.rng
    per_day = dict(zip(DAYS, [34, 26, 32, 36, 30, 28, 58, 55, 48], strict=True))
    slots = []
    for d, n in per_day.items():
        for _ in range(n):
            slots.append(random_time(r, d))
    slots.sort()
    # duplicates: the customer presses "order" twice (sometimes on two storefronts)
    dup_idx = set(r.sample(range(5, len(slots) - 3), 14))
    company_idx = set(r.sample(range(len(slots)), 11))
    for i, t in enumerate(slots):
        if i in company_idx:
            comp = r.choice(
                [
                    "МБДОУ «Детский сад № {n}»",
                    "ГБОУ «Школа № {n}»",
                    "ООО «Радуга-{n}»",
                    "ИП Сергеева Т. В.",
                    "МАДОУ «Детский сад № {n} „Солнышко“»",
                    "ООО «Праздник-Сервис»",
                    "ГБУ «Центр досуга № {n}»",
                ]
            ).format(n=r.randint(3, 290))
            cust = shop.new_customer(
                t,
                city=r.choice(
                    [
                        "Москва",
                        "Москва",
                        "Москва",
                        "Санкт-Петербург",
                        "Балашиха",
                        "Казань",
                        "Екатеринбург",
                    ]
                ),
                company=comp,
            )
        else:
            cust = shop.pick_customer(t)
        o = shop.make_order(t, cust)
        if i in dup_idx:
            aff2 = o["_aff"] if r.random() < 0.75 else r.choice(sorted(AFF_WEIGHTS))
            items2 = [dict(it) for it in o["items"]]
            if r.random() < 0.3:
                items2[0]["qty"] += 1
            t2 = t + timedelta(minutes=r.randint(1, 45), seconds=r.randint(0, 59))
            o2 = shop.make_order(
                t2, cust, aff=aff2, items=items2, phone_style=r.choice([0, 2, 3, 4])
            )
            o["_dup_partner"] = o2["id"]
            o2["_dup_of"] = o["id"]
    shop.orders.sort(key=lambda o: o["_created"])
    # renumber sequentially by creation time
    seq = 481200
    renum = {}
    for o in shop.orders:
        seq += r.choice([1, 1, 1, 1, 1, 2, 3])
        renum[o["id"]] = str(seq)
    for o in shop.orders:
        o["id"] = renum[o["id"]]
        if "_dup_partner" in o:
            o["_dup_partner"] = renum[o["_dup_partner"]]
        if "_dup_of" in o:
            o["_dup_of"] = renum[o["_dup_of"]]
    shop.oid_seq = seq + 3
    shop.by_oid = {o["id"]: o for o in shop.orders}


def simulate(shop: Shop):
    r = rng_for("lifecycle")
    dup_pairs = [(shop.by_oid[o["_dup_of"]], o) for o in shop.orders if "_dup_of" in o]
    unhandled_dups = set(o2["id"] for _, o2 in dup_pairs[-3:])  # today's: not found yet
    # orders left in "Перед сборкой" (violations at the end of a shift)
    cands = [
        o
        for o in shop.orders
        if o["_created"].date() in (ANCHOR - timedelta(days=1), ANCHOR)
        and "_dup_of" not in o
        and "_dup_partner" not in o
        and not o["_cust"]["company"]
        and o["_created"].hour < 18
    ]
    leave_before = set(o["id"] for o in r.sample(cands, 7))
    for o in shop.orders:
        if "_dup_of" in o:
            continue
        process_order(shop, o, r, force_leave_before=o["id"] in leave_before)
    for main, dup in dup_pairs:
        if dup["id"] in unhandled_dups or "_taken" not in main:
            # nobody has noticed yet: the duplicate just sits there
            process_order(
                shop, dup, r, force_leave_before=dup["id"] in unhandled_dups and "_taken" in main
            )
            continue
        t = main["_taken"] + timedelta(minutes=r.randint(2, 9))
        mgr = main["manager"]
        shop.set_status(dup, t, ST_BEFORE, mgr)
        dup["manager"] = mgr
        t2 = t + timedelta(minutes=r.randint(1, 4))
        shop.set_status(dup, t2, ST_DUP, mgr)
        shop.comment(dup, t2, mgr, f"Дубль. Основной заказ №{main['id']}.")
        shop.comment(
            main, t2, mgr, f"Основной заказ. Дубль №{dup['id']} отменён (поиск по телефону)."
        )
        dup["extra"]["duplicate_of"] = main["id"]


# ---------------------------------------------------------------------------
# Special scenarios on orders (flags / comments), calls from customers
# ---------------------------------------------------------------------------


def flag_scenarios(shop: Shop):
    r = rng_for("flags")
    live = [o for o in shop.orders if o["status"] in (ST_FOR, ST_ASSEMBLED, ST_SHIPPED, ST_NOANS)]
    # forgotten "Получен менеджером" on finished orders
    for o in r.sample(
        [o for o in shop.orders if o["status"] in (ST_FOR, ST_ASSEMBLED, ST_SHIPPED)], 8
    ):
        shop.flag(o, F_TAKEN)
    # Склад
    for o in r.sample([o for o in live if o["status"] in (ST_FOR, ST_NOANS)], 6):
        it = r.choice(o["items"])
        t = datetime.fromisoformat(o["updated_at"]) + timedelta(minutes=r.randint(2, 30))
        shop.flag(o, F_STOCK)
        shop.comment(
            o,
            min(t, SNAP),
            o["manager"] or "Смирнова",
            f"Склад: проверить наличие «{it['name']}» ({it['sku']}), на сайте остаток 1, в 1С 0.",
        )
    # Изменение стоимости
    for o in r.sample(
        [o for o in live if o["status"] in (ST_FOR, ST_ASSEMBLED) and not o["_paid"]], 6
    ):
        it = r.choice(o["items"])
        goods = sum(i["price"] * i["qty"] for i in o["items"])
        kind = r.randrange(3)
        if kind == 0:
            disc = round(it["price"] * 0.1)
            it["price"] -= disc
            why = f"скидка 10% на «{it['name']}» (повреждена упаковка)"
        elif kind == 1:
            removed = o["items"].pop() if len(o["items"]) > 1 else None
            why = f"клиент отказался от «{removed['name']}»" if removed else "пересчёт доставки"
            if not removed:
                o["delivery_cost"] = float(o["delivery_cost"] + 50)
        else:
            disc = 300
            it["price"] -= disc
            why = "промокод ЗИМА300 не применился на сайте, скидка 300 ₽ вручную"
        goods = sum(i["price"] * i["qty"] for i in o["items"])
        total = goods + o["delivery_cost"]
        o["total"] = float(total)
        o["extra"]["to_pay"] = float(total)
        t = datetime.fromisoformat(o["updated_at"]) + timedelta(minutes=r.randint(2, 20))
        shop.flag(o, F_PRICE)
        shop.comment(
            o,
            min(t, SNAP),
            o["manager"] or "Попова",
            f"Изменение стоимости: {why}. Товары {goods:.0f} + доставка {o['delivery_cost']:.0f} = {total:.0f} ₽.",
        )
    # Проблемный заказ
    problems = [
        "Курьер повредил коробку, клиент требует компенсацию. Ждём ответа от службы доставки.",
        "Оплата прошла дважды (два списания по 3 490 ₽), ждём выписку от банка.",
        "Посылка потеряна ПВЗ, идёт розыск. Клиент звонит каждый день.",
        "Пришла не та модель, на складе пересорт. Согласовываем замену с поставщиком.",
    ]
    for o, txt in zip(
        r.sample([o for o in shop.orders if o["status"] in (ST_SHIPPED, ST_DELIVERED)], 4),
        problems,
        strict=True,
    ):
        t = datetime.fromisoformat(o["updated_at"]) + timedelta(hours=r.randint(1, 20))
        shop.flag(o, F_PROBLEM)
        shop.comment(o, min(t, SNAP), r.choice(DAY_MANAGERS), txt)
    # Оставляем / Перезвонить with Обзвон
    for o in r.sample(
        [o for o in shop.orders if o["status"] == ST_NOANS],
        min(5, len([1 for o in shop.orders if o["status"] == ST_NOANS])),
    ):
        t = datetime.fromisoformat(o["updated_at"]) + timedelta(minutes=r.randint(5, 60))
        if r.random() < 0.5:
            shop.flag(o, F_CALLING)
            shop.flag(o, F_CALLBACK)
            shop.comment(
                o, min(t, SNAP), o["manager"], "Обзвон: просила перезвонить сегодня после 18:00."
            )
        else:
            shop.flag(o, F_CALLING)
            shop.flag(o, F_KEEP)
            shop.comment(
                o, min(t, SNAP), o["manager"], "Обзвон: клиент в отъезде до 20.01, заказ оставляем."
            )


def customer_calls(shop: Shop):
    """Incoming calls from customers, missed calls and callbacks, internal lines."""
    r = rng_for("calls")
    orders = [o for o in shop.orders if o["status"] != ST_DUP]
    reasons = [
        "где заказ",
        "перенос доставки",
        "изменить состав",
        "оплата по счёту",
        "возврат",
        "наличие товара",
        "сертификат",
        "отмена",
        "статус возврата денег",
    ]
    for _ in range(140):
        o = r.choice(orders)
        t0 = o["_created"] + timedelta(hours=r.randint(1, 90), minutes=r.randrange(60))
        if t0 > END:
            continue
        # customers call during the day, a few late
        t0 = t0.replace(
            hour=r.choices(range(8, 23), weights=[2, 6, 8, 8, 8, 7, 7, 7, 7, 7, 6, 5, 3, 2, 1])[0]
        )
        if t0 > END or t0 < o["_created"]:
            continue
        line = line_for_customer(o, r)
        digits = o["_cust"]["_digits"]
        if r.random() < 0.1 and o["_cust"]["_digits2"]:
            digits = o["_cust"]["_digits2"]
        working = is_work(t0)
        missed = (not working) or r.random() < 0.24
        why = r.choice(reasons)
        if not missed:
            mgr = manager_for(t0, r)
            call_event(
                shop,
                "in",
                t0,
                line,
                digits,
                LINES[line]["number"],
                True,
                talk_seconds(r),
                answered_by=mgr,
                why=why,
            )
            continue
        ev = call_event(shop, "in", t0, line, digits, LINES[line]["number"], False, why=why)
        fate = r.random()
        tcb = next_work(add_minutes(t0, r, 8, 150), r)
        if tcb > SNAP:
            continue  # nobody has called back yet
        mgr = manager_for(tcb, r)
        if fate < 0.55:  # called back and reached
            cb = call_event(
                shop,
                "out",
                tcb,
                outgoing_line(o),
                mgr,
                digits,
                True,
                talk_seconds(r),
                answered_by=digits,
                why="перезвон",
            )
            ev["callback_state"], ev["callback_time"] = "Перезвонили", cb["start"]
        elif fate < 0.68:  # customer called again and got through
            tin = tcb + timedelta(minutes=r.randint(-5, 40))
            if tin <= t0:
                tin = t0 + timedelta(minutes=r.randint(3, 30))
            cb = call_event(
                shop,
                "in",
                tin,
                line,
                digits,
                LINES[line]["number"],
                True,
                talk_seconds(r),
                answered_by=manager_for(tin, r),
                why=why,
            )
            ev["callback_state"], ev["callback_time"] = "Клиент перезвонил", cb["start"]
        elif fate < 0.78:  # repeat caller, missed again
            tin = t0 + timedelta(minutes=r.randint(2, 25))
            call_event(shop, "in", tin, line, digits, LINES[line]["number"], False, why=why)
        elif fate < 0.86:  # callback attempt, no answer
            call_event(shop, "out", tcb, outgoing_line(o), mgr, digits, False, why="перезвон")
            ev["callback_state"] = "Не дозвонились"
        # else: nobody called back (work for the tool)
    # numbers that match no order
    unknown = [rng_for("unknown").choice(["915", "926", "999", "921", "903"]) for _ in range(24)]
    ru = rng_for("unknown-digits")
    for i, pre in enumerate(unknown):
        d = r.choice(DAYS)
        t0 = random_time(r, d, weights=[0] * 8 + [3, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 2, 1, 0, 0])
        digits = "7" + pre + f"{ru.randrange(10**7):07d}"
        line = r.choice(["8-800 Игромир", "8-800 Игромир", "8-800 Партнёры", "Игромир Москва"])
        ans = is_work(t0) and r.random() < 0.6
        call_event(
            shop,
            "in",
            t0,
            line,
            digits,
            LINES[line]["number"],
            ans,
            talk_seconds(r, 20, 200) if ans else 0,
            answered_by=manager_for(t0, r) if ans else "",
            why="нет заказа",
        )
        if i % 7 == 0:  # the same unknown number tries again
            call_event(
                shop,
                "in",
                t0 + timedelta(minutes=r.randint(3, 50)),
                line,
                digits,
                LINES[line]["number"],
                False,
                why="нет заказа",
            )
    # internal lines: ОРТ (retail dept), HR (job applicants), V3stock (warehouse)
    for line, n in (("ОРТ", 16), ("HR", 10), ("V3stock", 14)):
        for _ in range(n):
            d = r.choice([x for x in DAYS if line != "HR" or x not in HOLIDAYS])
            t0 = random_time(r, d, weights=[0] * 9 + [5, 6, 6, 6, 6, 6, 6, 5, 4, 2, 1, 0, 0, 0, 0])
            if line == "V3stock":
                src = r.choice(["74957000011", "74957000012", "79857000013"])
            elif line == "ОРТ":
                src = r.choice(["74951000101", "74951000102", "79167000014"])
            else:
                src = "79" + r.choice(["03", "16", "26", "77"]) + f"{r.randrange(10**7):07d}"
            ans = r.random() < 0.55
            call_event(
                shop,
                "in",
                t0,
                line,
                src,
                LINES[line]["number"],
                ans,
                talk_seconds(r, 20, 240) if ans else 0,
                answered_by=manager_for(t0, r) if ans else "",
                why="внутренняя линия",
            )
    # internal extension-to-extension calls
    for _ in range(18):
        d = r.choice(DAYS)
        t0 = random_time(r, d, weights=[0] * 9 + [5] * 12 + [0, 0, 0])
        a = manager_for(t0, r)
        b = r.choice(
            [
                m
                for m in (HOLIDAY_MANAGERS if d in HOLIDAYS or d.weekday() >= 5 else DAY_MANAGERS)
                if m != a
            ]
        )
        ans = r.random() < 0.8
        call_event(
            shop,
            "int",
            t0,
            None,
            a,
            b,
            ans,
            talk_seconds(r, 10, 120) if ans else 0,
            answered_by=b if ans else "",
        )
    # calls to the head of sales about billing deviations etc.
    for d in (ANCHOR - timedelta(days=1), ANCHOR):
        t0 = at(d, 10, r.randint(5, 40), r.randrange(60))
        call_event(
            shop,
            "int",
            t0,
            None,
            "Кузнецов",
            "ROP",
            True,
            talk_seconds(r, 30, 100),
            answered_by="ROP",
        )


def cost_of(ev: dict) -> float:
    if ev["cost_override"] is not None:
        return ev["cost_override"]
    if not ev["answered"] or ev["kind"] == "int":
        return 0.0
    line = LINES.get(ev["line"] or "")
    if ev["kind"] == "in":
        if line and line["billing"] == "per_minute":
            return round(math.ceil(ev["talk"] / 60) * line["rate"], 2)
        return 0.0
    rate = (line or LINES["Игромир Москва"])["rate"]
    return round(ev["talk"] * rate / 60, 2)


def billing_deviations(shop: Shop):
    """Deliberate billing errors for the daily billing check."""
    r = rng_for("billing")

    def answered(kind: str, d: date) -> list[dict]:
        return [
            e for e in shop.calls if e["kind"] == kind and e["answered"] and e["start"].date() == d
        ]

    def hotline(d: date) -> list[dict]:  # answered on a per-minute line, not whole minutes
        return [
            e
            for e in answered("in", d)
            if LINES[e["line"]]["billing"] == "per_minute" and e["talk"] % 60
        ]

    y = ANCHOR - timedelta(days=1)
    notes = []
    for e in (r.choice(answered("out", y)), r.choice(answered("out", DAYS[4]))):
        rate = LINES[e["line"]]["rate"]
        e["cost_override"] = round(math.ceil(e["talk"] / 60) * rate, 2)  # billed as whole minutes
        notes.append(("per_second_round", e))
    for e in (r.choice(hotline(y)), r.choice(hotline(DAYS[5]))):
        rate = LINES[e["line"]]["rate"]
        e["cost_override"] = round(e["talk"] * rate / 60, 2)  # per second on a per-minute line
        notes.append(("per_minute_fraction", e))
    return notes


# ---------------------------------------------------------------------------
# Mail attachments (mail itself is built by fixturelib.MailBox)
# ---------------------------------------------------------------------------


def fake_xlsx(rows: list[list[str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:

        def w(name, text):
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, text)

        w(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        w(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Лист1" sheetId="1"/></sheets></workbook>',
        )
        cells = "".join(
            "<row>" + "".join(f'<c t="inlineStr"><is><t>{c}</t></is></c>' for c in row) + "</row>"
            for row in rows
        )
        w(
            "xl/worksheets/sheet1.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{cells}</sheetData></worksheet>',
        )
    return buf.getvalue()


def quote(text: str, who: str, t: datetime) -> str:
    lines = "\n".join("> " + ln if ln else ">" for ln in text.strip().split("\n"))
    return f"\n\n{t.strftime('%d.%m.%Y %H:%M')}, {who} пишет:\n{lines}\n"


CLIENT_STYLES = [
    # charset, cte, mailer, boundary style, html alternative
    ("utf-8", "base64", None, "plain", False),
    ("utf-8", "8bit", "Mozilla Thunderbird", "plain", False),
    ("utf-8", "qp", None, "plain", True),
    ("utf-8", "base64", None, "plain", True),
    ("windows-1251", "qp", "Microsoft Outlook 16.0", "outlook", True),
    ("windows-1251", "base64", "Microsoft Outlook 16.0", "outlook", True),
    ("windows-1251", "8bit", None, "plain", False),
    ("koi8-r", "8bit", "The Bat! (v9.5.2) Professional", "thebat", False),
    ("koi8-r", "base64", "The Bat! (v10.1.3) Home", "thebat", False),
]
CLIENT_W = [20, 8, 10, 12, 10, 6, 5, 9, 5]


def customer_mail(
    mb: MailBox,
    rng: random.Random,
    *,
    cust: dict,
    to_box: str,
    subject: str,
    text: str,
    t: datetime,
    attachments=(),
    in_reply_to=None,
    from_addr: str | None = None,
) -> Message:
    charset, cte, mailer, style, alt = rng.choices(CLIENT_STYLES, weights=CLIENT_W)[0]
    p = cust["_p"]
    name = rng.choice(
        [f"{p['first']} {p['surname']}", f"{p['surname']} {p['first']}", None, p["first"]]
    )
    msg = mb.build_mail(
        frm=(name, from_addr or cust["emails"][0]),
        to=[(None, MAILBOX_ADDR[to_box])],
        subject=subject,
        t=t,
        text=text,
        html=html_of(text) if alt else None,
        charset=charset,
        cte=cte,
        attachments=list(attachments),
        in_reply_to=in_reply_to,
        mailer=mailer,
        style=style,
    )
    mb.add(to_box, "INBOX", t, msg)
    return msg


def team_mail(
    mb: MailBox,
    rng: random.Random,
    *,
    box: str,
    to: tuple[str | None, str],
    subject: str,
    text: str,
    t: datetime,
    attachments=(),
    in_reply_to=None,
    cc=(),
) -> Message:
    charset, cte = ("utf-8", "base64") if rng.random() < 0.75 else ("windows-1251", "qp")
    msg = mb.build_mail(
        frm=(MAILBOX_NAME[box], MAILBOX_ADDR[box]),
        to=[to],
        subject=subject,
        t=t,
        text=text,
        charset=charset,
        cte=cte,
        attachments=list(attachments),
        in_reply_to=in_reply_to,
        cc=list(cc),
        mailer="Kiwi Mail 3.2" if rng.random() < 0.5 else "Mozilla Thunderbird",
    )
    mb.add(box, "Sent", t, msg)
    return msg


def re(subject: str) -> str:
    return subject if subject.lower().startswith(("re:", "ответ:")) else f"Re: {subject}"


def reply_delay(rng: random.Random, t: datetime, late: bool = False) -> datetime:
    if late:
        d = add_minutes(t, rng, 75, 300)
    else:
        d = add_minutes(t, rng, 6, 55)
    return next_work(d, rng, 3, 50)


def box_for(o: dict, kind: str) -> str:
    aff = o["_aff"]
    if aff != "igromir":
        return AFFILIATES[aff][2]
    return {
        "return": "support",
        "form": "returns",
        "cert": "support",
        "cancel": "support",
        "resched": "support",
        "question": "support",
    }[kind]


def sig(o_or_aff) -> str:
    aff = o_or_aff if isinstance(o_or_aff, str) else o_or_aff["_aff"]
    return SIGNATURES[aff]


def gf(text: str, cust: dict) -> str:
    """Resolve "{feminine|masculine}" groups for the customer's gender."""
    out, i = [], 0
    while True:
        j = text.find("{", i)
        k = text.find("}", j)
        if j < 0 or k < 0 or "|" not in text[j:k]:
            out.append(text[i:])
            return "".join(out)
        f, m = text[j + 1 : k].split("|")
        out.append(text[i:j])
        out.append(f if cust["_p"]["female"] else m)
        i = k + 1


def greet(cust: dict) -> str:
    p = cust["_p"]
    return (
        f"Здравствуйте, {p['first']} {p['patronymic']}!"
        if cust["company"] or len(p["first"]) % 2
        else f"Здравствуйте, {p['first']}!"
    )


# ---------------------------------------------------------------------------
# Mail scenarios
# ---------------------------------------------------------------------------

DEFECTS_BY_PREFIX = {
    "MS": [
        "не крутится колесо",
        "пульт не реагирует",
        "моторчик гудит, но машинка не едет",
        "треснул корпус",
    ],
    "MI": ["разошёлся шов на боку", "оторвался глаз"],
    "KL": ["отломилась ручка у куклы", "разошёлся шов на платье", "не закрываются глаза"],
    "KN": ["сломана деталь крепления", "детали не соединяются, брак литья"],
    "RZ": ["не включается, батарейки новые", "не работает звук", "треснул корпус"],
    "RI": ["не включается, батарейки новые", "не работает звук", "отломилась деталь"],
}
DEFECTS_OTHER = ["отломилась деталь", "треснул корпус", "порвана упаковка, внутри сломано"]
MISSING_BY_PREFIX = {
    "MS": ["нет пульта", "нет зарядного кабеля"],
    "KN": ["не хватает 6 деталей", "нет инструкции"],
}
MISSING_OTHER = ["не хватает деталей", "нет инструкции и части комплекта"]


def defect_for(rng: random.Random, sku: str) -> str:
    return rng.choice(DEFECTS_BY_PREFIX.get(sku[:2], DEFECTS_OTHER))


def missing_for(rng: random.Random, sku: str) -> str:
    return rng.choice(MISSING_BY_PREFIX.get(sku[:2], MISSING_OTHER))


REFUND_METHODS = ["Карта Сбербанка", "Карта другого банка", "Мобильный телефон", "QIWI", "ЮMoney"]
BANKS = [
    ("АО «Банк Северный»", "044525101"),
    ("ПАО «Волга-Кредит»", "042202102"),
    ("АО «Уралинвестбанк-Пример»", "046577103"),
    ("ООО «Банк Восточный путь»", "040813104"),
]


def refund_details(rng: random.Random, method: str, cust: dict) -> dict:
    p = cust["_p"]
    holder = f"{p['surname']} {p['first']} {p['patronymic']}"
    if method == "Карта Сбербанка":
        return {"card_holder": holder}
    if method == "Карта другого банка":
        bank, bik = rng.choice(BANKS)
        return {
            "card_holder": holder,
            "card_number": "2200" + "".join(str(rng.randrange(10)) for _ in range(12)),
            "account": "40817810" + "".join(str(rng.randrange(10)) for _ in range(12)),
            "bik": bik,
            "inn": "77" + "".join(str(rng.randrange(10)) for _ in range(10)),
            "bank": bank,
        }
    if method == "Мобильный телефон":
        return {
            "phone": fmt_phone(cust["_digits"], 0),
            "operator": rng.choice(["МТС", "Билайн", "МегаФон", "Т2"]),
        }
    if method == "QIWI":
        return {"wallet": "+" + cust["_digits"]}
    return {"wallet": "4100" + "".join(str(rng.randrange(10)) for _ in range(11))}


def payout_date(handed: date, method: str = "") -> date:
    """List to the accountant on Tuesday, refunds paid Thursday-Friday of that week."""
    tue = (
        next_weekday(handed, 1, include=False)
        if handed.weekday() >= 1
        else next_weekday(handed, 1, include=True)
    )
    return tue + timedelta(days=2 if method == "Карта Сбербанка" else 3)


def free_id_near(shop: Shop, t: datetime) -> str:
    """Kiwi numbers are sequential: take the first unused number after the last order created before t."""
    window = sorted(
        (o for o in shop.orders if o["_created"] >= at(DAY0, 0)), key=lambda o: o["_created"]
    )
    prev = max([int(o["id"]) for o in window if o["_created"] <= t] or [481200])
    n = prev + 1
    while str(n) in shop.by_oid:
        n += 1
    return str(n)


def december_originals(shop: Shop, n: int) -> list[dict]:
    r = rng_for("december")
    res = []
    seq = 476310
    for _ in range(n):
        d = date(2025, 12, 15) + timedelta(days=r.randint(0, 18))
        t = random_time(r, d)
        cust = shop.pick_customer(t) if r.random() < 0.2 else shop.new_customer(t)
        o = shop.make_order(t, cust, oid=str(seq))
        seq += r.randint(60, 160)
        mgr = r.choice(DAY_MANAGERS)
        t1 = next_work(add_minutes(t, r, 10, 90), r)
        shop.set_status(o, t1, ST_BEFORE, mgr)
        shop.set_status(o, t1 + timedelta(minutes=r.randint(3, 10)), ST_FOR, mgr)
        o["manager"] = mgr
        wh, _ = supplier_dates(t1, o["items"])
        dd = customer_date(o, wh, r)
        o["delivery_date"] = dd.isoformat()
        shop.set_status(o, at(wh, 14, r.randrange(60)), ST_ASSEMBLED, "Склад")
        shop.set_status(o, at(wh, 19, r.randrange(60)), ST_SHIPPED, "Склад")
        shop.set_status(
            o,
            at(dd, r.randint(11, 20), r.randrange(60)),
            ST_DELIVERED,
            "Курьер" if o["delivery_method"].startswith("Курьер") else o["delivery_method"],
        )
        o["payment_status"] = "Оплачен"
        o["extra"]["to_pay"] = 0.0
        o["_delivered"] = at(dd, 20, 0)
        res.append(o)
    shop.orders.sort(key=lambda o: o["_created"])
    return res


def return_scenarios(shop: Shop, mb: MailBox):
    r = rng_for("returns")
    originals = december_originals(shop, 22)
    window_delivered = [
        o
        for o in shop.orders
        if o["status"] == ST_DELIVERED
        and o["_created"] >= at(DAY0, 0)
        and o["delivery_method"] != "ПЭК"
    ]
    r.shuffle(window_delivered)
    pool = originals + window_delivered[:8]
    r.shuffle(pool)
    # stage per scenario: 1 request unanswered, 2 answered/awaiting form, 3 form arrived not processed,
    # 4 processed (ЗНВ created), 5 handed in at ПВЗ, 6 completed
    stages = [1] * 2 + [2] * 5 + [3] * 4 + [4] * 5 + [5] * 6 + [6] * 3
    znv = 571
    for o, stage in zip(pool, stages, strict=False):
        cust = o["_cust"]
        delivered = datetime.fromisoformat(o["status_history"][-1]["at"])
        it = r.choice(o["items"])
        kind = r.choices(["defect", "incomplete", "size", "mind"], weights=[45, 15, 20, 20])[0]
        exchange = r.random() < (0.55 if kind in ("defect", "incomplete", "size") else 0.1)
        oid = o["id"]
        if kind == "defect":
            defect = defect_for(r, it["sku"])
            reason = f"Брак: {defect}"
            ask = [
                f"Здравствуйте! Получили заказ №{oid}. {it['name']} — {defect}. Хотим {'обменять на такой же' if exchange else 'вернуть деньги'}. Что нужно сделать?",
                f"Добрый день.\nВ заказе {oid} бракованная игрушка: «{it['name']}», {defect}.\nПрошу {'заменить' if exchange else 'оформить возврат'}.",
                f"Здравствуйте, купили у вас {it['name'].split('«')[0].strip().lower()}, {defect}. Номер заказа {oid}. Ребёнок расстроен(( Как {'поменять' if exchange else 'вернуть'}?",
            ][r.randrange(3)]
            subject = r.choice(
                [f"Брак — заказ {oid}", "Бракованный товар", f"Возврат по заказу №{oid}", "обмен"]
            )
        elif kind == "incomplete":
            defect = missing_for(r, it["sku"])
            reason = f"Некомплект: {defect}"
            ask = f"Здравствуйте! В наборе «{it['name']}» {defect}. Заказ №{oid}. Прошу {'заменить' if exchange else 'вернуть деньги'}."
            subject = r.choice([f"Некомплект, заказ {oid}", "Не хватает деталей"])
        elif kind == "size":
            reason = r.choice(["Не подошёл размер", "Не подошёл цвет"])
            ask = f"Добрый день. {it['name']} — {'маловат(а) для ребёнка' if 'размер' in reason else 'дочка хотела другой цвет'}. Можно {'обменять' if exchange else 'вернуть'}? Заказ {oid}."
            subject = r.choice(["Обмен товара", f"Заказ {oid} обмен", "Хочу обменять игрушку"])
        else:
            reason = "Передумали"
            ask = f"Здравствуйте. Подарили на Новый год «{it['name']}», но у ребёнка уже есть такая. Как оформить возврат? Заказ №{oid}, упаковку не вскрывали."
            subject = r.choice(["Возврат товара", "возврат", f"Возврат заказа {oid}"])
        ask += (
            "\n\n"
            + r.choice(
                [
                    cust["_p"]["first"],
                    f"{cust['_p']['first']} {cust['_p']['surname']}",
                    f"{cust['_p']['surname']} {cust['_p']['first'][0]}.",
                    "",
                ]
            )
            + (f"\nтел. {fmt_phone(cust['_digits'], r.randrange(6))}" if r.random() < 0.6 else "")
        )
        box = box_for(o, "return")
        # time of the request
        if stage == 1:
            t_req = at(ANCHOR, r.randint(15, 20), r.randrange(60))
        elif stage == 2:
            t_req = random_time(r, r.choice(DAYS[5:]), weights=[0] * 8 + [3] * 14 + [1, 1])
        elif stage == 3:
            t_req = random_time(r, r.choice(DAYS[3:6]), weights=[0] * 8 + [3] * 14 + [1, 1])
        elif stage in (4, 5):
            t_req = random_time(r, r.choice(DAYS[0:4]), weights=[0] * 8 + [3] * 14 + [1, 1])
        else:
            t_req = random_time(r, r.choice(DAYS[0:2]), weights=[0] * 8 + [3] * 14 + [1, 1])
        if t_req < delivered:
            t_req = delivered + timedelta(hours=r.randint(2, 20))
        if t_req > END:
            t_req = at(ANCHOR, 19, r.randrange(60))
        attach = []
        if kind == "defect" and r.random() < 0.5:
            attach.append(
                attachment(
                    fake_jpeg(r),
                    f"IMG_{t_req.strftime('%Y%m%d')}_{r.randint(100000, 235959)}.jpg",
                    "jpg",
                )
            )
        m1 = customer_mail(
            mb, r, cust=cust, to_box=box, subject=subject, text=ask, t=t_req, attachments=attach
        )
        if stage == 1:
            continue
        # reply with the blank form of the right affiliate
        aff = o["_aff"]
        aff_name = AFFILIATES[aff][1]
        form_name = (
            f"Бланк возврата и обмена — {aff_name}.pdf"
            if r.random() < 0.6
            else f"blank_vozvrat_{aff}.xlsx"
        )
        form_data = (
            fake_pdf(f"Blank vozvrata {aff}", r)
            if form_name.endswith(".pdf")
            else fake_xlsx(
                [
                    ["Бланк возврата/обмена", aff_name],
                    ["Номер заказа", ""],
                    ["ФИО", ""],
                    ["Причина", ""],
                    ["Реквизиты для возврата", ""],
                ]
            )
        )
        t_rep = reply_delay(r, t_req, late=r.random() < 0.15)
        text = (
            f"{greet(cust)}\n\nСожалеем, что так получилось. Для оформления {'обмена' if exchange else 'возврата'} "
            f"заполните, пожалуйста, бланк во вложении и пришлите его ответным письмом. В бланке укажите номер "
            f"заказа, причину и реквизиты для возврата денежных средств.\n\nТовар сдаётся в пункт выдачи заказов "
            f"(ПВЗ). После получения бланка мы свяжемся с вами и согласуем дату и пункт.\n\n{sig(o)}"
        )
        text += quote(ask, cust["emails"][0], t_req)
        m2 = team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=re(subject),
            text=text,
            t=t_rep,
            attachments=[
                attachment(form_data, form_name, "pdf" if form_name.endswith(".pdf") else "xlsx")
            ],
            in_reply_to=m1,
        )
        if stage == 2:
            continue
        # the filled-in form arrives (to the returns box, the affiliate box or back to support)
        t_form = t_rep + timedelta(hours=r.randint(3, 40), minutes=r.randrange(60))
        if stage == 3:
            t_form = (
                at(ANCHOR, r.randint(9, 18), r.randrange(60))
                if r.random() < 0.6
                else at(ANCHOR - timedelta(days=1), r.randint(16, 20), r.randrange(60))
            )
            if t_form <= t_rep:
                t_form = t_rep + timedelta(hours=2)
        if t_form > END:
            t_form = at(ANCHOR, 20, r.randrange(60))
        if aff == "igromir":
            form_box = r.choice(["returns", "returns", "returns", "support"])
        else:
            form_box = box
        method = r.choice(REFUND_METHODS) if not exchange else None
        filled_name = r.choice(
            ["Бланк заполненный.pdf", "blank.pdf", f"Возврат {oid}.pdf", f"скан бланка {oid}.jpg"]
        )
        filled = attachment(
            fake_jpeg(r, 2000) if filled_name.endswith(".jpg") else fake_pdf("filled form", r),
            filled_name,
            "jpg" if filled_name.endswith(".jpg") else "pdf",
        )
        ftext = r.choice(
            [
                gf("Бланк {заполнила|заполнил}, во вложении.", cust),
                "Добрый день, высылаю заполненный бланк.",
                f"Бланк по заказу {oid} во вложении. {('Деньги прошу вернуть: ' + method.lower()) if method else 'Прошу обмен на такой же.'}",
                "Здравствуйте, отправляю бланк. Когда можно сдать в ПВЗ?",
            ]
        )
        customer_mail(
            mb,
            r,
            cust=cust,
            to_box=form_box,
            subject=re(subject),
            text=ftext,
            t=t_form,
            attachments=[filled],
            in_reply_to=m2,
        )
        if stage == 3:
            continue
        # processed: comment "form in mail", flag, ЗНВ
        mgr = manager_for(t_form, r)
        t_proc = reply_delay(r, t_form)
        shop.comment(o, t_proc, mgr, f"Бланк в почте ({MAILBOX_ADDR[form_box]}). {reason}.")
        shop.flag(o, F_EXCH)
        rid = f"ЗНВ-{znv}"
        znv += r.randint(1, 3)
        free = kind in ("defect", "incomplete")
        pvz_city = o["city"] if o["city"] in PVZ_BY_CITY else "Москва"
        pvz = r.choice(PVZ_BY_CITY[pvz_city])
        ret_items = [{"sku": it["sku"], "name": it["name"], "qty": 1, "price": it["price"]}]
        amount = it["price"] + (o["delivery_cost"] if free else 0.0)
        rec = {
            "id": rid,
            "order_id": oid,
            "type": "Обмен" if exchange else "Возврат",
            "reason": reason,
            "status": "Ожидает сдачи в ПВЗ",
            "items": ret_items,
            "pickup_point": f"{pvz['code']}, {pvz['address']}",
            "handed_in_at": None,
            "refund_method": method,
            "refund_details": refund_details(r, method, cust) if method else None,
            "refund_amount": None if exchange else float(amount),
            "payout_date": None,
            "exchange_order_id": None,
            "created_at": iso(t_proc + timedelta(minutes=r.randint(2, 15))),
            "extra": {
                "mailbox": MAILBOX_ADDR[form_box],
                "delivery_free": free,
                "affiliate": aff_name,
                "agreed_date": (t_proc.date() + timedelta(days=r.randint(1, 3))).isoformat(),
            },
        }
        shop.returns.append(rec)
        t_rec = datetime.fromisoformat(rec["created_at"])
        call_customer(
            shop,
            o,
            t_rec - timedelta(minutes=r.randint(1, 3)),
            mgr,
            True,
            talk_seconds(r, 60, 300),
            why=f"возврат {rid}",
        )
        ex = None
        if exchange:
            ex_items = [
                {
                    "sku": it["sku"],
                    "name": it["name"],
                    "qty": 1,
                    "price": it["price"],
                    "supplier_group": it["supplier_group"],
                }
            ]
            if r.random() < 0.25:  # out of stock: an alternative
                alt = r.choice(
                    [
                        c
                        for c in CATALOGUE
                        if c[0][:2] == it["sku"][:2] and c[0] != it["sku"] and not c[4]
                    ]
                )
                ex_items = [
                    {
                        "sku": alt[0],
                        "name": alt[1],
                        "qty": 1,
                        "price": float(alt[2]),
                        "supplier_group": alt[3],
                    }
                ]
                rec["extra"]["alternative"] = (
                    f"нет в наличии «{it['name']}», согласована замена на «{alt[1]}»"
                )
            ex = shop.make_order(
                t_rec, cust, aff=aff, items=ex_items, oid=free_id_near(shop, t_rec)
            )
            ex["address"], ex["delivery_method"] = o["address"], o["delivery_method"]
            ex["phone"], ex["email"], ex["customer_name"] = (
                o["phone"],
                o["email"],
                o["customer_name"],
            )
            for k in (
                "pickup_point",
                "delivery_zone",
                "km_outside_mkad",
                "post_zone",
                "pek",
                "delivery_window",
                "free_delivery",
            ):
                ex["extra"].pop(k, None)
                if k in o["extra"]:
                    ex["extra"][k] = o["extra"][k]
            ex["flags"] = [f for f in o["flags"] if f in (F_NIGHT, F_PEK)]
            ex["delivery_cost"] = 0.0 if free else o["delivery_cost"]
            diff = max(0.0, ex_items[0]["price"] - it["price"])
            due = diff + (0.0 if free else o["delivery_cost"])
            ex["total"] = float(ex_items[0]["price"] + ex["delivery_cost"])
            ex["extra"]["to_pay"] = float(due)
            ex["payment_status"] = "Оплачен" if due == 0 else "Не оплачен"
            ex["extra"]["exchange_for"] = oid
            ex["manager"] = mgr
            ex["delivery_date"] = rec["extra"]["agreed_date"]
            shop.set_status(ex, t_rec + timedelta(minutes=1), ST_FOR, mgr)
            rec["exchange_order_id"] = ex["id"]
            shop.comment(
                ex,
                t_rec + timedelta(minutes=2),
                mgr,
                f"ОБМЕН по заказу №{oid}. {'БРАК' if free else 'ОБМЕН'} №{oid}, ЗНВ №{rid.split('-')[1]}. "
                f"Доставка {'бесплатно' if free else 'за счёт клиента'}. К оплате: {due:.0f} ₽.",
            )
            rec["extra"]["comment"] = f"{'БРАК' if free else 'ОБМЕН'} №{oid}, ОБМЕН №{ex['id']}"
            shop.comment(
                o,
                t_rec + timedelta(minutes=3),
                mgr,
                f"{reason}. ЗНВ №{rid.split('-')[1]}, ОБМЕН №{ex['id']}, доставка {'бесплатно' if free else 'платная (не возвращается)'}.",
            )
        else:
            rec["extra"]["comment"] = f"{'БРАК' if free else 'ВОЗВРАТ'} №{oid}"
            shop.comment(
                o,
                t_rec + timedelta(minutes=3),
                mgr,
                f"{reason}. ЗНВ №{rid.split('-')[1]}, возврат денег{' с доставкой' if free else ' без стоимости доставки'}.",
            )
        if stage == 4:
            continue
        # handed in at the pick-up point
        t_h = at(
            date.fromisoformat(rec["extra"]["agreed_date"]), r.randint(11, 20), r.randrange(60)
        )
        if t_h > SNAP:
            t_h = SNAP - timedelta(hours=r.randint(1, 6))
        if t_h < t_rec:
            t_h = t_rec + timedelta(hours=3)
        rec["handed_in_at"] = iso(t_h)
        rec["status"] = "Сдан в ПВЗ"
        t_n = t_h + timedelta(minutes=r.randint(5, 50))
        if t_n <= END:
            html = (
                f'<html><body style="font-family:Arial"><p><b>{PVZ_NETWORK}</b>: возвратное отправление принято.</p>'
                f"<p>Заявка на возврат №{rid.split('-')[1]}, заказ №{oid}. Пункт: {pvz['code']}, {pvz['address']}.</p>"
                f"<p>Дата приёма: {t_h.strftime('%d.%m.%Y %H:%M')}. Отправление будет передано на склад продавца.</p></body></html>"
            )
            mb.add(
                "returns",
                "INBOX",
                t_n,
                mb.build_mail(
                    frm=(PVZ_NETWORK, "noreply@punktok.example"),
                    to=[(None, MAILBOX_ADDR["returns"])],
                    subject=f"Возврат принят в ПВЗ: заказ {oid}",
                    t=t_n,
                    html=html,
                ),
            )
        shop.unflag(o, F_EXCH)
        if exchange:
            rec["status"] = "Обмен оформлен"
            if stage == 6 and t_h + timedelta(hours=20) <= SNAP:
                rec["status"] = "Закрыта"
                shop.set_status(ex, t_h + timedelta(hours=20), ST_SHIPPED, "Склад")
        else:
            shop.flag(o, F_REFUND)
            rec["payout_date"] = payout_date(t_h.date(), method).isoformat()
            o["extra"]["to_pay"] = -float(amount)
            shop.comment(
                o,
                t_h + timedelta(hours=1),
                mgr,
                f"Возврат денег: -{amount:.0f} ₽, {method}"
                + (
                    f" ({rec['refund_details'].get('card_holder', '')})"
                    if method.startswith("Карта")
                    else ""
                )
                + f". ЗНВ №{rid.split('-')[1]}, выплата {date.fromisoformat(rec['payout_date']).strftime('%d.%m')}.",
            )
            t_q = t_h + timedelta(days=r.randint(1, 3), hours=r.randint(0, 6))
            if stage == 5 and t_q <= END and r.random() < 0.6:
                customer_mail(
                    mb,
                    r,
                    cust=cust,
                    to_box="returns" if aff == "igromir" else box,
                    subject=f"Когда вернут деньги? Заказ {oid}",
                    text=r.choice(
                        [
                            gf(
                                f"Здравствуйте! {{Сдала|Сдал}} возврат {t_h.strftime('%d.%m')}, когда придут деньги?",
                                cust,
                            ),
                            f"Добрый день. По заказу {oid} оформлен возврат (ЗНВ {rid.split('-')[1]}), товар сдан в ПВЗ. Подскажите сроки возврата денег.",
                        ]
                    ),
                    t=t_q,
                )
            if stage == 6:
                # the item reached the warehouse; the refund is on Tuesday's list for the accountant
                rec["status"] = "Получен складом"
                tue = date.fromisoformat(rec["payout_date"]) - timedelta(
                    days=(date.fromisoformat(rec["payout_date"]).weekday() - 1)
                )
                rec["extra"]["payout_list"] = tue.isoformat()
                shop.set_status(o, t_h + timedelta(hours=22), ST_RETURNED, "Склад")
    # phone-initiated returns without mail
    for o in window_delivered[8:20]:
        cust = o["_cust"]
        it = o["items"][0]
        t = datetime.fromisoformat(o["status_history"][-1]["at"]) + timedelta(
            hours=r.randint(20, 60)
        )
        t = next_work(t, r)
        if t > SNAP:
            continue
        rid = f"ЗНВ-{znv}"
        znv += r.randint(1, 3)
        mgr = manager_for(t, r)
        method = r.choice(REFUND_METHODS)
        reason = r.choice(["Передумали", "Не подошёл цвет", "Брак: " + defect_for(r, it["sku"])])
        free = reason.startswith("Брак")
        amount = it["price"] + (o["delivery_cost"] if free else 0.0)
        pvz = r.choice(PVZ_BY_CITY[o["city"]])
        shop.returns.append(
            {
                "id": rid,
                "order_id": o["id"],
                "type": "Возврат",
                "reason": reason,
                "status": "Новая",
                "items": [{"sku": it["sku"], "name": it["name"], "qty": 1, "price": it["price"]}],
                "pickup_point": f"{pvz['code']}, {pvz['address']}",
                "handed_in_at": None,
                "refund_method": method,
                "refund_details": refund_details(r, method, cust),
                "refund_amount": float(amount),
                "payout_date": None,
                "exchange_order_id": None,
                "created_at": iso(t),
                "extra": {
                    "mailbox": None,
                    "channel": "телефон",
                    "delivery_free": free,
                    "comment": f"{'БРАК' if free else 'ВОЗВРАТ'} №{o['id']}",
                },
            }
        )
        shop.flag(o, F_EXCH)
        shop.comment(o, t, mgr, f"{reason}. ЗНВ №{rid.split('-')[1]} (по телефону), ждём бланк.")


def courier_and_pvz_mails(shop: Shop, mb: MailBox):
    r = rng_for("delivery-mail")
    shipped = [
        o
        for o in shop.orders
        if o["status"] in (ST_SHIPPED, ST_DELIVERED) and o["_created"] >= at(DAY0, 0)
    ]
    courier = [o for o in shipped if o["delivery_method"].startswith("Курьер")]
    pvz = [
        o
        for o in shop.orders
        if o["delivery_method"] == "ПВЗ"
        and o["status"] == ST_SHIPPED
        and "at_pickup_point_since" in o["extra"]
    ]
    # a few parcels that arrived early in the week are still waiting at the pick-up point
    in_returns = {x["order_id"] for x in shop.returns}
    waiting = [
        o
        for o in shop.orders
        if o["delivery_method"] == "ПВЗ"
        and o["status"] == ST_DELIVERED
        and o["_created"] >= at(DAY0, 0)
        and o["id"] not in in_returns
        and not (set(o["flags"]) - {F_NIGHT})
        and date.fromisoformat(o["delivery_date"])
        + timedelta(days=PVZ_INDEX[o["extra"]["pickup_point"]]["storage_days"])
        <= ANCHOR + timedelta(days=2)
    ]
    for o in sorted(waiting, key=lambda o: o["id"])[:7]:
        o["status_history"].pop()
        o["status"] = ST_SHIPPED
        if not o["_paid"]:
            o["payment_status"] = "Не оплачен"
            o["extra"]["to_pay"] = o["total"]
        o["extra"]["at_pickup_point_since"] = o["delivery_date"]
        pvz.append(o)
    pvz.sort(key=lambda o: o["id"])
    r.shuffle(courier)
    r.shuffle(pvz)

    def courier_msg(o, subject, text, t, html=None):
        name, address = COURIER_SPB if o["city"] == "Санкт-Петербург" else COURIER_SERVICE
        msg = mb.build_mail(
            frm=(name, address),
            to=[(None, MAILBOX_ADDR["delivery"])],
            subject=subject,
            t=t,
            text=text,
            html=html,
            charset="windows-1251",
            cte="base64",
            mailer="1C:Enterprise 8.3",
            style="outlook",
        )
        mb.add("delivery", "INBOX", t, msg)
        return msg

    # 1) courier could not reach the customer
    for i, o in enumerate(courier[:7]):
        dd = date.fromisoformat(o["delivery_date"])
        if dd > ANCHOR:
            dd = ANCHOR
        t = at(dd, r.randint(11, 18), r.randrange(60))
        cust = o["_cust"]
        tries = (
            sorted(r.sample(range(10 * 60, t.hour * 60 + t.minute), 3))
            if t.hour > 10
            else [600, 615, 630]
        )
        text = (
            f"Добрый день!\n\nЗаказ №{o['id']}, получатель: {cust['_p']['surname']} {cust['_p']['first'][0]}.\n"
            f"Адрес: {o['address']}\nТелефон: {o['phone']}\n\nКурьер не смог дозвониться до получателя "
            f"(попытки: {', '.join(f'{m // 60:02d}:{m % 60:02d}' for m in tries)}). Дверь не открыли.\n"
            f"Просим связаться с клиентом и сообщить новую дату доставки.\n\nДиспетчерская служба\n"
            f"{COURIER_SERVICE[0] if o['city'] != 'Санкт-Петербург' else COURIER_SPB[0]}"
        )
        m = courier_msg(o, f"Недозвон по заказу {o['id']}", text, t)
        o["_courier_noanswer"] = t
        # handling: we call the customer; no luck -> move to the next day and mail the customer
        if t + timedelta(minutes=30) > SNAP or i >= 6:
            continue
        mgr = manager_for(t, r)
        tc = reply_delay(r, t)
        reached = i % 3 == 0
        call_customer(
            shop,
            o,
            tc,
            mgr,
            reached,
            talk_seconds(r, 40, 160) if reached else 0,
            why=f"курьер недозвон {o['id']}",
        )
        new_d = dd + timedelta(days=1)
        if reached:
            shop.comment(
                o,
                tc + timedelta(minutes=3),
                mgr,
                f"Курьер не дозвонился. Связались с клиентом, доставка перенесена на {new_d.strftime('%d.%m')}.",
            )
        else:
            shop.comment(
                o,
                tc + timedelta(minutes=3),
                mgr,
                f"Курьер не дозвонился, клиент не отвечает. Доставка перенесена на {new_d.strftime('%d.%m')}, клиенту отправлено письмо.",
            )
            box = box_for(o, "question")
            team_mail(
                mb,
                r,
                box=box,
                to=(None, cust["emails"][0]),
                subject=f"Доставка заказа №{o['id']} перенесена",
                text=(
                    f"{greet(cust)}\n\nСегодня курьер не смог до вас дозвониться, и мы тоже не дозвонились. "
                    f"Доставка заказа №{o['id']} перенесена на {new_d.strftime('%d.%m.%Y')}. "
                    f"Если дата или адрес не подходят, ответьте на это письмо или позвоните нам.\n\n{sig(o)}"
                ),
                t=tc + timedelta(minutes=5),
            )
        team_mail(
            mb,
            r,
            box="delivery",
            to=(None, COURIER_SERVICE[1] if o["city"] != "Санкт-Петербург" else COURIER_SPB[1]),
            subject=re(f"Недозвон по заказу {o['id']}"),
            text=f"Добрый день! Заказ №{o['id']}: перенос доставки на {new_d.strftime('%d.%m.%Y')}, "
            f"интервал {o['extra'].get('delivery_window', '10:00-15:00')}. Адрес прежний.\n\n{MAILBOX_NAME['delivery']}",
            t=tc + timedelta(minutes=7),
            in_reply_to=m,
        )
        o["delivery_date"] = new_d.isoformat()
    # 2) wrong address
    for i, o in enumerate(courier[9:14]):
        dd = min(date.fromisoformat(o["delivery_date"]), ANCHOR)
        t = at(dd, r.randint(11, 19), r.randrange(60))
        problem = r.choice(
            [
                "в доме нет такой квартиры",
                "дом по адресу не найден, навигатор ведёт на стройку",
                "не указан номер подъезда и код домофона, консьерж не пускает",
                "по адресу офис, получатель там не работает",
            ]
        )
        text = (
            f"Здравствуйте.\nЗаказ {o['id']} — адрес {o['address']}: {problem}.\n"
            f"Телефон клиента {o['phone']} не отвечает. Уточните, пожалуйста, правильный адрес.\n\n"
            f"Курьер {r.choice(['Алексей', 'Руслан', 'Тимур', 'Сергей'])}, диспетчерская"
        )
        m = courier_msg(o, f"Неверный адрес, заказ {o['id']}", text, t)
        if i < 3 and t + timedelta(hours=1) < SNAP:
            mgr = manager_for(t, r)
            tc = reply_delay(r, t)
            call_customer(shop, o, tc, mgr, True, talk_seconds(r, 40, 200), why=f"адрес {o['id']}")
            fixed = o["address"].replace("кв.", f"подъезд {r.randint(1, 8)}, кв.")
            team_mail(
                mb,
                r,
                box="delivery",
                to=(None, COURIER_SERVICE[1] if o["city"] != "Санкт-Петербург" else COURIER_SPB[1]),
                subject=re(f"Неверный адрес, заказ {o['id']}"),
                text=f"Добрый день! Правильный адрес по заказу №{o['id']}: {fixed}. Домофон {r.randint(10, 320)}К{r.randint(1000, 9999)}.\n\n{MAILBOX_NAME['delivery']}",
                t=tc + timedelta(minutes=6),
                in_reply_to=m,
                cc=[(HEAD_OF_SALES[0], HEAD_OF_SALES[1])],
            )
            shop.comment(
                o,
                tc + timedelta(minutes=6),
                mgr,
                f"Ошибка в адресе (письмо курьера), уточнили у клиента: {fixed}. Сообщено РОП.",
            )
            o["address"] = fixed
    # 3) "was this paid?"
    for o in courier[14:21]:
        dd = min(date.fromisoformat(o["delivery_date"]), ANCHOR)
        t = at(dd, r.randint(9, 12), r.randrange(60))
        text = (
            f"Добрый день! Подскажите, пожалуйста, заказ №{o['id']} оплачен или курьер принимает оплату? "
            f"В накладной сумма {rub2(o['total'])} руб.\n\nДиспетчер"
        )
        m = courier_msg(o, f"Оплачен ли заказ {o['id']}?", text, t)
        if t + timedelta(minutes=40) < SNAP:
            tc = reply_delay(r, t, late=r.random() < 0.2)
            paid = o["extra"]["to_pay"] == 0
            ans = (
                "Заказ оплачен, сумма к получению 0,00 руб."
                if paid
                else f"Заказ не оплачен, курьер принимает {rub2(o['total'])} руб. (товары + доставка)."
            )
            team_mail(
                mb,
                r,
                box="delivery",
                to=(None, COURIER_SERVICE[1] if o["city"] != "Санкт-Петербург" else COURIER_SPB[1]),
                subject=re(f"Оплачен ли заказ {o['id']}?"),
                text=f"Добрый день! {ans}\n\n{MAILBOX_NAME['delivery']}",
                t=tc,
                in_reply_to=m,
            )
    # cashless: "was this paid?" on invoice orders
    # 4) storage at the pick-up point is expiring (HTML-only notifications)
    n_storage = 0
    for o in pvz:
        if n_storage >= 8:
            break
        arrived = date.fromisoformat(o["extra"]["at_pickup_point_since"])
        p = PVZ_INDEX[o["extra"]["pickup_point"]]
        until = arrived + timedelta(days=p["storage_days"])
        t = at(until - timedelta(days=r.choice([1, 2])), r.randint(8, 10), r.randrange(60))
        if t > END:
            continue
        i = n_storage
        n_storage += 1
        html = (
            f'<html><body style="font-family:Arial"><table width="600"><tr><td style="background:#ffcc00;padding:12px">'
            f'<b>{PVZ_NETWORK}</b> — сеть пунктов выдачи</td></tr><tr><td style="padding:12px">'
            f"<p>Уважаемый партнёр!</p><p>Отправление по заказу <b>№{o['id']}</b> (получатель: "
            f"{o['_cust']['_p']['surname']} {o['_cust']['_p']['first'][0]}.) ожидает в пункте выдачи "
            f"{p['code']}, {p['address']}.</p><p>Срок хранения истекает <b>{until.strftime('%d.%m.%Y')}</b>. "
            f"После этого отправление будет возвращено отправителю.</p><p>Продление хранения возможно не более "
            f'чем на 3 дня по запросу через личный кабинет.</p><p style="color:#888">Письмо сформировано '
            f"автоматически, отвечать на него не нужно.</p></td></tr></table></body></html>"
        )
        msg = mb.build_mail(
            frm=(PVZ_NETWORK, "noreply@punktok.example"),
            to=[(None, MAILBOX_ADDR["delivery"])],
            subject=f"Истекает срок хранения: заказ {o['id']}",
            t=t,
            html=html,
            charset="utf-8",
            cte="base64",
        )
        mb.add("delivery", "INBOX", t, msg)
        o["extra"]["storage_until"] = until.isoformat()
        if t + timedelta(hours=1) > SNAP:
            continue
        mgr = manager_for(t, r)
        tc = reply_delay(r, t)
        cust = o["_cust"]
        reached = i % 2 == 0
        call_customer(
            shop,
            o,
            tc,
            mgr,
            reached,
            talk_seconds(r, 30, 150) if reached else 0,
            why=f"срок хранения {o['id']}",
        )
        if reached:
            ext = until + timedelta(days=r.choice([1, 2, 3]))
            shop.comment(
                o,
                tc + timedelta(minutes=2),
                mgr,
                f"Срок хранения до {until.strftime('%d.%m')}, клиент заберёт, продлили до {ext.strftime('%d.%m')}.",
            )
            o["extra"]["storage_until"] = ext.isoformat()
        else:
            shop.flag(o, F_CALLING)
            shop.comment(
                o,
                tc + timedelta(minutes=2),
                mgr,
                f"Срок хранения истекает {until.strftime('%d.%m')}, клиент не отвечает. Обзвон, отправлен шаблон.",
            )
            team_mail(
                mb,
                r,
                box=box_for(o, "question"),
                to=(None, cust["emails"][0]),
                subject=f"Заказ №{o['id']} ждёт вас в пункте выдачи",
                text=(
                    f"{greet(cust)}\n\nВаш заказ №{o['id']} ожидает в пункте выдачи {p['address']} ({p['hours']}). "
                    f"Срок хранения истекает {until.strftime('%d.%m.%Y')}. Если не успеваете забрать, ответьте на "
                    f"это письмо — мы можем продлить хранение не более чем на 3 дня.\n\n{sig(o)}"
                ),
                t=tc + timedelta(minutes=4),
            )
    # 5) courier registers with an XLSX attachment
    for d in (ANCHOR - timedelta(days=1), ANCHOR):
        todays = [
            o
            for o in shop.orders
            if o["delivery_method"] == "Курьер Москва" and o["delivery_date"] == d.isoformat()
        ]
        rows = [["№ заказа", "Адрес", "Интервал", "Сумма к оплате"]] + [
            [
                o["id"],
                o["address"],
                o["extra"].get("delivery_window", ""),
                f"{o['extra']['to_pay']:.2f}",
            ]
            for o in todays[:30]
        ]
        t = at(d, 7, r.randint(30, 55))
        msg = mb.build_mail(
            frm=COURIER_SERVICE,
            to=[(None, MAILBOX_ADDR["delivery"])],
            subject=f"Реестр доставок на {d.strftime('%d.%m.%Y')}",
            t=t,
            text=f"Добрый день! Во вложении реестр доставок на {d.strftime('%d.%m.%Y')}: {len(todays)} заказов.",
            charset="windows-1251",
            cte="base64",
            mailer="1C:Enterprise 8.3",
            style="outlook",
            attachments=[
                attachment(fake_xlsx(rows), f"Реестр_{d.strftime('%d_%m_%Y')}.xlsx", "xlsx")
            ],
        )
        mb.add("delivery", "INBOX", t, msg)
    # 6) ПЭК notifications (KOI8-R, old mail system)
    pek = [
        o
        for o in shop.orders
        if o["delivery_method"] == "ПЭК" and o["status"] in (ST_SHIPPED, ST_ASSEMBLED)
    ]
    for o in pek[:3]:
        t = datetime.fromisoformat(o["updated_at"]) + timedelta(hours=r.randint(1, 10))
        if t > END:
            continue
        text = (
            f"Уважаемый клиент!\nГруз по заявке {o['id']} принят к перевозке. Получатель: {o['extra']['pek']['recipient']}. "
            f"Доставка: {o['extra']['pek']['delivery']}. Плановая дата прибытия: {o['delivery_date']}.\n"
            f"Оплата перевозки: безналичный расчёт.\n\nПЭК"
        )
        msg = mb.build_mail(
            frm=PEK_MAIL,
            to=[(None, MAILBOX_ADDR["delivery"])],
            subject=f"Груз принят: заявка {o['id']}",
            t=t,
            text=text,
            charset="koi8-r",
            cte="8bit",
        )
        mb.add("delivery", "INBOX", t, msg)


def support_scenarios(shop: Shop, mb: MailBox):
    r = rng_for("support-mail")
    window = [o for o in shop.orders if o["_created"] >= at(DAY0, 0) and o["status"] != ST_DUP]
    # --- certificate requests ------------------------------------------------
    certs = [o for o in window if o["_cust"]["company"]][:4] + r.sample(
        [o for o in window if not o["_cust"]["company"]], 2
    )
    for i, o in enumerate(certs):
        cust = o["_cust"]
        it = r.choice(o["items"])
        t = max(o["_created"] + timedelta(hours=r.randint(2, 48)), at(DAY0, 10))
        t = next_work(t, r)
        if t > at(ANCHOR, 18):
            t = at(ANCHOR, r.randint(10, 17), r.randrange(60))
        who = cust["company"] or f"{cust['_p']['first']} {cust['_p']['surname']}"
        text = (
            f"Добрый день!\n\nМы {who}. Приобрели у вас «{it['name']}» (заказ №{o['id']}). "
            f"Для {'бухгалтерии и проверки Роспотребнадзора' if cust['company'] else 'детского сада'} нужен "
            f"сертификат соответствия (или декларация). Пришлите, пожалуйста, на эту почту.\n\n"
            f"С уважением, {cust['_p']['surname']} {cust['_p']['first']} {cust['_p']['patronymic']}"
        )
        box = box_for(o, "cert")
        m1 = customer_mail(
            mb,
            r,
            cust=cust,
            to_box=box,
            subject="Сертификат на товар" if i % 2 else f"Запрос сертификата, заказ {o['id']}",
            text=text,
            t=t,
        )
        if i == 5:
            continue  # not answered yet
        tr = reply_delay(r, t, late=i == 3)
        team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=re(m1._intended["subject"]),
            text=f"{greet(cust)}\n\nСертификат запросили у поставщика, пришлём его, как только получим.\n\n{sig(o)}"
            + quote(text, cust["emails"][0], t),
            t=tr,
            in_reply_to=m1,
        )
        sup = CAT_BY_SKU[it["sku"]][5]
        ms = team_mail(
            mb,
            r,
            box=box,
            to=(sup, SUPPLIER_MAIL[sup]),
            subject=f"Заказ №{o['id']} — запрос сертификата",
            text=(
                f"Добрый день!\n\nПросим прислать сертификат соответствия / декларацию ЕАЭС на товар:\n"
                f"{it['name']}, артикул {it['sku']}.\n\nЗаказ №{o['id']}.\n\n{sig(o)}"
            ),
            t=tr + timedelta(minutes=4),
        )
        shop.comment(
            o,
            tr + timedelta(minutes=5),
            manager_for(tr, r),
            f"Запрошен сертификат у поставщика «{sup}» ({it['sku']}).",
        )
        if i < 2 and tr + timedelta(hours=5) < SNAP:
            ts = tr + timedelta(hours=r.randint(3, 20))
            ts = next_work(ts, r)
            if ts < END:
                msg = mb.build_mail(
                    frm=(f"{sup}, отдел продаж", SUPPLIER_MAIL[sup]),
                    to=[(None, MAILBOX_ADDR[box])],
                    subject=re(f"Заказ №{o['id']} — запрос сертификата"),
                    t=ts,
                    text=f"Добрый день, высылаем декларацию на {it['sku']}.\n\n--\nМенеджер {sup}",
                    charset="windows-1251",
                    cte="qp",
                    in_reply_to=ms,
                    style="outlook",
                    mailer="Microsoft Outlook 16.0",
                    attachments=[
                        attachment(
                            fake_pdf("Deklaraciya EAES", r),
                            f"Декларация ЕАЭС N RU Д-CN.РА01.В.{r.randint(10000, 99999)}_25.pdf",
                            "pdf",
                        )
                    ],
                )
                mb.add(box, "INBOX", ts, msg)
    # --- cancel requests ---------------------------------------------------------
    cancel_pool = [
        o
        for o in window
        if o["status"] in (ST_NEW, ST_BEFORE, ST_FOR, ST_NOANS, ST_ASSEMBLED)
        and not o["_cust"]["company"]
        and "_dup_of" not in o
    ]
    r.shuffle(cancel_pool)
    for i, o in enumerate(cancel_pool[:9]):
        cust = o["_cust"]
        t = max(o["_created"] + timedelta(minutes=r.randint(30, 1500)), o["_created"])
        if t > END:
            t = o["_created"] + timedelta(minutes=20)
        if t > END:
            continue
        text = r.choice(
            [
                f"Здравствуйте, прошу отменить заказ №{o['id']}. Спасибо.",
                f"Добрый день! Отмените, пожалуйста, заказ {o['id']}, купили в другом месте.",
                "Здравствуйте. Передумали, отмените заказ пожалуйста",
                f"Отмена заказа {o['id']}. Долго ждать доставку, нужно было к выходным.",
            ]
        )
        box = box_for(o, "cancel")
        m1 = customer_mail(
            mb,
            r,
            cust=cust,
            to_box=box,
            subject=r.choice(["Отмена заказа", f"Отменить заказ {o['id']}", "отмена"]),
            text=text,
            t=t,
        )
        tr = reply_delay(r, t, late=i == 4)
        if tr > SNAP or i == 8:
            continue  # not handled yet
        mgr = manager_for(tr, r)
        kept = i % 4 == 1
        reached = i % 4 != 3
        call_customer(
            shop,
            o,
            tr,
            mgr,
            reached,
            talk_seconds(r, 60, 260) if reached else 0,
            why=f"отмена по письму {o['id']}",
        )
        if kept:
            shop.comment(
                o,
                tr + timedelta(minutes=4),
                mgr,
                "Клиент просил отмену (письмо). Позвонили, предложили доставку на день раньше — заказ оставляем.",
            )
            shop.flag(o, F_KEEP)
            reply = f"{greet(cust)}\n\nСпасибо, что остаётесь с нами! Как договорились по телефону, заказ №{o['id']} оставляем, доставка {o['delivery_date']}.\n\n{sig(o)}"
        else:
            if o["status"] != ST_CANCEL:
                shop.set_status(o, tr + timedelta(minutes=3), ST_CANCEL, mgr)
            shop.unflag(o, F_TAKEN)
            shop.comment(
                o,
                tr + timedelta(minutes=3),
                mgr,
                "Отмена по письму клиента: "
                + (
                    "купили в другом месте."
                    if reached
                    else "не дозвонились, отменили и написали клиенту."
                ),
            )
            reply = f"{greet(cust)}\n\nЗаказ №{o['id']} отменён{'' if reached else ' по вашему письму (дозвониться не удалось)'}. Если оплата уже прошла, деньги вернутся на карту в течение 1–3 рабочих дней.\n\n{sig(o)}"
        team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=re(m1._intended["subject"]),
            text=reply + quote(text, cust["emails"][0], t),
            t=tr + timedelta(minutes=6),
            in_reply_to=m1,
        )
    # --- reschedule requests -------------------------------------------------------
    res_pool = [
        o
        for o in window
        if o["delivery_method"].startswith("Курьер")
        and o["status"] in (ST_FOR, ST_ASSEMBLED, ST_SHIPPED)
    ]
    r.shuffle(res_pool)
    for i, o in enumerate(res_pool[:8]):
        cust = o["_cust"]
        dd = date.fromisoformat(o["delivery_date"])
        t = datetime.fromisoformat(o["status_history"][-1]["at"]) + timedelta(
            minutes=r.randint(20, 400)
        )
        if t > END:
            t = END - timedelta(minutes=r.randint(30, 200))
        new_d = dd + timedelta(days=r.choice([1, 2, 3]))
        wins = delivery_windows(CITIES[o["city"]][3], new_d)
        new_w = r.choice(wins)
        change_addr = i % 3 == 2
        if change_addr:
            new_addr = r.choice(
                [
                    "г. Москва, ул. Новаторов, д. 4, кв. 17 (у бабушки)",
                    "г. Москва, Кутузовский пр-т, д. 30, офис 412",
                    "г. Санкт-Петербург, ул. Бассейная, д. 21, кв. 90",
                ]
            )
            text = f"Здравствуйте! Можно доставить заказ №{o['id']} по другому адресу: {new_addr}? И если можно {new_d.strftime('%d.%m')} {new_w}."
        else:
            text = r.choice(
                [
                    f"Добрый день! Не смогу принять заказ {o['id']} {dd.strftime('%d.%m')}. Можно перенести на {new_d.strftime('%d.%m')}, {new_w}?",
                    f"Здравствуйте, перенесите пожалуйста доставку на {new_d.strftime('%d.%m')}, с {new_w.split('-')[0]}. Заказ {o['id']}",
                ]
            )
        box = box_for(o, "resched")
        m1 = customer_mail(
            mb,
            r,
            cust=cust,
            to_box=box,
            subject=r.choice(
                [
                    "Перенос доставки",
                    f"Заказ {o['id']} — другая дата",
                    "Изменить адрес доставки" if change_addr else "перенос",
                ]
            ),
            text=text,
            t=t,
        )
        tr = reply_delay(r, t, late=i == 5)
        if tr > SNAP or i == 7:
            continue
        mgr = manager_for(tr, r)
        svc = COURIER_SPB if o["city"] == "Санкт-Петербург" else COURIER_SERVICE
        team_mail(
            mb,
            r,
            box="delivery",
            to=svc,
            subject=f"Изменение доставки: заказ {o['id']}",
            text=(
                f"Заказ: {o['id']}\nНовая дата: {new_d.strftime('%d.%m.%Y')}\nИнтервал: {new_w}\n"
                f"Адрес: {new_addr if change_addr else o['address']}\nТелефон: {o['phone']}\n\n{MAILBOX_NAME['delivery']}"
            ),
            t=tr + timedelta(minutes=2),
        )
        team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=re(m1._intended["subject"]),
            text=f"{greet(cust)}\n\nДоставка заказа №{o['id']} перенесена на {new_d.strftime('%d.%m.%Y')}, {new_w}"
            + (f", адрес: {new_addr}" if change_addr else "")
            + f".\n\n{sig(o)}"
            + quote(text, cust["emails"][0], t),
            t=tr + timedelta(minutes=5),
            in_reply_to=m1,
        )
        shop.comment(
            o,
            tr + timedelta(minutes=3),
            mgr,
            f"Перенос по письму клиента на {new_d.strftime('%d.%m')} {new_w}"
            + (f", новый адрес: {new_addr}" if change_addr else "")
            + ". Курьеру отправлено.",
        )
        o["delivery_date"] = new_d.isoformat()
        o["extra"]["delivery_window"] = new_w
        if change_addr:
            o["address"] = new_addr
    # --- cashless orders: invoice / awaiting payment / "did the money arrive?" ---------
    cashless = [
        o
        for o in shop.orders
        if o["payment_method"] == "Безналичный расчёт (счёт)" and o["status"] == ST_ASSEMBLED
    ]
    inv = 1840
    for i, o in enumerate(cashless):
        cust = o["_cust"]
        t_as = datetime.fromisoformat(o["status_history"][-1]["at"])
        tc = next_work(t_as + timedelta(minutes=r.randint(10, 90)), r)
        if tc > SNAP:
            shop.flag(o, F_INVOICE)
            continue
        mgr = o["manager"] or manager_for(tc, r)
        inv += r.randint(1, 6)
        o["extra"]["invoice"] = f"Счёт № {inv} от {tc.strftime('%d.%m.%Y')}"
        reached = i % 3 != 2
        call_customer(
            shop,
            o,
            tc,
            mgr,
            reached,
            talk_seconds(r, 40, 150) if reached else 0,
            why=f"счёт {o['id']}",
        )
        box = box_for(o, "question")
        text = (
            f"{greet(cust)}\n\nВаш заказ №{o['id']} собран и ожидает оплаты. Счёт во вложении "
            f"(сумма {rub2(o['total'])} руб., в т. ч. доставка {rub2(o['delivery_cost'])} руб.).\n"
            f"После поступления оплаты (обычно 1–3 рабочих дня) заказ будет передан в доставку. "
            f"Пожалуйста, пришлите платёжное поручение ответным письмом.\n\n{sig(o)}"
        )
        m = team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=f"Счёт на оплату по заказу №{o['id']}",
            text=text,
            t=tc + timedelta(minutes=4),
            attachments=[attachment(fake_pdf(f"Schet {inv}", r), f"Счёт_{inv}.pdf", "pdf")],
        )
        shop.comment(
            o,
            tc + timedelta(minutes=4),
            mgr,
            f"{'Дозвонились' if reached else 'Не дозвонились'}, счёт № {inv} отправлен на почту.",
        )
        paid = i % 2 == 0 and tc.date() < ANCHOR - timedelta(days=1)
        if not paid:
            shop.flag(o, F_INVOICE)
            if i % 4 == 1:
                tq = next_work(tc + timedelta(hours=r.randint(18, 30)), r)
                if tq < END:
                    customer_mail(
                        mb,
                        r,
                        cust=cust,
                        to_box=box,
                        subject=re(f"Счёт на оплату по заказу №{o['id']}"),
                        text=f"Добрый день! Оплатили {tq.strftime('%d.%m')}, платёжка во вложении. Когда отгрузите?",
                        t=tq,
                        in_reply_to=m,
                        attachments=[
                            attachment(
                                fake_pdf("platezhnoe poruchenie", r),
                                f"п-п {r.randint(100, 999)}.pdf",
                                "pdf",
                            )
                        ],
                    )
                    o["extra"]["payment_order_received"] = tq.date().isoformat()
            continue
        tp = next_work(tc + timedelta(days=r.randint(1, 2), hours=r.randint(0, 5)), r)
        o["payment_status"] = "Оплачен"
        o["extra"]["to_pay"] = 0.0
        shop.comment(o, tp, "Бухгалтерия", f"Оплата по счёту № {inv} поступила.")
        shop.set_status(o, tp + timedelta(hours=2), ST_SHIPPED, "Склад")
    # --- "no answer" mails for Недозвон orders (some threads get a reply) --------------
    noans = [o for o in shop.orders if o.get("_noanswer_mails")]
    r.shuffle(noans)
    for i, o in enumerate(noans[:8]):
        cust = o["_cust"]
        t = o["_noanswer_mails"][0] + timedelta(minutes=1)
        box = box_for(o, "question")
        items = ", ".join(it["name"] for it in o["items"][:4])
        m = team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=f"Не смогли дозвониться по заказу №{o['id']}",
            text=(
                f"{greet(cust)}\n\nМы не смогли дозвониться до вас по номеру {o['phone']}, чтобы подтвердить "
                f"заказ №{o['id']} ({items}) на сумму {rub(o['total'])}.\nПожалуйста, перезвоните нам или "
                f"ответьте на это письмо, указав удобное время для звонка.\n\n{sig(o)}"
            ),
            t=t,
        )
        if i % 3 == 0:
            tr = t + timedelta(minutes=r.randint(20, 600))
            if tr < END:
                customer_mail(
                    mb,
                    r,
                    cust=cust,
                    to_box=box,
                    subject=re(f"Не смогли дозвониться по заказу №{o['id']}"),
                    text=r.choice(
                        [
                            "Перезвоните после 18:00, пожалуйста.",
                            "Заказ подтверждаю, звоните на этот же номер вечером.",
                            gf("{Была|Был} на работе. Можно звонить на второй номер ", cust)
                            + fmt_phone(shop.people.phone(["916"]), 0),
                        ]
                    ),
                    t=tr,
                    in_reply_to=m,
                )
    # --- general questions, web form notifications -----------------------------------
    qs = r.sample(window, 20)
    for i, o in enumerate(qs):
        cust = o["_cust"]
        t = o["_created"] + timedelta(hours=r.randint(3, 70), minutes=r.randrange(60))
        if t > END:
            t = o["_created"] + timedelta(minutes=r.randint(30, 90))
            if t > END:
                continue
        kind = i % 6
        if kind == 0:
            subj, text = (
                "Где мой заказ?",
                f"Добрый день! Заказ {o['id']} когда привезут? Статус не меняется.",
            )
        elif kind == 1:
            subj, text = (
                "Вопрос по заказу",
                f"Здравствуйте, можно добавить в заказ №{o['id']} ещё набор пластилина?",
            )
        elif kind == 2:
            subj, text = (
                "Оплата",
                gf(
                    f"{{Оплатила|Оплатил}} заказ {o['id']} картой, а в письме написано не оплачен. Проверьте пожалуйста, прошла ли оплата?",
                    cust,
                ),
            )
        elif kind == 3:
            subj, text = (
                "подарочная упаковка",
                "Здравствуйте! Можно упаковать подарок? Заказ оформила сегодня.",
            )
        elif kind == 4:
            subj, text = (
                "Чек",
                f"Пришлите, пожалуйста, кассовый чек по заказу {o['id']}, не пришёл на почту.",
            )
        else:
            subj, text = (
                "Доставка в пятницу?",
                gf(
                    "Добрый день, успеете доставить до пятницы? Номер заказа не помню, {оформляла|оформлял} на этот e-mail.",
                    cust,
                ),
            )
        box = box_for(o, "question")
        if i % 5 == 4 and box == "support":
            # website contact form: HTML-only notification from the shop engine
            html = (
                f'<html><body><h3>Сообщение с сайта igromir.example</h3><table border="1" cellpadding="4">'
                f"<tr><td>Имя</td><td>{cust['_p']['first']}</td></tr><tr><td>Телефон</td><td>{o['phone']}</td></tr>"
                f"<tr><td>E-mail</td><td>{cust['emails'][0]}</td></tr><tr><td>Тема</td><td>{subj}</td></tr>"
                f"<tr><td>Сообщение</td><td>{text}</td></tr></table></body></html>"
            )
            msg = mb.build_mail(
                frm=("Игромир — сайт", "noreply@igromir.example"),
                to=[(None, MAILBOX_ADDR["support"])],
                subject=f"Обратная связь: {subj}",
                t=t,
                html=html,
                charset="utf-8",
                cte="qp",
            )
            msg["Reply-To"] = cust["emails"][0]
            mb.add("support", "INBOX", t, msg)
            m1 = msg
        else:
            m1 = customer_mail(mb, r, cust=cust, to_box=box, subject=subj, text=text, t=t)
        if i % 4 == 3 or t > at(ANCHOR, 19, 30):
            continue  # unanswered (some of them are SLA violations)
        tr = reply_delay(r, t, late=i % 7 == 2)
        if tr > SNAP:
            continue
        paid = o["extra"]["to_pay"] == 0
        answer = {
            0: f"Заказ №{o['id']} в статусе «{o['status']}», плановая дата доставки {o['delivery_date']}.",
            1: "Добавили набор пластилина (290 ₽), итоговую сумму менеджер подтвердит по телефону.",
            2: (
                "Оплата поступила, заказ оплачен (к оплате 0,00 ₽)."
                if paid
                else f"По нашим данным оплата не поступила: к оплате {rub2(o['total'])} руб. Пришлите, пожалуйста, чек или платёжное поручение — платежи идут 1–3 рабочих дня."
            ),
            3: "Да, упакуем в подарочную бумагу бесплатно, отметили в заказе.",
            4: "Чек отправлен повторно, проверьте папку «Спам».",
            5: f"Нашли ваш заказ №{o['id']} по e-mail, доставка {o['delivery_date']}.",
        }[kind]
        team_mail(
            mb,
            r,
            box=box,
            to=(None, cust["emails"][0]),
            subject=re(subj),
            text=f"{greet(cust)}\n\n{answer}\n\n{sig(o)}" + quote(text, cust["emails"][0], t),
            t=tr,
            in_reply_to=m1,
        )
    # --- vendor / spam mail ---------------------------------------------------------
    spam = [
        (
            "support",
            "ООО «ТопПромо»",
            "sales@toppromo.example",
            "Продвижение интернет-магазина в ТОП-10 Яндекса",
            "<html><body><h1>Выведем ваш магазин в ТОП-10!</h1><p>Гарантия результата. Первый месяц — бесплатно.</p></body></html>",
        ),
        (
            "konstruktor-pro",
            "Фабрика игрушек «Весна-Пример»",
            "opt@vesna-toys.example",
            "Коммерческое предложение: поставки игрушек оптом",
            "<html><body><p>Уважаемые коллеги!</p><p>Предлагаем сотрудничество: конструкторы и мягкие игрушки от производителя, отсрочка платежа 30 дней.</p><p>Прайс-лист по запросу.</p></body></html>",
        ),
        (
            "support",
            "Маркетплейс-Эксперт",
            "info@mp-expert.example",
            "Выход на маркетплейсы под ключ",
            "<html><body><p>Добрый день! Поможем вывести ваши игрушки на маркетплейсы за 14 дней.</p></body></html>",
        ),
        (
            "kukly-ko",
            "Бухгалтерия онлайн",
            "promo@buh-online.example",
            "Сдайте отчётность без ошибок",
            "<html><body><p>Скидка 50% на первый квартал обслуживания.</p></body></html>",
        ),
    ]
    for i, (box, name, address, subj, html) in enumerate(spam):
        t = at(DAYS[1 + i * 2], r.randint(6, 12), r.randrange(60))
        msg = mb.build_mail(
            frm=(name, address),
            to=[(None, MAILBOX_ADDR[box])],
            subject=subj,
            t=t,
            html=html,
            charset="windows-1251" if i % 2 else "utf-8",
            cte="base64",
        )
        mb.add(box, "INBOX", t, msg)


def bounces(shop: Shop, mb: MailBox):
    r = rng_for("bounces")
    window = [o for o in shop.orders if o["_created"] >= at(DAY0, 0) and o["status"] == ST_NOANS]
    o1, o2, o3 = window[:3]
    # 1) RFC 3464 DSN: a reply sent to a mistyped gmail address
    cust = o1["_cust"]
    bad = translit(cust["_p"]["first"]) + "." + translit(cust["_p"]["surname"]) + "@gmail.con"
    o1["email"] = bad
    cust["notes"] = f"В заказе №{o1['id']} e-mail с опечаткой ({bad}), верный: {cust['emails'][0]}"
    t = at(ANCHOR - timedelta(days=1), 11, 14, 5)
    box = box_for(o1, "question")
    orig = team_mail(
        mb,
        r,
        box=box,
        to=(None, bad),
        subject=f"Не смогли дозвониться по заказу №{o1['id']}",
        text=f"{greet(cust)}\n\nМы не смогли дозвониться до вас, чтобы подтвердить заказ №{o1['id']}. "
        f"Перезвоните, пожалуйста.\n\n{sig(o1)}",
        t=t,
    )
    tb = t + timedelta(seconds=7)
    dom = MAILBOX_ADDR[box].split("@")[1]
    human = MIMEText(
        f"Это автоматическое сообщение сервера mx.{dom}.\n\nВаше сообщение не доставлено "
        f"следующему получателю:\n\n  {bad}\n\nПричина: домен gmail.con не существует (5.1.1).\n"
        f"This is the mail system at host mx.{dom}. Your message could not be delivered.\n",
        "plain",
        "utf-8",
    )
    ds = delivery_status(
        [
            ("Reporting-MTA", f"dns; mx.{dom}"),
            ("X-Postfix-Queue-ID", "4dR7Kq0Y1Zz3xS"),
            ("Arrival-Date", format_datetime(t)),
        ],
        [
            ("Final-Recipient", f"rfc822; {bad}"),
            ("Original-Recipient", f"rfc822;{bad}"),
            ("Action", "failed"),
            ("Status", "5.1.1"),
            ("Remote-MTA", "dns; gmail.con"),
            (
                "Diagnostic-Code",
                f"smtp; 550 5.1.1 <{bad}>: Recipient address rejected: domain gmail.con does not exist",
            ),
        ],
    )
    mb.add_bounce(box, tb, f"mx.{dom}", human, ds, orig, bad, MAILBOX_ADDR[box])
    # 2) qmail-style free-text bounce (typo in the domain)
    cust = o2["_cust"]
    local = cust["emails"][0].split("@")[0]
    bad2 = f"{local}@exmaple.ru"
    o2["email"] = bad2
    t2 = at(ANCHOR, 10, 3, 40)
    box2 = box_for(o2, "question")
    orig2 = team_mail(
        mb,
        r,
        box=box2,
        to=(None, bad2),
        subject=f"Не смогли дозвониться по заказу №{o2['id']}",
        text=f"{greet(cust)}\n\nНе смогли дозвониться до вас по заказу №{o2['id']}.\n\n{sig(o2)}",
        t=t2,
    )
    tb2 = t2 + timedelta(seconds=31)
    raw_orig = orig2.as_bytes().decode("ascii", "replace")
    text2 = (
        f"Hi. This is the qmail-send program at relay3.hosting-primer.example.\n"
        f"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        f"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{bad2}>:\nSorry, I couldn't find any host named exmaple.ru. (#5.1.2)\n\n"
        f"--- Below this line is a copy of the message.\n\n{raw_orig}"
    )
    m = mb.build_mail(
        frm=(None, "MAILER-DAEMON@relay3.hosting-primer.example"),
        to=[(None, MAILBOX_ADDR[box2])],
        subject="failure notice",
        t=tb2,
        text=text2,
        charset="us-ascii",
        cte="8bit",
    )
    mb.add(box2, "INBOX", tb2, m)
    # 3) Russian free-text bounce from a hosting provider (KOI8-R)
    cust = o3["_cust"]
    bad3 = cust["emails"][0].split("@")[0] + "@example.ry"
    o3["email"] = bad3
    t3 = at(ANCHOR - timedelta(days=2), 16, 40, 12)
    box3 = box_for(o3, "question")
    orig3 = team_mail(
        mb,
        r,
        box=box3,
        to=(None, bad3),
        subject=f"Не смогли дозвониться по заказу №{o3['id']}",
        text=f"{greet(cust)}\n\nНе смогли дозвониться до вас по заказу №{o3['id']}.\n\n{sig(o3)}",
        t=t3,
    )
    tb3 = t3 + timedelta(minutes=1, seconds=12)
    text3 = (
        f"Здравствуйте!\n\nВаше письмо не может быть доставлено одному или нескольким получателям.\n\n"
        f"Получатель: {bad3}\nПричина: адрес не существует (домен example.ry не найден).\n\n"
        f"Тема исходного письма: {orig3_subject(o3)}\nДата: {format_datetime(t3)}\n\n"
        f"Это автоматическое сообщение, отвечать на него не нужно.\nПочтовая служба хостинга"
    )
    m3 = mb.build_mail(
        frm=("Почтовая служба", "postmaster@mail.hosting-primer.example"),
        to=[(None, MAILBOX_ADDR[box3])],
        subject="Письмо не доставлено",
        t=tb3,
        text=text3,
        charset="koi8-r",
        cte="8bit",
        attachments=[MIMEMessage(orig3)],
    )
    mb.add(box3, "INBOX", tb3, m3)


def orig3_subject(o: dict) -> str:
    return f"Не смогли дозвониться по заказу №{o['id']}"


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

SIPUNI_FULL = (
    "Тип;Статус;Время;Схема;Исходящая линия;Откуда;Куда;Кто ответил;Длительность звонка;"
    "Длительность разговора;Время ответа;Оценка;ID записи;Метка;Теги;ID заказа звонка;"
    "Запись существует;Новый клиент;Состояние перезвона;Время перезвона;Стоимость"
).split(";")
SIPUNI_OLD = (
    "Тип;Статус;Время;Схема;Откуда;Куда;Кто ответил;Длительность звонка;Длительность разговора;"
    "Время ответа;Новый клиент;Состояние перезвона;Время перезвона;ID записи;Стоимость"
).split(";")


def party(x: str) -> str:
    if x in MANAGERS:
        return ext_label(x)
    if x == "ROP":
        return f"{HEAD_OF_SALES[2]} ({HEAD_OF_SALES[0]})"
    return x


def hms(s: int) -> str:
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_calls(shop: Shop):
    r = rng_for("sipuni")
    calls = sorted(shop.calls, key=lambda e: (e["start"], e["from"], e["to"]))
    calls = [e for e in calls if at(DAY0, 0) <= e["start"] <= END]
    seen_numbers: set[str] = set()
    rows_old, rows_new = [], []
    for e in calls:
        kind = {"in": "Входящий", "out": "Исходящий", "int": "Внутренний"}[e["kind"]]
        if e["answered"]:
            status = "Отвечен"
        else:
            status = "Занято" if e["busy"] else "Не отвечен"
        talk = e["talk"]
        total = e["ring"] + talk
        epoch = int(e["start"].timestamp())
        rec_id = f"{epoch}.{r.randrange(10**5, 10**6)}"
        if e["kind"] == "in":
            scheme, outline = e["line"], ""
            frm, to = e["from"], e["to"]
            who = party(e["answered_by"]) if e["answered"] else ""
            new_client = "0" if e["from"] in seen_numbers else "1"
            seen_numbers.add(e["from"])
        elif e["kind"] == "out":
            scheme, outline = "", LINES[e["line"]]["number"]
            frm, to = party(e["from"]), e["to"]
            who = e["to"] if e["answered"] else ""
            new_client = "0"
            seen_numbers.add(e["to"])
        else:
            scheme, outline = "", ""
            frm, to = party(e["from"]), party(e["to"])
            who = party(e["answered_by"]) if e["answered"] else ""
            new_client = ""
        cost = cost_of(e)
        cb_time = e["callback_time"].strftime("%d.%m.%Y %H:%M:%S") if e["callback_time"] else ""
        t = e["start"].strftime("%d.%m.%Y %H:%M:%S")
        if e["start"].date() <= DAYS[1]:
            rows_old.append(
                [
                    kind,
                    status,
                    t,
                    scheme,
                    frm,
                    to,
                    who,
                    hms(total),
                    hms(talk),
                    hms(e["ring"]) if e["answered"] else "",
                    new_client,
                    e["callback_state"],
                    cb_time,
                    rec_id,
                    f"{cost:.2f}".replace(".", ","),
                ]
            )
        else:
            rows_new.append(
                [
                    kind,
                    status,
                    t,
                    scheme,
                    outline,
                    frm,
                    to,
                    who,
                    str(total),
                    str(talk),
                    str(e["ring"]) if e["answered"] else "",
                    "",
                    rec_id,
                    "",
                    "",
                    "",
                    "1" if e["answered"] else "0",
                    new_client,
                    e["callback_state"],
                    cb_time,
                    f"{cost:.2f}",
                ]
            )
    calls_dir = OUT / "calls"
    calls_dir.mkdir(parents=True, exist_ok=True)
    # the older export was opened in Excel and saved again: CP1251, CRLF, newest first
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(SIPUNI_OLD)
    for row in reversed(rows_old):
        w.writerow(row)
    (calls_dir / f"sipuni-{DAYS[0].isoformat()}--{DAYS[1].isoformat()}.csv").write_bytes(
        buf.getvalue().encode("cp1251")
    )
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(SIPUNI_FULL)
    for row in rows_new:
        w.writerow(row)
    (calls_dir / f"sipuni-{DAYS[2].isoformat()}--{ANCHOR.isoformat()}.csv").write_bytes(
        b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")
    )
    return len(rows_old), len(rows_new)


def finalize_orders(shop: Shop):
    for o in shop.orders:
        o["status_history"].sort(key=lambda h: h["at"])
        o["comments"].sort(key=lambda c: c["at"])
        last = max(
            [o["updated_at"]]
            + [h["at"] for h in o["status_history"]]
            + [c["at"] for c in o["comments"]]
        )
        o["updated_at"] = last
        o["status"] = o["status_history"][-1]["status"]
        if o["status"] == ST_NEW:
            o["manager"] = None
    for c in shop.customers:
        mine = [o for o in shop.orders if o["customer_id"] == c["id"]]
        if mine:
            c["updated_at"] = max(o["updated_at"] for o in mine)
            c["extra"]["orders"] = len(mine)
            c["extra"]["affiliates"] = sorted({o["extra"]["affiliate"] for o in mine})


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    build_pvz()
    for pts in PVZ_BY_CITY.values():
        for p in pts:
            PVZ_INDEX[p["code"]] = p
    shop = Shop()
    generate_orders(shop)
    simulate(shop)
    flag_scenarios(shop)
    mb = MailBox(rng_for("mail"))
    return_scenarios(shop, mb)
    courier_and_pvz_mails(shop, mb)
    support_scenarios(shop, mb)
    bounces(shop, mb)
    customer_calls(shop)
    deviations = billing_deviations(shop)
    finalize_orders(shop)
    shop.orders.sort(key=lambda o: o["_created"])
    write_jsonl(OUT / "customers.jsonl", map(public, sorted(shop.customers, key=lambda c: c["id"])))
    write_jsonl(OUT / "orders.jsonl", map(public, shop.orders))
    write_jsonl(
        OUT / "returns.jsonl", map(public, sorted(shop.returns, key=lambda x: x["created_at"]))
    )
    n_old, n_new = render_calls(shop)
    mail_counts = mb.write(OUT, END)
    with open(OUT / "pickup_points.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(["code", "network", "city", "address", "hours", "storage_days"])
        for city in CITIES:
            for p in PVZ_BY_CITY[city]:
                w.writerow(
                    [
                        p["code"],
                        p["network"],
                        p["city"],
                        p["address"],
                        p["hours"],
                        p["storage_days"],
                    ]
                )
    (OUT / "manifest.toml").write_text(
        'anchor = "2026-01-14"\n'
        'timezone = "Europe/Moscow"\n'
        'description = "Игромир: интернет-магазин игрушек с партнёрскими витринами — заказы Kiwi, '
        'почтовые ящики, журнал звонков sipuni, заявки на возврат (ЗНВ)"\n',
        encoding="utf-8",
    )
    print(
        f"customers {len(shop.customers)}, orders {len(shop.orders)}, returns {len(shop.returns)}, "
        f"calls {n_old}+{n_new}, mail {sum(mail_counts.values())} {mail_counts}"
    )
    for kind, e in deviations:
        print(
            f"  billing deviation {kind}: {e['start']:%d.%m %H:%M:%S} {e['line']} talk={e['talk']}s cost={e['cost_override']}"
        )


if __name__ == "__main__":
    main()
