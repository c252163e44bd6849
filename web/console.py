"""The auditors' console at ``/audit``: sign-in, the log with filters and paging, an entry, exports, the chain's
state, the daily chart, flags for suspicious patterns, and (for admins) the API keys.

Every page but the sign-in page needs a signed-in account. Sign-ins live on the server (``console_sessions``): they
end at sign-out, after PERMANENT_SESSION_LIFETIME seconds without activity, when the account's password changes,
when it is deleted and when an admin signs it out everywhere; a copied cookie then opens nothing. Forms carry CSRF
tokens (flask-wtf's CSRFProtect, installed by the site); sign-in has a rate limit per address and a lockout per
(account, source address).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from web import apikeys, auditlog, auditquery, db, metrics, users
from web.chart import daily_chart
from web.i18n import JST
from web.models import ConsoleSession, LogEntry, User
from web.problems import WebError
from web.ratelimit import client_address, limiter
from web.wording import region_label

bp = Blueprint("audit", __name__, url_prefix="/audit")

FILTER_FIELDS = ("since", "until", "outcome", "code", "serial", "client", "channel")
PUBLIC_ENDPOINTS = {"audit.sign_in"}
CHART_MAX_DAYS = 92
CHART_DAYS = 30  # the chart's and the overview's period when the filter names none
# The times the console shows and reads: UTC (the log's own) or JST (the certificates'), chosen with ?tz= and
# remembered for the sign-in.
ZONES = {"utc": dt.UTC, "jst": JST}

OUTCOME_LABELS = {"verified": _l("verified"), "altered": _l("altered"), "failed": _l("failed")}
CHANNEL_LABELS = {"web": _l("web page"), "api": _l("API")}
FRONT_LABELS = {"matches": _l("matches what was issued"), "differs": _l("differs from what was issued"),
                "unreadable": _l("could not be compared")}


def _now() -> float:
    return time.time()


# --- accounts and sessions -------------------------------------------------------------------------------------


def _end_session() -> None:
    for key in ("audit_sid", "audit_uid", "audit_stamp", "audit_seen"):
        session.pop(key, None)


def _utcnow() -> dt.datetime:
    return dt.datetime.fromtimestamp(_now(), dt.UTC)


@bp.before_request
def require_sign_in() -> BaseResponse | None:
    """Load the signed-in account from its server-side session, or send the browser to the sign-in page."""
    g.audit_user = None
    chosen = request.args.get("tz", "")
    if chosen in ZONES:
        session["audit_tz"] = chosen
    g.audit_tz = session.get("audit_tz") if session.get("audit_tz") in ZONES else "utc"
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user, lapsed = users.resume_session(db.get_session(), session.get("audit_sid", ""), _utcnow(),
                                        current_app.permanent_session_lifetime)
    if lapsed:
        flash(_("You were signed out after %(minutes)d minutes without activity. Sign in again.",
                minutes=round(current_app.permanent_session_lifetime.total_seconds() / 60)), "info")
    if user is None:
        _end_session()
        if request.method != "GET":
            abort(403)
        return redirect(url_for("audit.sign_in", next=request.full_path.rstrip("?")))
    g.audit_user = user
    return None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.audit_user is None or g.audit_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def _signin_limit() -> str:
    return current_app.config["RATELIMIT_SIGNIN"]


def _lockout_policy() -> users.LockoutPolicy:
    cfg = current_app.config
    return users.LockoutPolicy(per_source=int(cfg["SIGNIN_LOCKOUT_FAILURES"]),
                               per_account=int(cfg["SIGNIN_ACCOUNT_FAILURES"]),
                               window=dt.timedelta(seconds=int(cfg["SIGNIN_LOCKOUT_SECONDS"])))


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an absolute URL (no open redirect)."""
    if target and target.startswith("/audit") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("audit.index")


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_signin_limit, methods=["POST"])
def sign_in() -> Any:
    """Sign in. Failures lock the (account, source address) pair, never the account for everyone: see
    docs/auditlog.md, "Sign-in lockout". The per-address rate limit bounds the guesses of one source."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        dbs, now, policy = db.get_session(), _utcnow(), _lockout_policy()
        name = users.normalise_name(request.form.get("name", ""))
        account, source = users.lockout_account(name), users.source_of(client_address())
        until = users.locked_until(dbs, account, source, now, policy)
        if until is not None:
            current_app.logger.warning("console sign-in refused (locked) for %r", name[:64])
            wait = max(1, int((until - now).total_seconds()) + 1)
            error = _("Too many failed sign-ins to this account from your network. Try again in %(minutes)d "
                      "minute(s), or ask an admin to set a new password.", minutes=-(-wait // 60))
            status, headers = 429, {"Retry-After": str(wait)}
            metrics.refused("signin_locked", request.path)
        else:
            user = users.authenticate(dbs, name, request.form.get("password", ""))
            if user is not None:
                users.clear_failures(dbs, account, source)
                token = users.start_session(dbs, user, now, current_app.permanent_session_lifetime)
                session.clear()  # a fresh session: nothing from before the sign-in survives
                session.permanent = True
                session["audit_sid"] = token
                current_app.logger.info("console sign-in: %s (%s)", user.name, user.role)
                return redirect(_safe_next(request.args.get("next")))
            users.record_failure(dbs, account, source, now, policy)
            current_app.logger.warning("console sign-in failed for %r", name[:64])
            error = _("The name or the password is wrong.")
    minutes = round(current_app.permanent_session_lifetime.total_seconds() / 60)
    return render_template("audit/sign_in.html", error=error, minutes=minutes), status, headers


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> BaseResponse:
    """End this sign-in on the server (a copy of the cookie no longer opens anything); with ``everywhere`` set,
    end every sign-in of the account."""
    if request.form.get("everywhere"):
        users.end_all_sessions(db.get_session(), g.audit_user)
    else:
        users.end_session(db.get_session(), session.get("audit_sid", ""))
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("audit.sign_in"))


@bp.route("/users")
@admin_required
def accounts() -> str:
    dbs = db.get_session()
    counts = dict(dbs.execute(sa.select(ConsoleSession.user_id, sa.func.count()).group_by(ConsoleSession.user_id)
                              ).all())
    listed = [(u, counts.get(u.id, 0)) for u in dbs.scalars(sa.select(User).order_by(User.name))]
    return render_template("audit/users.html", accounts=listed)


@bp.route("/users/<int:uid>/sign-out", methods=["POST"])
@admin_required
def sign_out_everywhere(uid: int) -> BaseResponse:
    """An admin ends every sign-in of an account at once (a lost laptop, a departing auditor)."""
    dbs = db.get_session()
    user = dbs.get(User, uid)
    if user is None:
        abort(404)
    ended = users.end_all_sessions(dbs, user)
    current_app.logger.info("console: %s signed %s out everywhere (%d sign-ins)", g.audit_user.name, user.name,
                            ended)
    flash(_("%(name)s is signed out everywhere (%(count)d sign-in(s) ended).", name=user.name, count=ended), "info")
    if user.id == g.audit_user.id:
        session.clear()
        return redirect(url_for("audit.sign_in"))
    return redirect(url_for("audit.accounts"))


# --- filters ---------------------------------------------------------------------------------------------------


def _zone() -> dt.tzinfo:
    return ZONES[g.get("audit_tz", "utc")]


def _parse_when(value: str, end: bool) -> dt.datetime | None:
    """A filter's time bound (a bare date is a day of the chosen zone), or None when it is empty or cannot be read
    (the form then says so)."""
    try:
        return auditquery.parse_when(value, end, _zone())
    except ValueError:
        return None


def current_filter() -> tuple[auditquery.LogFilter, dict[str, Any], list[str]]:
    """The request's filter, the raw values (for the form and links) and the fields that could not be read."""
    # The raw values are strings; Any because links pass them to url_for as keywords (see _console_context).
    raw = {name: request.args.get(name, "").strip()[:200] for name in FILTER_FIELDS}
    bad = []
    since, until = _parse_when(raw["since"], end=False), _parse_when(raw["until"], end=True)
    for name, parsed in (("since", since), ("until", until)):
        if raw[name] and parsed is None:
            bad.append(name)
            raw[name] = ""
    if raw["outcome"] and raw["outcome"] not in auditquery.OUTCOMES:
        bad.append("outcome")
        raw["outcome"] = ""
    if raw["channel"] and raw["channel"] not in auditquery.CHANNELS:
        bad.append("channel")
        raw["channel"] = ""
    flt = auditquery.LogFilter(since=since, until=until, partial=True,
                               **{k: raw[k] or None for k in ("outcome", "code", "serial", "client", "channel")})
    return flt, {k: v for k, v in raw.items() if v}, bad


