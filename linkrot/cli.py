"""``linkrot``: read the database a crawl wrote; print redirect maps, reports, a disavow file.

One verb per command.  Exit codes: 0 ok, 2 problems found (broken backlinks,
refused redirects...), 1 error (no or bad database, unreadable file), 3 bad
usage.  Click's own usage errors exit 2, which would read as "problems found"
to a script, so :class:`LinkrotGroup` turns them into 3.  Conditions named in
``linkrot.errors`` (and SQLite's and the file system's) become one ``Error:``
line here and nowhere else.
"""

from __future__ import annotations

import errno
import os
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import settings
from .errors import LinkrotError, RunLockedError
from .lock import RunLock
from .redirectmap import FORMATS, backlink_redirects, chain_redirects, check, path_rules, render
from .report import RENDERERS, disavow_file, gather, has_problems, seen_urls
from .store import DEFAULT_DB, Store, check_database
from .suggest import compute_suggestions, refresh_suggestions
from .urls import hostname_of, normalize_url, registrable_domain

OK, PROBLEMS, ERROR, USAGE = 0, 2, 1, 3
MARKS = ("disavow", "watch", "ok")


class LinkrotGroup(click.Group):
    """A click group whose usage errors exit 3 and whose known failures are one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _edge():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _edge():
            return super().invoke(ctx)


@contextmanager
def _edge() -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:
        exc.exit_code = USAGE
        raise
    except (LinkrotError, sqlite3.Error, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            raise  # `linkrot report | head`: click itself silences a closed pipe
        message = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the message held
        raise click.ClickException(message) from exc


@contextmanager
def open_store(path: str) -> Iterator[Store]:
    """Open an existing database; a read command never creates one (a typo would make an empty db)."""
    # look before Store migrates: another program's SQLite file must not get linkrot's tables
    check_database(path, must_exist=True)
    store = Store(path)
    try:
        index_links_if_idle(store)
        yield store
    finally:
        store.close()


def index_links_if_idle(store: Store) -> None:
    """A big crawl killed and not resumed left its links unindexed by target (``LINKROT_DEFER_LINK_INDEX``):
    build the index before reading, unless a site crawl is writing to the database (it builds it when it ends)."""
    if store.has_link_index():  # the usual case: no lock taken, no lock file made beside the database
        return
    try:
        lock = RunLock(store.path, "site").acquire()
    except (RunLockedError, OSError):  # a crawl is writing; or the lock cannot be made (read-only folder)
        return
    try:
        seconds = store.ensure_link_index()
        if seconds is not None:
            click.echo(f"linkrot: links indexed by target in {seconds:.1f} s (a crawl that did not end left them)", err=True)
    finally:
        lock.release()


db_option = click.option(
    "--db", default=DEFAULT_DB, show_default=True, metavar="PATH", help="The linkrot SQLite database."
)
overrides_option = click.option(
    "--overrides",
    default=settings.LINKROT_REDIRECT_OVERRIDES,
    show_default=True,
    metavar="PATH",
    help="Your redirect decisions, CSV from_url,to_url[,note]: they win over any suggestion.",
)


def _overrides(ctx: click.Context, path: str) -> str:
    # the default file is optional; a file named on the command line must exist
    source = ctx.get_parameter_source("overrides")
    if source is not click.core.ParameterSource.DEFAULT and not Path(path).is_file():
        raise click.BadParameter(f"no file at {path}", param_hint="--overrides")
    return path


@click.group(cls=LinkrotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="linkrot-crawler", prog_name="linkrot")
def cli() -> None:
    """Read what linkrot's crawls stored: redirect maps, reports, a disavow file.

    Exit codes: 0 ok, 2 problems found, 1 error, 3 bad usage.
    """


@cli.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Where the map goes.")
@click.option(
    "--allow-home", is_flag=True, help="Accept home-page fallbacks (search engines treat them as soft 404s)."
)
@overrides_option
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Leave out suggestions less sure than this.",
)
@click.pass_context
def redirects(
    ctx: click.Context, db: str, fmt: str, allow_home: bool, overrides: str, min_confidence: float
) -> None:
    """Print a redirect map for your web server.

    Each broken backlink target goes to its suggested live page, and each of our
    redirect chains is collapsed to one hop. Suggestions are recomputed first. The map is
    checked before it is printed: a target that redirects is replaced by where it ends (a "fixed:" line
    on stderr); a loop, a broken target, a home-page fallback or a missing target is left out (a
    "refused:" line). Exit 2 when something was refused.

    \b
    Example:
      linkrot redirects --format nginx > /etc/nginx/conf.d/linkrot-redirects.conf
      linkrot redirects --format csv --min-confidence 0.5 > redirects.csv
    """
    overrides = _overrides(ctx, overrides)
    with open_store(db) as store:
        refresh_suggestions(store, overrides)
        candidates = backlink_redirects(store.broken_backlinks())
        candidates += chain_redirects(store.internal_chains())
        checked = check(candidates, seen_urls(store), allow_home=allow_home, min_confidence=min_confidence)
    if fmt != "csv":  # a map keyed on the path cannot hold everything the CSV can
        checked.refused += path_rules(checked.redirects)[1]
    for line in [*checked.fixed, *checked.refused]:
        click.echo(line, err=True)
    click.echo(render(checked.redirects, fmt), nl=False)
    ctx.exit(PROBLEMS if checked.refused else OK)


@cli.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(list(RENDERERS)), default="text", show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Rows per list.")
@overrides_option
@click.pass_context
def report(ctx: click.Context, db: str, fmt: str, top: int, overrides: str) -> None:
    """Say what the crawls found, what to fix and where.

    The site: what was checked (HTML pages, URLs checked, redirects, errors, resources,
    external), broken links with every page that links to them, broken resources, links to
    redirecting URLs, the longest redirect chains and loops, soft 404s and orphans. The backlinks:
    verdicts and triage buckets, the most valuable broken backlinks with their suggested targets,
    KPIs and lost links by referring domain. Sections with nothing to say are left out; the next
    steps that apply come last. Suggestions are computed afresh but not stored. Exit 2 when there
    are broken backlinks, broken links or broken resources.

    \b
    Example:
      linkrot report
      linkrot report --format html --top 50 > report.html
      linkrot report --format json | jq .totals
    """
    overrides = _overrides(ctx, overrides)
    with open_store(db) as store:
        data = gather(store, top, _fresh_suggestions(store, overrides))
    click.echo(RENDERERS[fmt](data, db), nl=False)
    ctx.exit(PROBLEMS if not data["hint"] and has_problems(data) else OK)


def _fresh_suggestions(store: Store, overrides: str) -> dict[str, Any]:
    """This moment's suggestions, without storing them: a report only reads."""
    return {s.url: s for s in compute_suggestions(store, overrides)}


