"""The container's build steps are the README's install steps (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import ROOT


def test_dockerfile_installs_like_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    quickstart = re.search(r"python3 -m venv \.venv && \.venv/bin/pip install -e \.", readme)
    assert quickstart, "the README's quickstart install changed; update the Dockerfile with it"
    assert "RUN python3 -m venv .venv && .venv/bin/pip install -e ." in docker
    assert re.search(r"^FROM python:3\.1[1-9]-slim", docker, re.M)
    assert re.search(r"^USER pplbot$", docker, re.M)  # not root
    assert "HEALTHCHECK" in docker and "/healthz" in docker
    assert 'VOLUME ["/data"]' in docker and "PPLBOT_DATA_DIR=/data" in docker
    assert "COPY --chown=pplbot knowledge ./knowledge" in docker


def test_compose_example_runs_the_bot() -> None:
    compose = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["pplbot"]
    assert service["build"] == "."
    assert any(v.endswith(":/data") for v in service["volumes"])


def test_dockerignore_keeps_the_image_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "tests"} <= set(ignored)


def test_package_licence_is_an_spdx_expression_with_its_file() -> None:
    """setuptools deprecates the `license = {text = ...}` table (three warnings per test run)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert isinstance(project["license"], str)
    assert re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.+-]+", project["license"])
    for name in project["license-files"]:
        assert (ROOT / name).is_file()
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert all(name in docker for name in project["license-files"]), "the image build needs the licence file"
