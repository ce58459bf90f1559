"""Mail rules: declarative, ordered, over mail that has already arrived.

A profile lists rules under ``[[mail.rules]]``::

    [[mail.rules]]
    name = "booking mail → store label"
    when = { from = "noreply@stores-reserve.example", subject_regex = "【和楽 (?P<store>\\S+店)】" }
    add_labels = ["{store:labels.stores}"]
    stop = true

``when`` holds conditions that must all hold; ``all``/``any``/``not`` combine
nested tables. A string or a list (any of) is accepted wherever text is
matched; text matching is case- and width-insensitive. Actions: ``add_labels``,
``remove_labels``, ``archive``, ``trash``, ``move``, ``mark_read``, ``flag``,
``order_comment``, ``order_flags``. Labels are templates: ``{name}`` takes a
regex group or a derived fact (``customer_store``, ``mailbox``, ``folder``),
``{name:table.path}`` maps it through a profile table. The first rule with
``stop = true`` that matches ends the list for that message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from operator import attrgetter
from pathlib import Path
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.mailbox import MailMessage, brief, from_brief

from .lookup import CustomerIndex, fold, phones_in_text, store_of

ADDRESS_KEYS = ("from", "to", "cc", "reply_to", "sender")
TEXT_KEYS = ("subject", "body", "text", "list_id", "attachment_name", "mailbox", "folder")
REGEX_KEYS = ("subject_regex", "body_regex", "text_regex", "from_regex")
BOOL_KEYS = (
    "has_attachment", "is_bounce", "is_reservation_request", "is_solicitation", "is_reply",
    "from_us", "seen", "flagged",
)  # fmt: skip
CONDITIONS = sorted(
    [*ADDRESS_KEYS, *TEXT_KEYS, *REGEX_KEYS, *BOOL_KEYS, "header", "header_regex",
     "older_than", "newer_than", "language", "script", "customer_store", "label",
     "all", "any", "not"]
)  # fmt: skip
ACTIONS = (
    "add_labels", "remove_labels", "archive", "trash", "move", "mark_read", "flag",
    "order_comment", "order_flags",
)  # fmt: skip
RULE_KEYS = ("name", "when", "stop", "description", *ACTIONS)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?::([^{}]+))?\}")
SCRIPTS = {
    "kana": ((0x3040, 0x30FF),),
    "han": ((0x4E00, 0x9FFF), (0x3400, 0x4DBF)),
    "cyrillic": ((0x0400, 0x04FF),),
    "latin": ((0x41, 0x5A), (0x61, 0x7A)),
    "hangul": ((0xAC00, 0xD7AF),),
}


def parse_duration(text: str, where: str) -> timedelta:
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"{where}: {text!r} is not a duration (like 30m, 2h, 3d, 1w)")
    n, unit = float(m.group(1)), m.group(2)
    return {
        "m": timedelta(minutes=n), "min": timedelta(minutes=n), "h": timedelta(hours=n),
        "d": timedelta(days=n), "w": timedelta(weeks=n),
    }[unit]  # fmt: skip


class BodyNeeded(Exception):
    """A rule asked for the body of a message that was read with its headers only.

    Whoever read headers only (IMAP, to keep bodies off the wire) reads the body
    of just that message and decides again, from where :func:`decide` stopped
    (``resume``, set when it propagates out of :func:`decide`).
    """

    resume: Suspended | None = None


@dataclass
class Rule:
    name: str
    when: Callable[[Facts], bool]
    actions: dict[str, Any]
    stop: bool
    line: int
    # its ``from`` condition, when the whole of ``when`` requires it (a top-level key)
    sender: Callable[[Sequence[str]], bool] | None = None
    # the labels its ``label`` conditions ask for, at any depth (a mailbox that keeps
    # some labels apart from the messages, IMAP folders, is asked for those first)
    labels: frozenset[str] = frozenset()


def tested_labels(when: Any) -> set[str]:
    """The labels the ``label`` conditions of a ``when`` table name, at any depth."""
    found: set[str] = set()
    if isinstance(when, dict):
        for key, value in when.items():
            if key == "label":
                found |= {str(v) for v in _as_list(value)}
            elif key in ("all", "any", "not"):
                for sub in _as_list(value):
                    found |= tested_labels(sub)
    return found


class RuleSet(list[Rule]):
    """The rules of a profile, in order, knowing which can apply to a given sender.

    A rule with a top-level ``from`` condition can only match mail from that sender
    (or domain); most mail comes from a few senders again and again, so the rules
    left for each sender are worked out once and the others are not asked at all.
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        super().__init__(rules)
        self._for_sender: dict[str, list[tuple[int, Rule]]] = {}

    def for_sender(self, address: str) -> list[tuple[int, Rule]]:
        """(position, rule) of the rules that may match mail from ``address``."""
        found = self._for_sender.get(address)
        if found is None:
            if len(self._for_sender) > 8192:  # a run over a big mailbox keeps it bounded
                self._for_sender.clear()
            found = self._for_sender[address] = [
                (i, r) for i, r in enumerate(self) if r.sender is None or r.sender((address,))
            ]
        return found