@cli.command()
@db_option
@overrides_option
@click.pass_context
def suggest(ctx: click.Context, db: str, overrides: str) -> None:
    """Recompute and print redirect suggestions.

    Stores the suggestion of every broken backlink target (the most related
    live page; your overrides first), then print them: url, suggested target, confidence, origin and
    reason. Exit 2 when a broken target has no usable suggestion (none, or only the home page).

    \b
    Example:
      linkrot suggest
      linkrot suggest --overrides my-redirects.csv
    """
    overrides = _overrides(ctx, overrides)
    with open_store(db) as store:
        refresh_suggestions(store, overrides)
        rows = store.broken_backlinks()
    if not rows:
        click.echo("No broken backlink target: nothing to redirect.")
        ctx.exit(OK)
    for r in rows:
        target = r["suggested_target"] or "(none)"
        home = " (home page)" if r["suggestion_is_home"] else ""
        click.echo(
            f"{r['url']} -> {target}{home}  {r['confidence']:.2f}  {r['suggestion_origin']}  "
            f"{r['suggestion_reason']}"
        )
    unusable = sum(1 for r in rows if not r["suggested_target"] or r["suggestion_is_home"])
    if unusable:
        click.echo(
            f"{unusable} of {len(rows)} broken targets have no usable suggestion: "
            f"add them to {overrides} (from_url,to_url[,note])",
            err=True,
        )
    ctx.exit(PROBLEMS if unusable else OK)


