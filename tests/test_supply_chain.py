"""Supply chain: images pinned by digest, tests built apart from the deploy, each under its own account.

Read from the files themselves (no Docker engine or Cloud Build here): the Dockerfile, the two
Cloud Build configs, the requirements and the installed Fyers SDK's own metadata.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
TEST_BUILD = ROOT / "cloudbuild-test.yaml"
DEPLOY_BUILD = ROOT / "cloudbuild-deploy.yaml"


def build(path: pathlib.Path) -> dict:
    return yaml.safe_load(path.read_text())


def step_text(step: dict) -> str:
    """Everything a step runs: its image, entrypoint and arguments, as one string."""
    return " ".join([step["name"], step.get("entrypoint", ""), *map(str, step.get("args", []))])


def dockerfile_images() -> list[str]:
    """The image of each FROM line, leaving out FROMs of an earlier stage (`FROM base AS app`)."""
    stages, images = set(), []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            if match.group(1) not in stages:
                images.append(match.group(1))
            if match.group(2):
                stages.add(match.group(2))
    return images


def test_every_base_image_is_pinned_by_digest_and_keeps_its_tag():
    images = dockerfile_images()
    assert images, "the Dockerfile has a FROM"
    for image in images:
        assert DIGEST.search(image), f"FROM {image} is not pinned by digest"
        assert ":" in image.split("@")[0], f"FROM {image}: keep the tag too, for people to read"


@pytest.mark.parametrize("config", [TEST_BUILD, DEPLOY_BUILD], ids=lambda p: p.name)
def test_every_cloud_build_step_image_is_pinned_by_digest(config):
    for step in build(config)["steps"]:
        assert DIGEST.search(step["name"]), f"{config.name}: step {step.get('id')} runs {step['name']} unpinned"


def test_the_old_single_build_that_tested_and_deployed_is_gone():
    assert not (ROOT / "cloudbuild.yaml").exists()


def test_the_test_build_never_deploys():
    config = build(TEST_BUILD)
    everything = " ".join(step_text(step) for step in config["steps"])
    assert "make lint test" in everything
    for deploying in ("gcloud", "run deploy", "run services", "set-iam-policy", "cloud-sdk", "kubectl"):
        assert deploying not in everything, f"the test build runs {deploying!r}"


def test_the_deploy_build_runs_no_tests_and_builds_nothing():
    config = build(DEPLOY_BUILD)
    everything = " ".join(step_text(step) for step in config["steps"])
    assert "run deploy" in everything
    for testing in ("pytest", "make", "pip install", "cloud-builders/docker", "docker build", "python:"):
        assert testing not in everything, f"the deploy build runs {testing!r}"
    assert "images" not in config  # it pushes nothing either


def test_the_deploy_takes_an_image_by_digest_from_our_repository_only():
    config = build(DEPLOY_BUILD)
    deploy = next(step for step in config["steps"] if step.get("id") == "deploy")
    assert "run deploy" in step_text(deploy) and "--image=${_IMAGE}" in step_text(deploy)
    assert "--image=" not in step_text(config["steps"][0])  # the check deploys nothing
    check = config["steps"][0]
    assert check["id"] == "check-image" and "@sha256:*" in step_text(check)
    assert "${_REPOSITORY}/${_SERVICE}@sha256:" in step_text(check)


def test_each_build_runs_under_its_own_service_account():
    accounts = {}
    for config_path in (TEST_BUILD, DEPLOY_BUILD):
        config = build(config_path)
        account = config["serviceAccount"]
        # Substitutions name the account; resolve the one placeholder to compare them.
        for key, value in config["substitutions"].items():
            account = account.replace("${%s}" % key, str(value))
        assert "cloudbuild.gserviceaccount.com" not in account  # not the legacy, broad default
        assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"  # required with a chosen account
        accounts[config_path.name] = account
    assert accounts["cloudbuild-test.yaml"] != accounts["cloudbuild-deploy.yaml"]
    assert "bridge-build@" in accounts["cloudbuild-test.yaml"]
    assert "bridge-deploy@" in accounts["cloudbuild-deploy.yaml"]


def test_the_deploy_doc_gives_the_build_account_no_deploy_role():
    text = (ROOT / "docs" / "deploy.md").read_text()
    build_row = next(line for line in text.splitlines() if line.startswith("| lint, test, build, push"))
    deploy_row = next(line for line in text.splitlines() if line.startswith("| deploy a pushed digest"))
    assert "roles/run." not in build_row and "serviceAccountUser" not in build_row
    assert "roles/run.developer" in deploy_row and "serviceAccountUser" in deploy_row
    for command in text.splitlines():
        if "$BUILD" in command and "add-iam-policy-binding" in command:
            assert "roles/run." not in command and "serviceAccountUser" not in command, command


def test_setuptools_is_pinned_to_what_the_fyers_sdk_forces():
    requirements = (ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^setuptools==(\S+)$", requirements, re.MULTILINE)
    assert pinned, "setuptools is pinned in requirements.txt"
    forced = [r for r in importlib.metadata.requires("fyers_apiv3") if r.replace(" ", "").startswith("setuptools")]
    assert forced == [f"setuptools=={pinned.group(1)}"]


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned_exactly(requirements):
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r "):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+]+", line), f"{requirements}: {line}"


def test_the_forced_versions_are_recorded_with_what_would_lift_them():
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Forced dependency versions", 1)[1]
    for requirement in importlib.metadata.requires("fyers_apiv3"):
        name, _, version = requirement.replace(" ", "").partition("==")
        assert f"{name}==" in section or f"`{name}`" in section or name in section, name
        assert version in section, f"{name} {version} is not recorded"
    assert "What would lift them" in section