def _flag_text(flag: auditquery.Flag, seconds: int) -> tuple[str, str]:
    """A flag's headline and its plain explanation, in the page's language."""
    s, n = flag.subject, flag.count
    if flag.kind == "altered":
        text = _("%(count)d check(s) of this serial found a back with the issuer's genuine code whose scrambled "
                 "image disagrees with the content the issuer signed: a back rebuilt for an altered front. Ask "
                 "the submitter for the original and tell the issuing municipality.", count=n)
        if flag.earlier_verified:
            text += " " + _("The same serial passed %(verified)d earlier check(s): the genuine back of this "
                            "certificate exists, and the altered one was made from it.",
                            verified=flag.earlier_verified)
        return _("Altered certificate: serial %(serial)s", serial=s or "?"), text
    if flag.kind == "bad_signature":
        return (_("Bad signatures: serial %(serial)s", serial=s or "?"),
                _("%(count)d upload(s) carried a code whose issuer signature does not match its contents. "
                  "Genuine backs never do this: someone presented a forged or edited code.", count=n))
    if flag.kind == "unknown_key":
        return (_("Unknown key id: %(key)s", key=s if s != "None" else "?"),
                _("%(count)d upload(s) named an issuing key this site does not know. Either the code was "
                  "forged, or an issuer's new key has not been installed yet.", count=n))
    if flag.kind == "burst_serial":
        return (_("Burst of checks: serial %(serial)s", serial=s),
                _("This serial was checked %(count)d times within %(seconds)d seconds (%(failed)d failed). "
                  "A recipient checks a certificate once or twice; a burst suggests someone probing the site "
                  "with crafted scans of one certificate.", count=n, seconds=seconds, failed=flag.failures))
    if flag.kind == "burst_client":
        return (_("Burst of attempts: client %(client)s", client=s),
                _("This client made %(count)d attempts within %(seconds)d seconds (%(failed)d failed): "
                  "automated use or probing.", count=n, seconds=seconds, failed=flag.failures))
    if flag.kind == "serial_clients":
        return (_("One serial, many clients: %(serial)s", serial=s),
                _("This serial was checked by %(clients)d different clients (%(count)d checks). A certificate "
                  "normally goes to one recipient; many checkers suggest copies in circulation.",
                  clients=flag.distinct, count=n))
    return (_("Many failures: client %(client)s", client=s),
            _("This client had %(count)d failed checks. Either its scanner is set up wrongly (see the error "
              "codes) or it is trying forged backs.", count=n))


