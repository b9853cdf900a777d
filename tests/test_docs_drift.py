"""The numbers and names the docs state come from the code and the deploy files: a drift fails here.

Each checker takes the docs' text (and what the code says) and returns its complaints, so a test can
plant a drift in a copy of the text and see the checker complain.
"""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest

from app.asgi import APP_THREADS
from app.services.login_state import LOGIN_TTL_SECONDS
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DEPLOY_FILES = ("cloudbuild-deploy.yaml", "cloudbuild-test.yaml")
# benchmarks.md keeps historical tables (the old gthread server's 16 and 32 threads among them).
HISTORICAL = {"benchmarks.md"}
# Environment variables the docs may name that are not settings: set by a platform or read by a tool.
NOT_SETTINGS = {
    "NO_GCE_CHECK",  # google-auth: skip the metadata server probe (tests, local runs)
    "STORAGE_EMULATOR_HOST",  # google-cloud-storage: the fake GCS server
    "GOOGLE_APPLICATION_CREDENTIALS",  # Google's client libraries
    "PYTHONPATH",
    "IN_USE",  # what gcloud prints for a reserved address in use, not a variable
}
# Shell variables cloudbuild-deploy.yaml may assign while building its flags.
DEPLOY_SHELL_NAMES = {"ENV_VARS", "SECRETS", "FLAGS", "ARGS", "TELEGRAM"}


def doc_texts(include_historical: bool = False) -> dict[str, str]:
    """Every doc and the README, by name."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}
    if not include_historical:
        texts = {name: text for name, text in texts.items() if name not in HISTORICAL}
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    return texts


def flat(text: str) -> str:
    """Sentences wrap anywhere: one space for every run of whitespace."""
    return " ".join(text.split())


# (a) threads


def check_threads(texts: dict[str, str], threads: int) -> list[str]:
    """Every "N threads" the docs state is the shipped server's pool."""
    return [
        f"{name}: {match.group(0)!r}, the server runs {threads}"
        for name, text in texts.items()
        for match in re.finditer(r"\b(\d+) threads\b", flat(text))
        if int(match.group(1)) != threads
    ]


# (b) the login link's lifetime

_DURATION = re.compile(r"\b(\d+)[ -](minute|hour)s?\b")
_LOGIN_WORDS = re.compile(r"login link|single[ -]use|login state|login cookie|`/auth/start", re.I)


def check_login_lifetime(texts: dict[str, str], ttl_seconds: int) -> list[str]:
    """A sentence about the login link or state that states a lifetime states LOGIN_TTL_SECONDS."""
    problems = []
    for name, text in texts.items():
        for sentence in re.split(r"(?<=[.!?])\s+|\n\|", flat(text)):
            if not _LOGIN_WORDS.search(sentence):
                continue
            for amount, unit in _DURATION.findall(sentence):
                seconds = int(amount) * (60 if unit == "minute" else 3600)
                if seconds != ttl_seconds:
                    problems.append(f"{name}: {amount} {unit}s in {sentence[:120]!r}")
    return problems


# (c) Scheduler jobs


def job_endpoints() -> set[str]:
    """The routes Cloud Scheduler's OIDC token opens: those under @require_admin_or_scheduler."""
    pattern = re.compile(r'@bp\.(?:post|get|route)\("([^"]+)"[^\n]*\)\n@require_admin_or_scheduler\n')
    found = set()
    for module in (ROOT / "app" / "web").glob("*.py"):
        found.update(pattern.findall(module.read_text(encoding="utf-8")))
    return found


def created_jobs(deploy_md: str) -> dict[str, tuple[str, str]]:
    """deploy.md's `gcloud scheduler jobs create http NAME`: name -> (schedule, path)."""
    jobs = {}
    for chunk in deploy_md.split("gcloud scheduler jobs create http ")[1:]:
        command = chunk.split("\n\n")[0].split("\ngcloud ")[0]
        name = command.split()[0]
        schedule = re.search(r'--schedule="([^"]+)"', command)
        uri = re.search(r'--uri="\$URL(/[^"]*)"', command)
        jobs[name] = (schedule.group(1) if schedule else "", uri.group(1) if uri else "")
    return jobs


