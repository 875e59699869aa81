"""Shared fixtures for Parity's Python host tests (run by `cargo xtask test`).

The bundles come from environment variables set by the xtask; running pytest by hand without
them fails with a message that says how to build them.
"""

import os
import pathlib

import pytest

WORKSPACE = pathlib.Path(__file__).resolve().parents[2]


def _artifact(variable: str, default: str) -> pathlib.Path:
    path = pathlib.Path(os.environ.get(variable, WORKSPACE / default))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo xtask test` (it builds the test bundles)")
    return path


@pytest.fixture(scope="session")
def vst3_path() -> pathlib.Path:
    """The alloc-guard VST3 bundle."""
    return _artifact("PARITY_VST3_BUNDLE", "target/guard/bundled/Parity.vst3")


@pytest.fixture(scope="session")
def clap_path() -> pathlib.Path:
    """The alloc-guard CLAP bundle."""
    return _artifact("PARITY_CLAP_BUNDLE", "target/guard/bundled/Parity.clap")


@pytest.fixture(scope="session")
def standalone_path() -> pathlib.Path:
    """The standalone application built with the test features."""
    return _artifact("PARITY_STANDALONE", "target/debug/parity-standalone")


@pytest.fixture(scope="session")
def clap_render_path() -> pathlib.Path:
    """The CLAP render tool of the tests crate (renders raw f32 through the CLAP bundle)."""
    return _artifact("PARITY_CLAP_RENDER", "target/debug/parity-clap-render")


@pytest.fixture(scope="session")
def screenshot_dir() -> pathlib.Path:
    """Where the editor tests save their screenshots, for people to look at."""
    path = WORKSPACE / "target" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