@cli.command()
@db_option
def disavow(db: str) -> None:
    """Print a Google disavow file.

    Every domain marked disavow (with `linkrot mark`), its comment
    as # lines above it. Upload it in Search Console's disavow links tool.

    \b
    Example:
      linkrot mark spam.example --as disavow --comment "paid links, 2024 audit"
      linkrot disavow > disavow.txt
    """
    with open_store(db) as store:
        marks = store.disavow_marks()
    click.echo(disavow_file(marks, date.today().isoformat()), nl=False)


def _domain(value: str) -> str:
    """The registrable domain of a domain name or URL (``https://www.spam.co.uk/x`` -> ``spam.co.uk``)."""
    url = normalize_url(value if "://" in value else f"http://{value}")
    host = hostname_of(url) if url else ""
    if not host or "." not in host.strip("[]") and ":" not in host:
        raise click.BadParameter(f"{value!r} is not a domain name or an http(s) URL", param_hint="DOMAIN")
    return registrable_domain(host)


@cli.command()
@db_option
@click.argument("domains", nargs=-1, required=True, metavar="DOMAIN...")
@click.option("--as", "mark", type=click.Choice(MARKS), help="disavow: goes into `linkrot disavow`.")
@click.option("--comment", help="Why (kept as # lines in the disavow file).")
@click.option("--remove", is_flag=True, help="Unmark the domains instead.")
def mark(db: str, domains: tuple[str, ...], mark: str | None, comment: str | None, remove: bool) -> None:
    """Mark referring domains as disavow, watch or ok.

    URLs are accepted and reduced to their registrable
    domain (www.spam.co.uk -> spam.co.uk). The only command that changes your data.

    \b
    Example:
      linkrot mark spam.example https://www.link-farm.test/page --as disavow --comment "link farm"
      linkrot mark --remove spam.example
    """
    if remove == bool(mark):
        raise click.UsageError("give either --as disavow|watch|ok or --remove")
    names = list(dict.fromkeys(_domain(d) for d in domains))
    with open_store(db) as store:
        for name in names:
            if remove:
                gone = store.unmark_domain(name)
                click.echo(f"unmarked {name}" if gone else f"{name} was not marked")
            else:
                store.mark_domain(name, mark or "", comment)
                click.echo(f"marked {name} as {mark}")


