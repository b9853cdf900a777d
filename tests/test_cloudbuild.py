"""The two Cloud Build configs work on the first `gcloud builds submit`, by hand or from a trigger.

No Cloud Build here: the test applies Cloud Build's substitution rules itself ($$ is a literal $,
$_X and ${_X} are substitutions, a default may name a built-in), with the values a manual build
has, and runs the deploy step's script with a stub `gcloud` that records its arguments.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "cloudbuild-test.yaml", ROOT / "cloudbuild-deploy.yaml"]
# What Cloud Build sets for every build, a manual `gcloud builds submit` included.
MANUAL = {"PROJECT_ID": "my-project", "BUILD_ID": "0e4c-build-id", "PROJECT_NUMBER": "1234", "LOCATION": "asia-south1"}
# Set only for builds a trigger starts: empty on a manual build.
TRIGGER_ONLY = {
    "TRIGGER_NAME", "COMMIT_SHA", "REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME",
    "TAG_NAME", "REF_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
    "_HEAD_BRANCH", "_BASE_BRANCH", "_HEAD_REPO_URL", "_PR_NUMBER",
}
# $$ (a literal $), ${NAME}, $NAME, or a $ that is none of these (bash's own, left unescaped).
DOLLAR = re.compile(r"\$\$|\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$")
DEPLOY_VALUES = {
    "_IMAGE": "asia-south1-docker.pkg.dev/my-project/bridge/fyers-alert-bridge@sha256:" + "a" * 64,
    "_FYERS_APP_ID": "XY1234ABCD-100",
    "_SERVICE_URL": "https://fyers-alert-bridge-xyz-el.a.run.app",
}


def load(path: pathlib.Path) -> dict:
    return yaml.safe_load(path.read_text())


def strings(node) -> list[str]:
    """Every string value in the config (steps, images, accounts, substitution defaults)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def references(text: str) -> list[str]:
    """The substitutions a string uses; "$" stands for a $ that Cloud Build would choke on."""
    found = []
    for match in DOLLAR.finditer(text):
        if match.group(0) != "$$":
            found.append(match.group(1) or match.group(2) or "$")
    return found


def substitute(text: str, values: dict[str, str]) -> str:
    """Cloud Build's substitution: a name with no value becomes empty, as a missing built-in does."""
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        assert name, f"unescaped $ in {text!r}"
        return values.get(name, "")
    return DOLLAR.sub(one, text)


def values_for(config: dict, given: dict[str, str] | None = None) -> dict[str, str]:
    """A manual build's values: the built-ins, the defaults (built-ins substituted in), then `given`."""
    values = dict(MANUAL)
    for key, default in config.get("substitutions", {}).items():
        values[key] = substitute(str(default), MANUAL)
    values.update(given or {})
    return values


def used_through_defaults(config: dict, text: str) -> set[str]:
    """The names a string uses, and the names the defaults of those use in turn."""
    defaults = config.get("substitutions", {})
    seen, todo = set(), references(text)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(references(str(defaults.get(name, ""))))
    return seen


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_it_parses_as_a_build_with_steps(path):
    config = load(path)
    assert isinstance(config, dict) and config["steps"], path.name
    assert config["options"]["dynamicSubstitutions"] is True  # the defaults name built-ins


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_substitution_used_is_defined_or_set_for_a_manual_build(path):
    config = load(path)
    defined = set(config["substitutions"])
    for text in strings(config):
        for name in references(text):
            assert name != "$", f"{path.name}: a $ that is no substitution (bash's own needs $$): {text!r}"
            if name.startswith("_"):
                assert name in defined, f"{path.name}: ${name} is not in substitutions"
            else:
                assert name in MANUAL, f"{path.name}: ${name} is set only by triggers (empty on a manual build)"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_defined_substitution_is_used(path):
    config = load(path)
    used = {name for text in strings(config) for name in references(text)}
    assert set(config["substitutions"]) <= used, f"{path.name}: unused {set(config['substitutions']) - used}"