_flag_cache: dict[tuple, tuple[float, dt.datetime, list[auditquery.Flag]]] = {}
_flag_cache_lock = threading.Lock()


def _cached_flags(since: dt.datetime, until: dt.datetime | None, limits: auditquery.Thresholds,
                  max_age: float) -> tuple[list[auditquery.Flag], dt.datetime]:
    """The flags of the window, reused for ``max_age`` seconds (the window's ends rounded to the minute)."""
    key = (id(current_app._get_current_object()), since.replace(second=0, microsecond=0),  # type: ignore[attr-defined]
           until, limits)
    with _flag_cache_lock:
        hit = _flag_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < max_age:
        return hit[2], hit[1]
    with db.get_engine().connect() as conn:
        found = auditquery.find_flags(conn, since, until, limits)
    computed_at = dt.datetime.now(dt.UTC)
    with _flag_cache_lock:
        for stale in [k for k, v in _flag_cache.items() if time.monotonic() - v[0] >= max_age]:
            del _flag_cache[stale]
        _flag_cache[key] = (time.monotonic(), computed_at, found)
    return found, computed_at


def _flags(flt: auditquery.LogFilter) -> tuple[list[dict[str, Any]], dt.datetime, dt.datetime]:
    cfg = current_app.config
    since = flt.since or dt.datetime.now(dt.UTC) - dt.timedelta(days=int(cfg["AUDIT_FLAG_WINDOW_DAYS"]))
    limits = auditquery.Thresholds(client_failures=int(cfg["AUDIT_FLAG_CLIENT_FAILURES"]),
                                   serial_clients=int(cfg["AUDIT_FLAG_SERIAL_CLIENTS"]),
                                   burst_count=int(cfg["AUDIT_FLAG_BURST_COUNT"]),
                                   burst_seconds=int(cfg["AUDIT_FLAG_BURST_SECONDS"]))
    found, computed_at = _cached_flags(since, flt.until, limits, float(cfg["AUDIT_FLAG_CACHE_SECONDS"]))
    out = []
    for flag in found:
        headline, explanation = _flag_text(flag, limits.burst_seconds)
        link: dict[str, Any] = {k: v for k, v in flag.filters.items() if v}  # Any: see _console_context
        out.append({"flag": flag, "headline": headline, "explanation": explanation,
                    "severity": "high" if flag.kind in ("altered", "bad_signature", "burst_serial") else "medium",
                    "url": url_for("audit.index", **link)})
    return out, since, computed_at