def fixed_times(schedule: str) -> set[str]:
    """The HH:MM a cron schedule fires at, when its minute and hour are plain lists (else none)."""
    minute, hour = (schedule.split() + ["", ""])[:2]
    if not re.fullmatch(r"[\d,]+", minute) or not re.fullmatch(r"[\d,]+", hour):
        return set()
    return {f"{int(h):02d}:{int(m):02d}" for h in hour.split(",") for m in minute.split(",")}


def created_resources(deploy_md: str) -> set[str]:
    """Every other bridge-... name deploy.md creates (network, address, accounts, repository)."""
    return set(re.findall(r"\bcreate (bridge(?:-[a-z]+)*)\b", deploy_md))


def check_scheduler_jobs(deploy_md: str, endpoints: set[str]) -> list[str]:
    """Each job deploy.md creates calls a job endpoint, on weekdays; each job endpoint has a job."""
    jobs = created_jobs(deploy_md)
    problems = [f"no Scheduler job calls {path}" for path in sorted(endpoints - {p for _, p in jobs.values()})]
    for name, (schedule, path) in jobs.items():
        if path not in endpoints:
            problems.append(f"{name} calls {path or '?'}, which the Scheduler's token does not open")
        if not schedule.endswith("* * 1-5"):
            problems.append(f"{name}: schedule {schedule!r} is not weekdays")
    return problems


_JOB_NAME = re.compile(r"(?<![\w-])bridge-[a-z][a-z-]*[a-z]")
_JOB_AT = re.compile(r"(?<![\w-])(bridge-[a-z][a-z-]*[a-z])`? at (\d\d:\d\d)")
_TIME_OF_JOB = re.compile(
    r"(\d\d:\d\d)(?: IST)?(?: Cloud)?(?: Scheduler)? (?:job|retry|run)\b|"
    r"(?:Scheduler|job)(?: job)?,? (?:at|from) (\d\d:\d\d)"
)


def check_job_mentions(texts: dict[str, str], deploy_md: str) -> list[str]:
    """Every bridge-... name the docs give is created in deploy.md, and every job's time is its schedule's."""
    jobs = created_jobs(deploy_md)
    known = set(jobs) | created_resources(deploy_md)
    times = {name: fixed_times(schedule) for name, (schedule, _) in jobs.items()}
    all_times = set().union(*times.values()) if times else set()
    problems = []
    for name, text in texts.items():
        words = flat(text)
        unknown = [job for job in _JOB_NAME.findall(words) if job not in known]
        problems += [f"{name}: {job} is not created in deploy.md" for job in unknown]
        for job, at in _JOB_AT.findall(words):
            if job in times and times[job] and at not in times[job]:
                problems.append(f"{name}: {job} at {at}, but it runs at {sorted(times[job])}")
        for match in _TIME_OF_JOB.finditer(words):
            at = match.group(1) or match.group(2)
            if at not in all_times:
                problems.append(f"{name}: a job at {at} that deploy.md does not schedule ({match.group(0)!r})")
    return problems


def check_listed_endpoints(configuration_md: str, endpoints: set[str]) -> list[str]:
    """configuration.md's list of the job endpoints is the code's."""
    match = re.search(r"the job endpoints (.*?) also accept", flat(configuration_md))
    if not match:
        return ["configuration.md lists no job endpoints"]
    listed = set(re.findall(r"`(/[a-z-]+)`", match.group(1)))
    if listed != endpoints:
        return [f"configuration.md lists {sorted(listed)}, the code opens {sorted(endpoints)}"]
    return []


# (d) environment variable names