def image_names(config: dict) -> list[str]:
    """The images the build tags (docker build -t), pushes (docker push) and records (images:)."""
    names = list(config.get("images", []))
    for step in config["steps"]:
        args = [str(arg) for arg in step.get("args", [])]
        if args[:1] == ["build"]:
            names += [args[i + 1] for i, arg in enumerate(args) if arg == "-t"]
        if args[:1] == ["push"]:
            names += args[1:]
    return names


def test_every_image_tag_is_set_on_a_manual_build_without_trigger_variables():
    config = load(ROOT / "cloudbuild-test.yaml")
    names = image_names(config)
    assert len(names) >= 3, "the build tags, pushes and records its image"
    values = values_for(config)
    resolved = set()
    for name in names:
        trigger = used_through_defaults(config, name) & TRIGGER_ONLY
        assert not trigger, f"{name} uses {trigger}, empty on a manual build"
        image = substitute(name, values)
        repository, _, tag = image.rpartition(":")
        assert "/" in repository and "/" not in tag and tag, f"{name} resolves to {image!r}: no tag"
        resolved.add(image)
    assert resolved == {f"asia-south1-docker.pkg.dev/my-project/bridge/fyers-alert-bridge:{MANUAL['BUILD_ID']}"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_the_timeout_is_set_above_the_default(path):
    timeout = str(load(path).get("timeout", ""))
    assert re.fullmatch(r"\d+s", timeout), f"{path.name}: no timeout (Cloud Build's default is 600s)"
    assert int(timeout[:-1]) >= 1200, f"{path.name}: {timeout}"


def deploy(tmp_path: pathlib.Path, **given: str) -> subprocess.CompletedProcess:
    """Run the deploy step's script as Cloud Build would, with a `gcloud` that records its arguments."""
    config = load(ROOT / "cloudbuild-deploy.yaml")
    step = next(step for step in config["steps"] if step["id"] == "deploy")
    assert step["entrypoint"] == "bash" and step["args"][0] == "-c"
    script = substitute(step["args"][1], values_for(config, {**DEPLOY_VALUES, **given}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "gcloud"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$GCLOUD_ARGS"\n')
    stub.chmod(0o755)
    environ = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "GCLOUD_ARGS": str(tmp_path / "args")}
    return subprocess.run(["bash", "-c", script], env=environ, capture_output=True, text=True, timeout=30)


def gcloud_args(tmp_path: pathlib.Path) -> list[str]:
    return (tmp_path / "args").read_text().splitlines()


def flag(args: list[str], name: str) -> dict[str, str]:
    """A KEY=VALUE,... flag as a dict; the flag must be given exactly once."""
    given = [arg.split("=", 1)[1] for arg in args if arg.startswith(f"--{name}=")]
    assert len(given) == 1, f"--{name} given {len(given)} times"
    return dict(pair.split("=", 1) for pair in given[0].split(","))


def test_the_deploy_without_a_telegram_chat_id_adds_no_telegram(tmp_path):
    result = deploy(tmp_path, _TELEGRAM_CHAT_ID="")
    assert result.returncode == 0, result.stderr
    args = gcloud_args(tmp_path)
    assert args[:3] == ["run", "deploy", "fyers-alert-bridge"]
    assert f"--image={DEPLOY_VALUES['_IMAGE']}" in args
    env, secrets = flag(args, "update-env-vars"), flag(args, "update-secrets")
    assert not [name for name in {**env, **secrets} if name.startswith("TELEGRAM")]
    # A redeploy keeps the trader's own variables: nothing replaces the whole set.
    assert not [arg for arg in args if arg.startswith(("--set-env-vars", "--set-secrets", "--clear-"))]
    assert env["NOTIFICATION_TOPIC"] == "projects/my-project/topics/fyers-bridge-alerts"
    assert env["GCS_BUCKET_NAME"] == "my-project-fyers-bridge"
    assert env["FYERS_REDIRECT_URI"] == DEPLOY_VALUES["_SERVICE_URL"] + "/auth/callback"
    assert env["SCHEDULER_AUDIENCE"] == DEPLOY_VALUES["_SERVICE_URL"]
    # No _BROKER: the service keeps the broker it runs (a redeploy never turns paper into live).
    assert "BROKER" not in env and env["FYERS_APP_ID"] == "XY1234ABCD-100"
    assert secrets["TOKEN_ENCRYPTION_KEY"] == "token-encryption-key:1"
    assert set(secrets) == {"WEBHOOK_SECRET_TOKEN", "ADMIN_TOKEN", "FYERS_SECRET_ID", "FYERS_PIN",
                            "TOKEN_ENCRYPTION_KEY"}


def test_the_deploy_with_a_telegram_chat_id_adds_both_halves(tmp_path):
    result = deploy(tmp_path, _TELEGRAM_CHAT_ID="987654321", _BROKER="fyers-paper")
    assert result.returncode == 0, result.stderr
    args = gcloud_args(tmp_path)
    env, secrets = flag(args, "update-env-vars"), flag(args, "update-secrets")
    assert env["TELEGRAM_CHAT_ID"] == "987654321"
    assert secrets["TELEGRAM_BOT_TOKEN"] == "telegram-bot-token:latest"
    assert env["BROKER"] == "fyers-paper"


def test_the_deploy_keeps_the_rate_budget_settings(tmp_path):
    assert deploy(tmp_path).returncode == 0
    args = gcloud_args(tmp_path)
    for setting in ("--min-instances=1", "--max-instances=1", "--concurrency=40", "--timeout=30",
                    "--vpc-egress=all-traffic", "--network=bridge-vpc", "--subnet=bridge-subnet", "--cpu-boost",
                    "--startup-probe=httpGet.path=/readyz/startup,initialDelaySeconds=0,periodSeconds=2,"
                    "failureThreshold=30,timeoutSeconds=2"):
        assert setting in args, setting
    assert flag(args, "update-env-vars")["FYERS_INSTANCES"] == "1"  # equals --max-instances


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"_SERVICE_URL": ""}, "https://placeholder on the first deploy"),
        ({"_SERVICE_URL": "https://fyers-alert-bridge-xyz-el.a.run.app/"}, "must not end with /"),
        ({"_SERVICE_URL": "fyers-alert-bridge-xyz-el.a.run.app"}, "must start with https://"),
        ({"_FYERS_APP_ID": ""}, "_FYERS_APP_ID is empty"),
        ({"_BROKER": "paper"}, "_BROKER must be fyers, fyers-paper or empty"),
    ],
)
def test_the_deploy_refuses_settings_that_would_not_start(tmp_path, given, says):
    result = deploy(tmp_path, **given)
    assert result.returncode != 0 and says in result.stderr, result.stderr
    assert not (tmp_path / "args").exists()  # gcloud never ran


def documented_substitutions(config_name: str) -> list[set[str]]:
    """The substitution keys each `gcloud builds submit` of deploy.md passes to that config."""
    text = (ROOT / "docs" / "deploy.md").read_text().replace("\\\n", " ")
    assigned = dict(re.findall(r"^([A-Z_]+)=(\S+)$", text, re.MULTILINE))
    passed = []
    for line in text.splitlines():
        if "builds submit" in line and f"--config={config_name}" in line.replace("--config ", "--config="):
            match = re.search(r"--substitutions[= ](\S+)", line)
            if match:
                value = re.sub(r"\$([A-Z_]+)", lambda m: assigned.get(m.group(1), m.group(0)), match.group(1))
                passed.append({pair.split("=", 1)[0] for pair in value.split(",")})
    return passed


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_substitution_deploy_md_passes_is_defined(path):
    # Cloud Build refuses a build given a substitution its config does not use.
    defined = set(load(path)["substitutions"])
    for keys in documented_substitutions(path.name):
        assert keys <= defined, f"docs/deploy.md passes {keys - defined} to {path.name}"
