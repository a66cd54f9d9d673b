"""The image's entrypoint (docker/entrypoint.sh) run directly, without a Docker engine, over the real console
scripts: both forms of the founding document work (issue 12)::

    docker run ... dragonflybot:latest dragonflybot-grpc-server --instrument-name ethbtc
    docker run ... dragonflybot --instrument-name ethbtc

The console scripts are generated from pyproject.toml's [project.scripts] into a temporary bin directory, as
pip writes them, so the script finds exactly what the image has on its PATH. Each command is stopped by a bad
argument or --help: the tests check which program ran and with which arguments, without starting a server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO, _entry_points, child_env

ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
SH = shutil.which("sh") or "/bin/sh"  # the image's /bin/sh runs it


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bin")
    for name, target in _entry_points().items():
        module, _, func = target.partition(":")
        script = d / name
        script.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        script.chmod(0o755)
    return d


def run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    return subprocess.run([SH, str(ENTRYPOINT), *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_the_founding_documents_command_names_are_console_scripts() -> None:
    scripts = _entry_points()
    assert scripts["dragonflybot-grpc-server"] == "dragonfly.cli:dragonflybot_grpc_server_main"
    assert scripts["dragonflybot-grpc-client"] == "dragonfly.cli:dragonflybot_grpc_client_main"
    for name in ("dragonfly", "dragonfly-grpc-server", "dragonfly-grpc-client", "dragonfly-fix-server"):
        assert name in scripts


@pytest.mark.parametrize("argv", [
    ["--instrument-name", "ethbtc", "--venues", "nowhere"],  # docker run ... dragonflybot --instrument-name ...
    ["dragonflybot-grpc-server", "--instrument-name", "ethbtc", "--venues", "nowhere"],  # the long form
    ["dragonflybot", "--instrument-name", "ethbtc", "--venues", "nowhere"],  # the image's name typed twice
])
def test_options_alone_or_the_long_form_run_the_grpc_server(bin_dir: Path, argv: list[str]) -> None:
    r = run(bin_dir, *argv)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("dragonflybot-grpc-server: error: unknown venue 'nowhere'")


def test_no_arguments_print_the_servers_help(bin_dir: Path) -> None:
    r = run(bin_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: dragonflybot-grpc-server ") and "--instrument-name" in r.stdout


@pytest.mark.parametrize("argv, prog", [
    (["dragonflybot-grpc-client", "--address", "nohostport"], "dragonflybot-grpc-client"),
    (["dragonfly-grpc-client", "--address", "nohostport"], "dragonfly-grpc-client"),
    (["grpc-client", "--address", "nohostport"], "dragonfly grpc-client"),
    (["dragonfly", "grpc-client", "--address", "nohostport"], "dragonfly grpc-client"),
])
def test_the_client_under_every_name(bin_dir: Path, argv: list[str], prog: str) -> None:
    r = run(bin_dir, *argv)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{prog}: error: bad address 'nohostport'")


@pytest.mark.parametrize("argv, usage", [
    (["dragonfly-fix-server", "--help"], "usage: dragonfly-fix-server "),
    (["fix-server", "--help"], "usage: dragonfly fix-server "),
    (["demo", "--help"], "usage: dragonfly demo "),
    (["dragonfly-grpc-server", "--help"], "usage: dragonfly-grpc-server "),
])
def test_other_commands(bin_dir: Path, argv: list[str], usage: str) -> None:
    r = run(bin_dir, *argv)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(usage)


def test_a_program_of_the_image_runs_and_anything_else_is_refused(bin_dir: Path) -> None:
    r = run(bin_dir, "sh", "-c", "echo debugging")
    assert (r.returncode, r.stdout) == (0, "debugging\n")
    r = run(bin_dir, "dragonflybot-grpc-sever", "--instrument-name", "ethbtc")
    assert r.returncode == 2
    assert r.stderr.startswith("dragonflybot: unknown command 'dragonflybot-grpc-sever'; use one of: ")
    assert "dragonflybot-grpc-server" in r.stderr


def test_the_image_uses_the_entrypoint() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^COPY --chmod=0755 docker/entrypoint\.sh /usr/local/bin/dragonflybot-entrypoint$", dockerfile,
                     re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["dragonflybot-entrypoint"\]$', dockerfile, re.MULTILINE)
    assert "docker" not in (REPO / ".dockerignore").read_text().split()  # the script is in the build context
    assert os.access(ENTRYPOINT, os.X_OK)