_BACKTICKED = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`")
_ASSIGNED = re.compile(r"--(?:update|set)-env-vars[= ]([A-Z][A-Z0-9_]*)=")


def code_names() -> set[str]:
    """Names the code defines as constants or uses as quoted values (not settings, but real)."""
    names = set()
    for path in list((ROOT / "app").rglob("*.py")) + list((ROOT / "tests").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*(?::[^=\n]+)?=", text, re.M))
        names.update(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", text))
    return names


def shell_variables(text: str) -> set[str]:
    """The variables a doc's shell blocks assign on a line of their own (`URL=$(...)`, `export REGION=...`)."""
    blocks = "\n".join(re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S))
    return set(re.findall(r"^(?:export )?([A-Z][A-Z0-9_]*)=(?:\S*|\$\(.*)$", blocks, re.M))


def check_variable_names(texts: dict[str, str], settings: set[str], known: set[str]) -> list[str]:
    """A `NAME_LIKE_THIS` in the docs is a setting, a name the code defines, or a known outside variable."""
    problems = []
    for name, text in texts.items():
        mentioned = set(_BACKTICKED.findall(text)) | set(_ASSIGNED.findall(text))
        for variable in mentioned - shell_variables(text):
            if variable not in settings and variable not in known and variable not in NOT_SETTINGS:
                problems.append(f"{name}: `{variable}` is no setting")
    return problems


def check_substitutions(texts: dict[str, str], deploy_files: dict[str, str]) -> list[str]:
    """Every `_SUBSTITUTION` the docs pass to a build is one the build files define."""
    defined = set()
    for text in deploy_files.values():
        defined.update(re.findall(r"^  (_[A-Z][A-Z0-9_]*):", text, re.M))
    problems = []
    for name, text in texts.items():
        for used in set(re.findall(r"(?<![\w$])(_[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)=", text)):
            if used not in defined:
                problems.append(f"{name}: substitution {used} is defined in no build file")
    return problems


def deploy_variables(deploy_yaml: str) -> set[str]:
    """The environment variables and secrets cloudbuild-deploy.yaml gives the service."""
    names = set()
    for line in deploy_yaml.splitlines():
        if line.lstrip().startswith("#"):
            continue
        names.update(re.findall(r"(?<![\w$.{-])([A-Z][A-Z0-9_]{2,})=", line))
    return names - DEPLOY_SHELL_NAMES


# (e) defaults


def plain(value: object) -> str | None:
    """A default as the docs write it, or None when it has no one plain form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return None


def settings_defaults() -> dict[str, object]:
    """Each variable's embedded default."""
    defaults = Settings()
    return {f.metadata["variable"]: getattr(defaults, f.name) for f in fields(Settings) if "variable" in f.metadata}


def check_readme_defaults(readme: str, defaults: dict[str, object]) -> list[str]:
    """The README table's default cell, where it is one plain value per variable, is the code's."""
    problems = []
    for row in re.findall(r"^\| (`[A-Z].*?) \| (.*?) \| .*\|$", readme, re.M):
        variables = re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])
        values = [v.strip() for v in row[1].split(",")]
        if not values or len(values) != len(variables) or not all(re.fullmatch(r"`[^`]+`", v) for v in values):
            continue  # words, not a value per variable
        for variable, value in zip(variables, values):
            expected = plain(defaults.get(variable))
            if value.strip("`") != expected:
                problems.append(f"README: {variable} default {value}, the code's is {expected!r}")
    return problems


_STATED_DEFAULT = re.compile(r"`([A-Z][A-Z0-9_]+)`(?: [a-z]+)? \((?:[^()]*?[;,] )?default \**`?([^`*;,)\s]+)")


def check_stated_defaults(texts: dict[str, str], defaults: dict[str, object]) -> list[str]:
    """Every "`VAR` (... default X" in the docs states the code's default."""
    problems = []
    for name, text in texts.items():
        for variable, value in _STATED_DEFAULT.findall(flat(text)):
            if variable in defaults and value != plain(defaults[variable]):
                problems.append(f"{name}: {variable} default {value}, the code's is {plain(defaults[variable])!r}")
    return problems


# The tests on the real docs.


@pytest.fixture(scope="module")
def texts():
    return doc_texts()


def test_every_server_thread_count_in_the_docs_is_app_threads(texts):
    assert APP_THREADS == 64
    assert any(f"{APP_THREADS} threads" in flat(t) for t in texts.values())
    assert check_threads(texts, APP_THREADS) == []


def test_every_login_link_lifetime_in_the_docs_is_login_ttl(texts):
    assert any("15 minutes" in t for t in texts.values()) and LOGIN_TTL_SECONDS == 15 * 60
    assert check_login_lifetime(texts, LOGIN_TTL_SECONDS) == []