def _days(flt: auditquery.LogFilter) -> tuple[dt.date, dt.date]:
    """The first and last day (in the chosen zone) of the chart and the overview: the filter's range, or the last
    CHART_DAYS days; at most CHART_MAX_DAYS."""
    zone = _zone()
    end = (flt.until - dt.timedelta(microseconds=1)).astimezone(zone).date() if flt.until \
        else dt.datetime.now(zone).date()
    start = flt.since.astimezone(zone).date() if flt.since else end - dt.timedelta(days=CHART_DAYS - 1)
    return max(start, end - dt.timedelta(days=CHART_MAX_DAYS - 1)), end


def _chart(flt: auditquery.LogFilter) -> dict[str, Any]:
    """The daily chart, as a picture and as a table of its numbers (for the keyboard and screen readers)."""
    zone = _zone()
    start, end = _days(flt)
    window = auditquery.LogFilter(**{**flt.__dict__, "since": dt.datetime.combine(start, dt.time(), zone),
                                     "until": flt.until})
    offset = zone.utcoffset(None)
    assert offset is not None  # the console's zones (UTC, JST) have fixed offsets
    hours = int(offset.total_seconds() // 3600)
    with db.get_engine().connect() as conn:
        counts = auditquery.daily_counts(conn, window, hours)
    labels = {k: str(v) for k, v in OUTCOME_LABELS.items()}
    zone_name = zone.tzname(None)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return {
        "svg": daily_chart(counts, start, end, labels,
                           title=_("Verifications per day (%(zone)s) by outcome, %(start)s to %(end)s",
                                   zone=zone_name, start=start.isoformat(), end=end.isoformat()),
                           bar_title=_("{day}: {verified} verified, {altered} altered, {failed} failed")),
        "rows": [(day, {k: counts.get(day, {}).get(k, 0) for k in auditquery.OUTCOMES}) for day in days
                 if sum(counts.get(day, {}).values())],
        "start": start, "end": end,
    }


def _overview(flt: auditquery.LogFilter) -> dict[str, Any]:
    """Totals of the period (the filter's range, or the chart's days) beside those of the period just before it,
    of the same length, under the same other filters."""
    zone = _zone()
    start, end = _days(flt)
    since = flt.since or dt.datetime.combine(start, dt.time(), zone)
    until = flt.until or dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
    span = until - since
    with db.get_engine().connect() as conn:
        now = auditquery.totals(conn, auditquery.LogFilter(**{**flt.__dict__, "since": since, "until": until}))
        before = auditquery.totals(conn, auditquery.LogFilter(**{**flt.__dict__, "since": since - span,
                                                                 "until": since}))

    def rate(counts: dict[str, int]) -> float | None:
        total = sum(counts.values())
        return 100 * counts["failed"] / total if total else None

    rows = []
    for key, label in (("total", _("Attempts")), *((k, str(OUTCOME_LABELS[k])) for k in auditquery.OUTCOMES)):
        a = sum(now.values()) if key == "total" else now[key]
        b = sum(before.values()) if key == "total" else before[key]
        change = "±0" if a == b else f"{a - b:+d}" + (f" ({100 * (a - b) / b:+.0f} %)" if b else "")
        rows.append({"key": key, "label": label, "now": str(a), "before": str(b), "change": change})
    r_now, r_before = rate(now), rate(before)
    rows.append({"key": "failure_rate", "label": _("Failure rate"),
                 "now": "–" if r_now is None else f"{r_now:.1f} %",
                 "before": "–" if r_before is None else f"{r_before:.1f} %",
                 "change": _("%(points)s points", points=f"{r_now - r_before:+.1f}")
                 if r_now is not None and r_before is not None else "–"})
    last = until - dt.timedelta(seconds=1)
    return {"rows": rows, "since": since, "until": last, "before_since": since - span,
            "before_until": since - dt.timedelta(seconds=1)}


def _chain_banner() -> dict[str, Any]:
    status = auditlog.chain_status()
    if status.ok:
        text = _("Hash chain intact: %(count)d entries verified.", count=status.entries)
        if status.checkpoint_seq:
            text += " " + _("The chain starts at the signed checkpoint after entry %(seq)d (older entries were "
                            "pruned).", seq=status.checkpoint_seq)
    else:
        reasons = {
            "edited": _("entry %(seq)d was edited after it was written."),
            "removed": _("entry %(seq)d was removed."),
            "tail_removed": _("entry %(seq)d and later entries were removed from the end of the log."),
            "relinked": _("entry %(seq)d was rewritten or entries were reordered."),
            "misplaced": _("entry %(seq)d is out of place."),
            "checkpoint": _("the prune checkpoint at entry %(seq)d is forged or signed with another key."),
            "head": _("the newest entries were rewritten (entry %(seq)d)."),
        }
        reason = reasons.get(status.problem or "", _("entry %(seq)d is wrong."))
        text = _("Hash chain BROKEN: ") + reason % {"seq": status.broken_seq or 0} + " " + _(
            "Entries from there on cannot be trusted. Run `flask audit verify` and compare with a backup.")
    return {"ok": status.ok, "text": text, "detail": status.message,
            "checked_at": status.full_at or status.checked_at,
            "seq": status.broken_seq}


# --- views -----------------------------------------------------------------------------------------------------


@bp.route("/")
def index() -> Any:
    flt, raw, bad = current_filter()
    size = max(1, int(current_app.config["AUDIT_PAGE_SIZE"]))
    number = max(1, request.args.get("page", 1, type=int) or 1)
    if number > auditquery.MAX_PAGE:
        raise WebError("bad_request", parameter="page")
    sort = request.args.get("sort", "seq")
    if sort not in auditquery.SORTS:
        raise WebError("bad_request", parameter="sort")
    descending = request.args.get("dir", "desc") != "asc"
    with db.get_engine().connect() as conn:
        rows, total = auditquery.page(conn, flt, number, size, sort, descending)
        codes = [c for c in conn.execute(sa.select(LogEntry.error_code).distinct()
                                         .where(LogEntry.error_code.is_not(None))).scalars()]
    pages = max(1, -(-total // size))
    flags, flag_since, flags_at = _flags(flt)
    order: dict[str, Any] = ({} if sort == "seq" and descending
                             else {"sort": sort, "dir": "desc" if descending else "asc"})

    def sort_url(column: str) -> str:
        """The listing sorted by ``column``: newest or highest first, the other way round on a second click."""
        flip = column == sort and descending
        return url_for("audit.index", **raw, sort=column, dir="asc" if flip else "desc")

    return render_template(
        "audit/index.html", rows=rows, total=total, page=number, pages=pages, raw=raw, bad=bad, flt=flt,
        codes=sorted(set(codes) | ({raw["code"]} if raw.get("code") else set())), flags=flags,
        flag_since=flag_since, flags_at=flags_at, chart=_chart(flt), overview=_overview(flt),
        banner=_chain_banner(), outcome_labels=OUTCOME_LABELS, channel_labels=CHANNEL_LABELS,
        sort=sort, descending=descending, sort_url=sort_url,
        page_url=lambda n: url_for("audit.index", **raw, **order, page=n),
        export_url=lambda fmt: url_for("audit.export", fmt=fmt, **raw)), 400 if bad else 200


@bp.route("/entries/<int:seq>")
def entry(seq: int) -> str:
    if seq > 2**63 - 1:
        abort(404)
    with db.get_engine().connect() as conn:
        row = auditquery.entry(conn, seq)
        newer = row is not None and auditquery.entry(conn, seq + 1) is not None
    if row is None:
        abort(404)
    doc = auditlog.export_dict(row)
    regions = [(name, region_label(name)) for name in doc.get("regions") or ()]
    return render_template("audit/entry.html", row=row, doc=doc, quality=doc["quality"] or {}, newer=newer,
                           regions=regions, front_labels=FRONT_LABELS,
                           outcome_labels=OUTCOME_LABELS, channel_labels=CHANNEL_LABELS, banner=_chain_banner())


@bp.route("/export.<any(csv, jsonl):fmt>")
def export(fmt: str) -> Response:
    """The filtered entries, oldest first, as a download that no cache keeps."""
    flt, _raw, _bad = current_filter()
    engine = db.get_engine()

    def generate():
        with engine.connect() as conn:
            yield from auditlog.iter_export(fmt, auditquery.iter_entries(conn, flt, newest_first=False))

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    mimetype = "text/csv" if fmt == "csv" else "application/jsonl"
    response = Response(stream_with_context(generate()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="certverify-log-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    current_app.logger.info("console export (%s) by %s: %s", fmt, g.audit_user.name, flt)
    return response


@bp.route("/keys", methods=["GET", "POST"])
@admin_required
def keys() -> Any:
    new_key = None
    error = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            new_key = apikeys.create_key(db.get_session(), name)
            current_app.logger.info("console: %s created API key %s", g.audit_user.name, name)
        except apikeys.ApiKeyError as exc:
            error = str(exc)
    listed = apikeys.list_keys(db.get_session())
    status = 201 if new_key else (400 if error else 200)
    return render_template("audit/keys.html", keys=listed, new_key=new_key,
                           new_name=request.form.get("name", "") if new_key else "", error=error), status


@bp.route("/keys/<name>/revoke", methods=["POST"])
@admin_required
def revoke(name: str) -> BaseResponse:
    try:
        apikeys.revoke_key(db.get_session(), name)
    except apikeys.ApiKeyError:
        abort(404)
    current_app.logger.info("console: %s revoked API key %s", g.audit_user.name, name)
    flash(_("The key %(name)s is revoked: requests with it are refused from now on.", name=name), "info")
    return redirect(url_for("audit.keys"))


@bp.app_template_filter("local")
def _local(value: dt.datetime | None) -> str:
    """A time of the log in the zone the console shows (its name is in ``zone``)."""
    return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M:%S") if value else ""


@bp.app_context_processor
def _console_context() -> dict[str, Any]:
    """The chosen zone's name and the same page in the other zone."""
    if request.blueprint != "audit":
        return {}
    chosen = g.get("audit_tz", "utc")
    # Any: url_for also takes a bool ``_external`` keyword, which a dict of str as such would be checked against
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "tz" and k not in (request.view_args or {})}
    return {"zone": ZONES[chosen].tzname(None), "zone_choice": chosen,
            "zone_url": lambda tz: url_for(request.endpoint or "audit.index", **(request.view_args or {}), **args,
                                           tz=tz)}


def init_app(app: Flask) -> None:
    """Register the console and the account commands (``flask users``)."""
    app.register_blueprint(bp)
    users.init_app(app)