@cli.command()
@click.argument("paths", nargs=-1, metavar="[DB]...")
@click.option(
    "--db",
    "dbs",
    multiple=True,
    metavar="PATH",
    help=f"A linkrot SQLite database (repeatable; default {DEFAULT_DB}).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option("--open/--no-open", "open_browser", default=False, show_default=True, help="Open a browser.")
@click.option("--dry-run", is_flag=True, help="Print the Datasette command instead of running it.")
@click.option(
    "--metadata",
    "print_metadata",
    is_flag=True,
    help="Print Datasette metadata (YAML) for these databases instead, for a Datasette without linkrot.",
)
def explore(
    paths: tuple[str, ...],
    dbs: tuple[str, ...],
    host: str,
    port: int,
    open_browser: bool,
    dry_run: bool,
    print_metadata: bool,
) -> None:
    """Browse databases in Datasette, with the link-health dashboard.

    Read-only, with a 5 s limit per query. Whatever the files are
    called, each linkrot database gets its descriptions, canned queries
    and a dashboard at /-/dashboards/NAME (NAME: the file name without
    .db), from linkrot's Datasette plugin.

    \b
    Example:
      linkrot explore --open
      linkrot explore --db example.com.db --db shop.db --host 0.0.0.0 --port 8080
      linkrot explore example.com.db --metadata > meta.yml   # for a Datasette elsewhere
    """
    files = list(dict.fromkeys([*paths, *dbs])) or [DEFAULT_DB]
    for path in files:
        check_database(path, must_exist=True)
    if print_metadata:
        import yaml

        from .datasette_plugin import datasette_names, metadata_for

        click.echo(yaml.safe_dump(metadata_for(datasette_names(files)), sort_keys=False, allow_unicode=True))
        return
    # linkrot's plugin (the `datasette` entry point) applies the metadata to the names Datasette picks
    command = [sys.executable, "-m", "datasette", "serve", *files]
    command += ["--host", host, "--port", str(port), "--setting", "sql_time_limit_ms", "5000"]
    if open_browser:
        command.append("--open")
    if dry_run:
        click.echo(shlex.join(command))
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(sys.executable, command)  # Datasette takes over: Ctrl-C and the exit code are its own
    raise SystemExit(subprocess.call(command))


def _pairs(values: tuple[str, ...], option: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs.append((name, rest))
    return tuple(pairs)


@cli.command()
@click.option("--spider", type=click.Choice(["site", "backlinks"]), required=True)
@click.option(
    "--every",
    default="weekly",
    show_default=True,
    help="hourly, daily, weekly, monthly, or five cron fields.",
)
@click.option("--scrapyd", default="http://127.0.0.1:6800", show_default=True, help="Scrapyd's address.")
@click.option(
    "--project", default="linkrot", show_default=True, help="The project name given to scrapyd-deploy."
)
@click.option("-a", "args", multiple=True, metavar="NAME=VALUE", help="A spider argument (repeatable).")
@click.option("-s", "settings_", multiple=True, metavar="NAME=VALUE", help="A Scrapy setting (repeatable).")
@click.option("--systemd", is_flag=True, help="Print a systemd service and timer instead of a cron line.")
@click.option("--install", is_flag=True, help="Add the line to your crontab (replacing the one it had).")
def schedule(
    every: str,
    spider: str,
    scrapyd: str,
    project: str,
    args: tuple[str, ...],
    settings_: tuple[str, ...],
    systemd: bool,
    install: bool,
) -> None:
    """Print (or install) a cron line that runs a spider on Scrapyd.

    Scrapyd has no scheduler: cron calls its schedule.json. Runs never
    overlap: a job that starts while the previous one still writes the
    same database stops at once (linkrot.lock).

    \b
    Example:
      linkrot schedule --spider backlinks --every weekly -s LINKROT_DB=/var/lib/linkrot/linkrot.db
      linkrot schedule --spider site --every daily -a url=https://www.example.com/ --install
      linkrot schedule --spider backlinks --every weekly --systemd
    """
    from .schedule import Job, cron_line, systemd_units
    from .schedule import install as installed

    job = Job(spider, every, scrapyd, project, _pairs(args, "-a"), _pairs(settings_, "-s"))
    try:
        if systemd:
            for name, text in systemd_units(job).items():
                click.echo(f"# {name}\n{text}")
            click.echo(
                "# then: systemctl daemon-reload && systemctl enable --now " + f"linkrot-{spider}.timer"
            )
            return
        line = cron_line(job)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from exc
    if not install:
        click.echo(line)
        return
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    table = current.stdout if current.returncode == 0 else ""
    done = subprocess.run(
        ["crontab", "-"], input=installed(table, job), text=True, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise click.ClickException(f"crontab refused the line: {done.stderr.strip() or done.returncode}")
    click.echo(f"installed: {line}")


def main() -> Any:
    return cli(prog_name="linkrot")