def test_deploy_md_creates_a_job_for_every_job_endpoint_and_no_other():
    endpoints = job_endpoints()
    assert {"/refresh-token", "/process-queue", "/sync", "/square-off"} <= endpoints
    deploy_md = (DOCS / "deploy.md").read_text(encoding="utf-8")
    assert check_scheduler_jobs(deploy_md, endpoints) == []
    assert fixed_times(created_jobs(deploy_md)["bridge-process-queue"][0]) == {"09:15", "09:20"}


def test_every_job_the_docs_mention_is_created_in_deploy_md_at_the_time_stated(texts):
    deploy_md = (DOCS / "deploy.md").read_text(encoding="utf-8")
    assert check_job_mentions(texts, deploy_md) == []
    assert check_listed_endpoints(texts["configuration.md"], job_endpoints()) == []


def test_every_variable_the_docs_name_is_a_setting(texts):
    assert check_variable_names(texts, set(Settings.variables()), code_names()) == []


def test_every_substitution_the_docs_pass_is_defined(texts):
    files = {name: (ROOT / name).read_text(encoding="utf-8") for name in DEPLOY_FILES}
    assert check_substitutions(texts, files) == []


def test_every_variable_the_deploy_sets_is_a_setting():
    names = deploy_variables((ROOT / "cloudbuild-deploy.yaml").read_text(encoding="utf-8"))
    assert {"BROKER", "GCS_BUCKET_NAME", "SCHEDULER_AUDIENCE"} <= names
    assert sorted(names - set(Settings.variables())) == []


def test_the_defaults_the_docs_state_are_the_code_s(texts):
    defaults = settings_defaults()
    assert check_readme_defaults(texts["README.md"], defaults) == []
    assert check_stated_defaults(texts, defaults) == []


# Each checker complains about a drift planted in a copy of the real text.


def _plant(doc: str, old: str, new: str) -> dict[str, str]:
    """The docs with one replacement in `doc` (which must contain `old`)."""
    planted = doc_texts()
    assert old in planted[doc], (doc, old)
    planted[doc] = planted[doc].replace(old, new, 1)
    return planted


def _deploy_md(old: str, new: str) -> str:
    text = (DOCS / "deploy.md").read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


PLANTED = {
    "threads": lambda: check_threads(
        _plant("deploy-reference.md", "pool of 64 threads", "pool of 32 threads"), APP_THREADS
    ),
    "login lifetime": lambda: check_login_lifetime(
        _plant("fyers.md", "single use, valid 15 minutes", "single use, valid 4 hours"), LOGIN_TTL_SECONDS
    ),
    "job without an endpoint": lambda: check_scheduler_jobs(
        _deploy_md('--uri="$URL/day-summary"', '--uri="$URL/summary"'), job_endpoints()
    ),
    "endpoint without a job": lambda: check_scheduler_jobs(
        _deploy_md("jobs create http bridge-square-off", "jobs describe bridge-square-off"),
        job_endpoints(),
    ),
    "09:20 never scheduled": lambda: check_job_mentions(
        doc_texts(), _deploy_md('--schedule="15,20 9 * * 1-5"', '--schedule="15 9 * * 1-5"')
    ),
    "job named but not created": lambda: check_job_mentions(
        _plant("operations.md", "the Scheduler job `bridge-square-off`", "the Scheduler job `bridge-close-all`"),
        (DOCS / "deploy.md").read_text(encoding="utf-8"),
    ),
    "job at another time": lambda: check_job_mentions(
        _plant("deploy.md", "`bridge-day-summary` at 15:45", "`bridge-day-summary` at 15:50"),
        (DOCS / "deploy.md").read_text(encoding="utf-8"),
    ),
    "endpoint list": lambda: check_listed_endpoints(
        _plant("configuration.md", "`/day-summary` and ", "")["configuration.md"], job_endpoints()
    ),
    "variable name": lambda: check_variable_names(
        _plant("operations.md", "`TELEGRAM_CHAT_ID`", "`TELEGRAM_CHANNEL_ID`"), set(Settings.variables()), code_names()
    ),
    "substitution": lambda: check_substitutions(
        _plant("deploy.md", "_FYERS_APP_ID=XY", "_FYERS_APPID=XY"),
        {name: (ROOT / name).read_text(encoding="utf-8") for name in DEPLOY_FILES},
    ),
    "deploy variable": lambda: sorted(
        deploy_variables("      - --update-env-vars=BROKER=fyers,FYERS_APP_IDS=x\n") - set(Settings.variables())
    ),
    "README default": lambda: check_readme_defaults(
        _plant("README.md", "| `WEBHOOK_MAX_QTY` | `1` |", "| `WEBHOOK_MAX_QTY` | `2` |")["README.md"],
        settings_defaults(),
    ),
    "stated default": lambda: check_stated_defaults(
        _plant("configuration.md", "`CONSOLE_REMEMBER_DAYS` (default 30", "`CONSOLE_REMEMBER_DAYS` (default 14"),
        settings_defaults(),
    ),
}


