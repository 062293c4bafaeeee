"""Settings: file, then environment; unknown keys and placeholders refuse to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contacthub.toml"
    path.write_text(text)
    return path


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, ""), environ={})
    assert s.database.url.startswith("sqlite+aiosqlite:///")
    assert s.queue.backend == "embedded"
    assert s.server.max_body_bytes == 1024 * 1024


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\nhost = '0.0.0.0'\n")
    s = load_settings(path, environ={"CONTACTHUB_SERVER__PORT": "9100"})
    assert (s.server.host, s.server.port) == ("0.0.0.0", 9100)


@pytest.mark.parametrize(
    ("text", "environ", "named"),
    [
        ("[database]\nurll = 'x'\n", {}, "database.urll"),
        ("[databse]\nurl = 'x'\n", {}, "databse"),
        ("", {"CONTACTHUB_QUEUE__BACKENDX": "redis"}, "queue.backendx"),
        ("", {"CONTACTHUB_DATABSE__URL": "x"}, "CONTACTHUB_DATABSE__URL"),
        ("[queue]\nbackend = 'kafka'\n", {}, "queue.backend"),
        ("[server]\nport = 'eighty'\n", {}, "server.port"),
        ("[phone]\ndefault_region = 'Germany'\n", {}, "phone.default_region"),
    ],
)
def test_unknown_or_invalid_keys_are_named(
    tmp_path: Path, text: str, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=environ)
    assert named in err.value.detail


def test_the_example_file_refuses_its_placeholder_secret(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "config" / "contacthub.example.toml"
    with pytest.raises(ConfigError) as err:
        load_settings(example, environ={})
    assert "security.secret_key" in err.value.detail
    assert "CONTACTHUB_SECURITY__SECRET_KEY" in err.value.detail
    # ...and starts once the secret is real
    s = load_settings(example, environ={"CONTACTHUB_SECURITY__SECRET_KEY": "k3y-8f2a9c1e7d"})
    assert s.security.secret_key is not None


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"), environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_the_app_loads_a_connector_only_when_it_wires_it() -> None:
    """Each hub process pays for what it imports at start: the connector list names every
    connector, but their modules (and libraries such as the fax's PDF renderer) load when
    the app wires an enabled one."""
    probe = "import sys, hub.app; print(' '.join(m for m in sys.modules if m.startswith('connectors')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    inside = {m for m in out.split() if m.count(".") >= 2 and not m.startswith("connectors.lib.")}
    assert inside, out  # the probe saw the connectors' SPECs
    assert {m for m in inside if not m.endswith((".spec", ".settings"))} == set(), inside


def test_the_settings_load_no_connector_code() -> None:
    """Each connector owns its settings, and the root settings compose them: reading them
    must not import a connector's I/O (nor its SPEC, which imports the settings back)."""
    probe = "import sys, hub.settings; print(' '.join(m for m in sys.modules if m.startswith('connectors')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert "connectors.email.settings" in loaded, loaded  # composed from the connector's own module
    packages = {
        m.rsplit(".", n)[0] for m in loaded if m.endswith(".settings") for n in range(1, m.count(".") + 1)
    }
    assert {m for m in loaded if not m.endswith(".settings")} <= packages, loaded  # and their packages