def header_key(name: str) -> str:
    """Where :meth:`Facts.header` keeps a field's folded values."""
    return "header:" + name.lower()


class Facts:
    """What rules can ask of one message; derived facts computed once, on demand."""

    __slots__ = ("msg", "ctx", "groups", "_cache")

    def __init__(self, msg: MailMessage, ctx: RuleContext) -> None:
        self.msg = msg
        self.ctx = ctx
        self.groups: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    def _memo(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def need_body(self) -> MailMessage:
        """The message, when its body was read; else BodyNeeded."""
        if self.msg.partial:
            raise BodyNeeded(self.msg.id)
        return self.msg

    # The texts below are asked for by most rules of every message: looked up without
    # building a function for _memo each time.
    @property
    def text(self) -> str:
        found = self._cache.get("text")
        if found is None:  # folding stops at a line break: the subject's and body's, joined
            found = self._cache["text"] = f"{self.subject}\n{self.body}"
        return found  # type: ignore[no-any-return]

    @property
    def body(self) -> str:
        found = self._cache.get("body")
        if found is None:
            found = self._cache["body"] = fold(self.need_body().body_text)
        return found  # type: ignore[no-any-return]

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return self.need_body().attachments

    @property
    def subject(self) -> str:
        found = self._cache.get("subject")
        if found is None:
            found = self._cache["subject"] = fold(self.msg.subject)
        return found  # type: ignore[no-any-return]

    def header(self, name: str) -> list[str]:
        """The values of a header field, folded (read once per message and name)."""
        key = header_key(name)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = [fold(h) for h in self.msg.header(name)]
        return found  # type: ignore[no-any-return]

    def addresses(self, which: str) -> list[str]:
        m = self.msg
        if which == "from":
            return [m.from_addr]
        if which == "to":
            return m.to_addrs
        if which == "cc":
            return m.cc_addrs
        if which == "reply_to":
            return m.reply_to
        return [m.from_addr, *m.reply_to]

    @property
    def is_bounce(self) -> bool:
        def check() -> bool:
            from .bounces import is_bounce

            raw = self.need_body().raw
            if raw is None:
                return False
            return is_bounce(raw)

        return bool(self._memo("is_bounce", check))

    @property
    def is_reservation_request(self) -> bool:
        def check() -> bool:
            from .classify import classify

            return classify(self.need_body().body_text, self.msg.date, self.ctx.tz).kind == (
                "reservation_request"
            )

        return bool(self._memo("is_reservation_request", check))

    @property
    def from_us(self) -> bool:
        return self.msg.from_addr in self.ctx.our_addresses

    @property
    def customer_matches(self) -> list[Any]:
        def find() -> list[Any]:
            if self.ctx.customers is None or self.from_us:
                return []
            emails = [a for a in self.addresses("sender") if a]
            body = self.need_body().body_text
            phones = phones_in_text(body, self.ctx.region) if body else []
            return self.ctx.customers.find(emails, phones)

        return list(self._memo("customers", find))

    @property
    def customer_store(self) -> str | None:
        def find() -> str | None:
            if self.ctx.customers is None:
                return None
            region, store = store_of(self.customer_matches, self.ctx.customers)
            if not store:
                return None
            mapped = self.ctx.store_labels.get(store)
            if mapped:
                return str(mapped)
            return f"{region}/{store}" if region else store

        return self._memo("customer_store", find)  # type: ignore[no-any-return]

    @property
    def is_solicitation(self) -> bool:
        def check() -> bool:
            if self.from_us or self.customer_matches:
                return False
            bulk = bool(self.msg.header("List-Unsubscribe")) or any(
                v.lower() in ("bulk", "list", "junk") for v in self.msg.header("Precedence")
            )
            words = any(fold(w) in self.text for w in self.ctx.solicitation_words)
            return bulk or words

        return bool(self._memo("is_solicitation", check))

    def script(self) -> set[str]:
        def find() -> set[str]:
            found = set()
            for ch in self.msg.subject + self.need_body().body_text[:2000]:
                cp = ord(ch)
                for name, ranges in SCRIPTS.items():
                    if any(a <= cp <= b for a, b in ranges):
                        found.add(name)
            return found

        return set(self._memo("script", find))

    def language(self) -> str | None:
        s = self.script()
        if "kana" in s:
            return "ja"
        if "han" in s:
            return "zh"
        if "cyrillic" in s:
            return "uk" if re.search(r"[іїєґІЇЄҐ]", self.msg.subject + self.msg.body_text) else "ru"
        if "hangul" in s:
            return "ko"
        return "en" if "latin" in s else None


@dataclass
class RuleContext:
    tz: tzinfo
    now: datetime
    region: str = ""
    our_addresses: set[str] = field(default_factory=set)
    customers: CustomerIndex | None = None
    store_labels: dict[str, str] = field(default_factory=dict)
    solicitation_words: list[str] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  # the whole profile, for {x:table}
    archive_folder: str = "Archive"
    trash_folder: str = "Trash"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _address_test(patterns: list[str]) -> Callable[[Sequence[str]], bool]:
    """Whole addresses match exactly; ``@domain`` or ``domain`` match the domain and its
    subdomains."""
    exact: set[str] = set()
    domains: list[str] = []
    for pat in patterns:
        p = fold(str(pat)).strip()
        if "@" in p and not p.startswith("@"):
            exact.add(p)
        else:
            domains.append(p.lstrip("@"))
    suffixes = tuple("." + d for d in domains)
    domain_set = set(domains)

    def test(addresses: Sequence[str]) -> bool:
        for addr in addresses:
            if not addr:
                continue
            if addr in exact:
                return True
            if domains:
                host = addr.rpartition("@")[2]
                if host in domain_set or host.endswith(suffixes):
                    return True
        return False

    return test


def _address_matcher(value: Any) -> Callable[[Sequence[str]], bool]:
    """The test of an address condition's value (one pattern or a list)."""
    return _address_test([str(v) for v in _as_list(value)])


def compile_when(spec: Any, where: str) -> Callable[[Facts], bool]:
    """A predicate over :class:`Facts`; unknown keys are errors naming the rule."""
    if not isinstance(spec, dict):
        raise UsageError(f"{where}: 'when' must be a table of conditions")
    tests: list[Callable[[Facts], bool]] = []
    for key, value in spec.items():
        tests.append(_condition(key, value, where))
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda f: first(f) and second(f)
    return lambda f: all(t(f) for t in tests)


def _regex(pattern: str, where: str) -> re.Pattern[str]:
    """Patterns are width-folded like the text, and case-insensitive (not casefolded:
    that would turn ``\\S`` into ``\\s``). A pattern that casefolding leaves as it is
    (no capitals, no ``\\S``) is compiled as it is: the text it searches is casefolded
    already, and a case-insensitive search of non-ASCII text is several times slower."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", pattern)
    flags = 0 if folded.casefold() == folded else re.IGNORECASE
    try:
        return re.compile(folded, flags)
    except re.error as exc:
        raise UsageError(f"{where}: bad regular expression {pattern!r}: {exc}") from None


def _condition(key: str, value: Any, where: str) -> Callable[[Facts], bool]:
    if key in ("all", "any"):
        subs = [compile_when(v, where) for v in _as_list(value)]
        return (
            (lambda f: all(s(f) for s in subs))
            if key == "all"
            else (lambda f: any(s(f) for s in subs))
        )
    if key == "not":
        sub = compile_when(value, where)
        return lambda f: not sub(f)
    if key in ADDRESS_KEYS:
        match = _address_matcher(value)
        if key == "from":  # the one most rules ask: no list built for it
            return lambda f: match((f.msg.from_addr,))
        return lambda f: match(f.addresses(key))
    if key in TEXT_KEYS:
        needles = [fold(str(v)) for v in _as_list(value)]
        return _text_test(key, needles)
    if key in REGEX_KEYS:
        regexes = [_regex(str(v), where) for v in _as_list(value)]
        field_ = key[: -len("_regex")]

        def test_re(f: Facts) -> bool:
            hay = (
                f.subject if field_ == "subject"
                else f.body if field_ == "body"
                else f.text if field_ == "text"
                else fold(f.msg.from_addr)
            )  # fmt: skip
            for p in regexes:
                m = p.search(hay)
                if m:
                    f.groups.update({k: v for k, v in m.groupdict().items() if v})
                    return True
            return False

        return test_re
    if key in BOOL_KEYS:
        if not isinstance(value, bool):
            raise UsageError(f"{where}: {key} takes true or false")
        getter: Callable[[Facts], bool] = {
            "has_attachment": lambda f: bool(f.attachments),
            "is_bounce": lambda f: f.is_bounce,
            "is_reservation_request": lambda f: f.is_reservation_request,
            "is_solicitation": lambda f: f.is_solicitation,
            "is_reply": lambda f: bool(f.msg.in_reply_to),
            "from_us": lambda f: f.from_us,
            "seen": lambda f: f.msg.seen,
            "flagged": lambda f: f.msg.flagged,
        }[key]
        return lambda f: getter(f) == value
    if key in ("header", "header_regex"):
        if not isinstance(value, dict):
            raise UsageError(f'{where}: {key} takes a table like {{ "X-Mailer" = "…" }}')
        checks: list[tuple[str, str, list[Any]]] = []
        for name, v in value.items():
            vals = [_regex(str(x), where) if key == "header_regex" else fold(str(x))
                    for x in _as_list(v)]  # fmt: skip
            checks.append((name, header_key(name), vals))

        def test_header(f: Facts) -> bool:
            for name, cached, vals in checks:
                got = f._cache.get(cached)
                if got is None:
                    got = f.header(name)
                if not got:  # most messages have no such field
                    return False
                ok = any(
                    (v.search(h) if isinstance(v, re.Pattern) else v in h)
                    for v in vals for h in got
                )  # fmt: skip
                if not ok:
                    return False
            return True

        return test_header
    if key in ("older_than", "newer_than"):
        age = parse_duration(str(value), f"{where}: {key}")
        if key == "older_than":
            return lambda f: f.ctx.now - f.msg.date > age
        return lambda f: f.ctx.now - f.msg.date <= age
    if key == "language":
        langs = {str(v).lower() for v in _as_list(value)}
        return lambda f: f.language() in langs
    if key == "script":
        wanted = {str(v).lower() for v in _as_list(value)}
        unknown = wanted - set(SCRIPTS)
        if unknown:
            raise UsageError(
                f"{where}: unknown script {sorted(unknown)[0]!r}; valid: " + ", ".join(SCRIPTS)
            )
        return lambda f: bool(f.script() & wanted)
    if key == "customer_store":
        if isinstance(value, bool):
            return lambda f: (f.customer_store is not None) == value
        wanted_stores = {fold(str(v)) for v in _as_list(value)}

        def test_store(f: Facts) -> bool:
            s = f.customer_store
            return s is not None and (
                fold(s) in wanted_stores or fold(s.rsplit("/", 1)[-1]) in wanted_stores
            )

        return test_store
    if key == "label":
        labels = {str(v) for v in _as_list(value)}
        return lambda f: bool(labels & set(f.msg.labels))
    raise UsageError(f"{where}: unknown condition {key!r}; valid: {', '.join(CONDITIONS)}")


def _text_test(key: str, needles: list[str]) -> Callable[[Facts], bool]:
    if key in ("subject", "body", "text"):
        one: Callable[[Facts], str] = attrgetter(key)  # the Facts property, one C call
        if len(needles) == 1:
            needle = needles[0]
            return lambda f: needle in one(f)

        def test_one(f: Facts) -> bool:
            hay = one(f)
            return any(n in hay for n in needles)

        return test_one

    def hay(f: Facts) -> list[str]:
        m = f.msg
        if key == "list_id":
            return f.header("List-Id")
        if key == "attachment_name":
            return [fold(a.get("filename") or "") for a in f.attachments]
        if key == "mailbox":
            return [fold(m.mailbox or "")]
        return [fold(m.folder or "")]

    exact = key in ("mailbox", "folder")
    return lambda f: any((n == h) if exact else (n in h) for n in needles for h in hay(f))


def _line_of(source: str, name: str) -> int:
    try:
        for i, line in enumerate(Path(source).read_text("utf-8").splitlines(), 1):
            if re.match(r"\s*name\s*=\s*[\"']" + re.escape(name) + r"[\"']", line):
                return i
    except OSError:
        pass
    return 0


def load_rules(rules: Any, source: str) -> RuleSet:
    """Validate and compile ``[[mail.rules]]``; errors name file:line and the rule."""
    if rules is None:
        return RuleSet()
    if not isinstance(rules, list):
        raise UsageError(f"{source}: mail.rules must be an array of tables ([[mail.rules]])")
    out = RuleSet()
    names: set[str] = set()
    for i, spec in enumerate(rules, 1):
        if not isinstance(spec, dict) or not spec.get("name"):
            raise UsageError(f"{source}: rule {i} has no name")
        name = str(spec["name"])
        line = _line_of(source, name)
        where = f"{source}:{line}: rule {name!r}"
        if name in names:
            raise UsageError(f"{where}: a rule of that name comes earlier")
        names.add(name)
        unknown = sorted(set(spec) - set(RULE_KEYS))
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(RULE_KEYS)}")
        actions = {k: spec[k] for k in ACTIONS if k in spec}
        for k in ("add_labels", "remove_labels", "order_flags"):
            if k in actions:
                actions[k] = [str(x) for x in _as_list(actions[k])]
        for k in ("archive", "trash", "mark_read", "flag"):
            if k in actions and not isinstance(actions[k], bool):
                raise UsageError(f"{where}: {k} takes true or false")
        if "move" in actions and not isinstance(actions["move"], str):
            raise UsageError(f"{where}: move takes a folder name")
        when = compile_when(spec.get("when", {}), where)
        sender = None
        if isinstance(spec.get("when"), dict) and "from" in spec["when"]:
            sender = _address_matcher(spec["when"]["from"])
        out.append(Rule(name, when, actions, bool(spec.get("stop", False)), line, sender,
                        frozenset(tested_labels(spec.get("when")))))  # fmt: skip
    return out


def _lookup_table(ctx: RuleContext, path: str) -> dict[str, Any]:
    node: Any = ctx.tables
    for part in path.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def render_template(template: str, facts: Facts) -> str | None:
    """Fill ``{name}`` / ``{name:table}``; None when a name in braces has no value."""
    if "{" not in template:  # most labels and folders are plain names
        return template or None
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        name, table = m.group(1), m.group(2)
        value: Any = facts.groups.get(name)
        if value is None:
            value = {
                "customer_store": lambda: facts.customer_store,
                "mailbox": lambda: facts.msg.mailbox,
                "folder": lambda: facts.msg.folder,
            }.get(name, lambda: None)()
        if value is not None and table:
            value = _lookup_table(facts.ctx, table).get(value, value)
        if value is None:
            missing = True
            return ""
        return str(value)

    out = _PLACEHOLDER.sub(sub, template)
    return None if missing or not out else out


@dataclass
class Decision:
    """What the rules decided for one message."""

    msg: MailMessage
    rules: list[str] = field(default_factory=list)
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    folder: str | None = None
    seen: bool | None = None
    flagged: bool | None = None
    order_comment: str | None = None
    order_flags: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.folder or self.seen or self.flagged
                    or self.order_comment or self.order_flags)  # fmt: skip

    def brief(self) -> tuple[Any, ...]:
        """The decision as plain values, its message brief (:func:`brief`), to go to
        another process: a tenth of the bytes, and several times faster to send. A rule
        about an order keeps the whole message: the order is looked up in its body."""
        m = self.msg
        msg: Any = m if self.order_comment or self.order_flags else brief(m)
        return (msg, self.rules, self.add, self.remove, self.folder, self.seen, self.flagged,
                self.order_comment, self.order_flags)  # fmt: skip

    @classmethod
    def from_brief(cls, values: tuple[Any, ...]) -> Decision:
        msg, *rest = values
        return cls(msg if isinstance(msg, MailMessage) else from_brief(msg), *rest)


@dataclass
class Suspended:
    """Where :func:`decide` stopped for a body: the rule that asked, and what the rules
    before it decided (they read no body, so the whole message changes none of it)."""

    index: int
    decision: Decision


def decide(
    rules: Iterable[Rule], msg: MailMessage, ctx: RuleContext, *, resume: Suspended | None = None
) -> Decision:
    """The rules applied to one message, in order, up to the first that stops.

    A rule that needs the body of a header-only message raises :class:`BodyNeeded`
    carrying a :class:`Suspended`; ``decide(rules, whole, ctx, resume=...)`` goes on
    from that rule with the whole message: the rules before it are not asked again.
    Of a :class:`RuleSet`, only the rules that may apply to the sender are asked.
    """
    if isinstance(rules, RuleSet):
        seq = rules.for_sender(msg.from_addr)
    else:
        seq = list(enumerate(rules))
    facts = Facts(msg, ctx)
    if resume is None:
        d, start = Decision(msg), 0
    else:
        d, start = resume.decision, resume.index
        d.msg = msg
    for i, rule in seq:
        if i < start:
            continue
        if facts.groups:  # what an earlier rule's regex captured
            facts.groups = {}
        try:
            if rule.when(facts) and _apply(rule, facts, d, msg, ctx):
                break
        except BodyNeeded as exc:
            exc.resume = Suspended(i, d)
            raise
    return d


def _apply(rule: Rule, facts: Facts, d: Decision, msg: MailMessage, ctx: RuleContext) -> bool:
    """The actions of a rule that matched; True when it stops the list. Everything is
    worked out first (this may ask for the body) and only then written into ``d``, so
    a rule that stopped for the body left no trace."""
    a = rule.actions
    if msg.partial and ("order_comment" in a or "order_flags" in a):
        raise BodyNeeded(msg.id)  # the order is looked up in the body too
    add = [render_template(t, facts) for t in a.get("add_labels", [])]
    remove = [render_template(t, facts) for t in a.get("remove_labels", [])]
    moved = render_template(a["move"], facts) if not a.get("trash") and a.get("move") else None
    comment = render_template(a["order_comment"], facts) if a.get("order_comment") else None
    flags = [render_template(t, facts) for t in a.get("order_flags", [])]
    d.rules.append(rule.name)
    for label in add:
        if label and label not in d.add:
            d.add.append(label)
    for label in remove:
        if label and label not in d.remove:
            d.remove.append(label)
    if a.get("trash"):
        d.folder = ctx.trash_folder
    elif a.get("move"):
        d.folder = moved or d.folder
    elif a.get("archive") and d.folder is None:
        d.folder = ctx.archive_folder
    if a.get("mark_read"):
        d.seen = True
    if a.get("flag"):
        d.flagged = True
    if a.get("order_comment"):
        d.order_comment = comment
    for flag in flags:
        if flag and flag not in d.order_flags:
            d.order_flags.append(flag)
    return rule.stop