@pytest.mark.parametrize("drift", sorted(PLANTED))
def test_each_checker_complains_about_a_planted_drift(drift):
    assert PLANTED[drift]() != [], f"the {drift} check missed a planted drift"


# Links and section names: a moved heading leaves no link or "docs/x.md, "Section"" pointing nowhere.


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    """The headings of a markdown text, outside code blocks."""
    outside = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    return [h.strip() for h in re.findall(r"^#{1,6} (.+)$", outside, re.M)]


def check_links(texts: dict[str, str], docs: dict[str, str]) -> list[str]:
    """Every [..](x.md#anchor) in the docs and the README leads to a heading of x.md."""
    anchors = {name: {slug(h) for h in headings(text)} for name, text in docs.items()}
    problems = []
    for name, text in texts.items():
        for target, anchor in re.findall(r"\]\((?:docs/)?([a-z-]*\.md|)#([^)\s]+)\)", text):
            target = target or name
            if target not in anchors:
                problems.append(f"{name}: link to {target}, which does not exist")
            elif anchor not in anchors[target]:
                problems.append(f"{name}: link to {target}#{anchor}, which has no such heading")
    return problems


def check_section_names(sources: dict[str, str], docs: dict[str, str]) -> list[str]:
    """Every `docs/x.md, "Section"` in the code, the deploy files or the docs names a heading of x.md."""
    titles = {name: [h.replace("`", "").lower() for h in headings(text)] for name, text in docs.items()}
    problems = []
    for name, text in sources.items():
        joined = re.sub(r"\n\s*#\s*", " ", text)  # a comment's quote may wrap onto the next comment line
        for target, quoted in re.findall(r"docs/([a-z-]+\.md), \"([^\"]+)\"", joined):
            section = " ".join(quoted.split())  # a quote may wrap in the docs too
            if target not in titles:
                problems.append(f"{name}: docs/{target} does not exist")
            elif not any(title.startswith(section.lower()) for title in titles[target]):
                problems.append(f'{name}: docs/{target} has no section "{section}"')
    return problems


def source_texts() -> dict[str, str]:
    """The code, the deploy files and the docs: where a section of the docs may be named."""
    paths = [*(ROOT / "app").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "docs").glob("*.md")]
    paths += [ROOT / name for name in (*DEPLOY_FILES, "Dockerfile", "docker-compose.yml", "Makefile", "README.md")]
    mine = Path(__file__).resolve()  # its planted examples name sections that do not exist
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths if p.is_file() and p != mine}


def test_every_link_between_the_docs_leads_to_a_heading():
    docs = doc_texts(include_historical=True)
    assert check_links(docs, docs) == []


def test_every_section_the_code_names_exists():
    assert check_section_names(source_texts(), doc_texts(include_historical=True)) == []


def test_the_link_checks_complain_about_a_moved_heading():
    docs = doc_texts(include_historical=True)
    moved = {**docs, "deploy.md": docs["deploy.md"].replace("## 5. Cloud Scheduler jobs", "## 5. Jobs")}
    assert check_links(moved, moved) != []
    named = {"cloudbuild-deploy.yaml": '# see docs/deploy.md, "Nothing by this name"\n'}
    assert check_section_names(named, docs) != []
