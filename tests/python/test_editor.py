"""Parity's editor in real windows on a virtual X server (Xvfb, started by `cargo xtask test`):
the standalone with the built-in demo input (screenshots under target/screenshots/ for people to
look at), two instances at once, and the VST3 editor opened and closed repeatedly inside a real
host while audio runs and parameters change from another thread."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(
    not os.environ.get("DISPLAY"), reason="no X display: run through `cargo xtask test` (it starts Xvfb)"
)

WINDOW_TIMEOUT_S = 60


def parity_windows() -> set[str]:
    """Visible top-level windows titled "Parity" (baseview sets no _NET_WM_PID to search by)."""
    result = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^Parity$"], capture_output=True, text=True
    )
    return set(result.stdout.split())


def start_standalone(standalone_path, page=None):
    existing = parity_windows()
    env = dict(os.environ)
    if page:
        env["PARITY_EDITOR_PAGE"] = page
    process = subprocess.Popen(
        [str(standalone_path), "--backend", "dummy", "--sample-rate", "48000", "--period-size", "512", "--demo-input"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while time.monotonic() < deadline:
        new = parity_windows() - existing
        if new:
            return process, new.pop()
        if process.poll() is not None:
            raise AssertionError(f"standalone exited with {process.returncode}: {process.stderr.read().decode()}")
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the editor window did not appear")


def close(process, window):
    """Close the editor window the way a user does (the window manager's Alt+F4 sends
    WM_DELETE_WINDOW); the standalone must then exit cleanly and promptly. (SIGINT does not end a
    standalone with an editor: nice-plug's handler only sets a flag its window loop never reads.)"""
    subprocess.run(["xdotool", "windowactivate", "--sync", window, "key", "alt+F4"], check=False)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the standalone did not exit within 10 s of its window being closed")
    assert process.returncode == 0, f"exit code {process.returncode}: {process.stderr.read().decode()[-2000:]}"


def screenshot(window: str, path) -> Image.Image:
    subprocess.run(["import", "-window", window, str(path)], check=True)
    return Image.open(path).convert("RGB")


def meter_green_fraction(image: Image.Image) -> float:
    pixels = np.asarray(image).astype(int)
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 120) & (pixels[..., 2] < 160)
    return float(green.mean())


def test_standalone_editor_shows_live_meters_and_text(standalone_path, screenshot_dir):
    process, window = start_standalone(standalone_path)
    try:
        time.sleep(2.0)  # let the demo input drive the meters
        first = screenshot(window, screenshot_dir / "editor-standalone.png")
        time.sleep(0.6)
        second = screenshot(window, screenshot_dir / "editor-standalone-later.png")
    finally:
        close(process, window)
    width, height = first.size
    assert width >= 500 and height >= 300, first.size
    pixels = np.asarray(first)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 40, f"only {colours} colours: blank window?"
    assert (pixels.max(axis=2) > 200).mean() > 0.002, "no bright text"
    assert meter_green_fraction(first) > 0.02, "meter bars are not lit"
    # The meters move: the two frames differ.
    assert not np.array_equal(np.asarray(first), np.asarray(second)), "the editor is frozen"


def test_chain_page_draws_every_stage(standalone_path, screenshot_dir):
    process, window = start_standalone(standalone_path, page="chain")
    try:
        time.sleep(2.0)
        image = screenshot(window, screenshot_dir / "editor-chain.png")
        # Scroll to the end: imager, limiter (with learn-to-target) and dither.
        subprocess.run(["xdotool", "mousemove", "--window", window, "450", "400"], check=True)
        subprocess.run(["xdotool", "click", "--repeat", "20", "--delay", "30", "5"], check=True)
        time.sleep(1.0)
        scrolled = screenshot(window, screenshot_dir / "editor-chain-scrolled.png")
    finally:
        close(process, window)
    assert np.abs(np.asarray(scrolled).astype(int) - np.asarray(image).astype(int)).mean() > 1.0, "did not scroll"
    pixels = np.asarray(image)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 40, f"only {colours} colours: blank window?"
    # Stage titles are drawn in light blue (120, 200, 255); there are several of them.
    title = (np.abs(pixels.astype(int) - [120, 200, 255]).sum(axis=2) < 60).mean()
    assert title > 0.0005, f"no stage titles ({title})"
    assert (pixels.max(axis=2) > 200).mean() > 0.002, "no bright text"


def test_monitor_page_draws_sources_platforms_and_slots(standalone_path, screenshot_dir):
    process, window = start_standalone(standalone_path, page="monitor")
    try:
        time.sleep(2.5)  # the platform table needs an integrated reading of the demo input
        image = screenshot(window, screenshot_dir / "editor-monitor.png")
    finally:
        close(process, window)
    pixels = np.asarray(image)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 40, f"only {colours} colours: blank window?"
    assert (pixels.max(axis=2) > 200).mean() > 0.003, "no bright text"
    # 11 platform rows and 16 slot rows: many text lines, spread over most of the height.
    rows_with_text = (pixels.max(axis=2) > 180).any(axis=1)
    assert rows_with_text[: pixels.shape[0] // 2].mean() > 0.3 and rows_with_text[pixels.shape[0] // 2 :].mean() > 0.3


def test_editor_resizes_and_keeps_drawing(standalone_path, screenshot_dir):
    process, window = start_standalone(standalone_path)
    try:
        time.sleep(1.0)
        before = screenshot(window, screenshot_dir / "editor-default-size.png")
        subprocess.run(["xdotool", "windowsize", window, "1100", "720"], check=True)
        # The GL surface is recreated on resize; wait (bounded) for the first frame at the new size.
        deadline = time.monotonic() + 10.0
        while True:
            time.sleep(0.5)
            after = screenshot(window, screenshot_dir / "editor-resized.png")
            drawn = after.size[0] >= 1000 and meter_green_fraction(after) > 0.02
            if drawn or time.monotonic() > deadline:
                break
    finally:
        close(process, window)
    assert after.size != before.size, f"window did not resize: {before.size} -> {after.size}"
    assert after.size[0] >= 1000 and after.size[1] >= 650, after.size
    # The layout follows the window: the meters stay lit and reach into the new space.
    assert meter_green_fraction(after) > 0.02
    pixels = np.asarray(after)
    lower_half = pixels[after.size[1] // 2 :]
    assert (lower_half.max(axis=2) > 60).mean() > 0.01, "nothing drawn in the enlarged area"


def test_two_instances_at_once(standalone_path, screenshot_dir):
    first, first_window = start_standalone(standalone_path)
    try:
        second, second_window = start_standalone(standalone_path)
        try:
            assert first_window != second_window
            # Side by side: X does not keep the hidden part of an overlapped window, so a capture
            # of a window under the other is black there (one CI run lost the meters that way).
            subprocess.run(["xdotool", "windowmove", "--sync", first_window, "0", "0"], check=True)
            subprocess.run(["xdotool", "windowmove", "--sync", second_window, "980", "0"], check=True)
            images = {}
            for window, name in [(first_window, "a"), (second_window, "b")]:
                # Two software-GL windows at once: wait (bounded) for each one's live meters.
                deadline = time.monotonic() + 10.0
                while True:
                    time.sleep(0.5)
                    images[name] = screenshot(window, screenshot_dir / f"editor-two-instances-{name}.png")
                    if meter_green_fraction(images[name]) > 0.02 or time.monotonic() > deadline:
                        break
                assert meter_green_fraction(images[name]) > 0.02, f"instance {name}: meters not lit"
        finally:
            close(second, second_window)
    finally:
        close(first, first_window)


HOST_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    import numpy as np
    import pedalboard

    plugin = pedalboard.load_plugin(sys.argv[1])
    cycles = int(sys.argv[2])
    automate_from_another_thread = sys.argv[3] == "automate"
    stop = threading.Event()
    rng = np.random.default_rng(3)

    def automate():
        # Parameter changes from another thread while the editor opens and closes: the
        # nice-plug editor/worker race (see README) shows up here as an abort.
        while not stop.is_set():
            plugin.output_gain_db = float(rng.uniform(-24.0, 24.0))
            plugin.input_trim_db = float(rng.uniform(-24.0, 24.0))
            time.sleep(0.0005)

    def play():
        audio = np.zeros((2, 512), dtype=np.float32)
        while not stop.is_set():
            plugin.process(audio, 48000, buffer_size=512, reset=False)

    workers = [threading.Thread(target=play)]
    if automate_from_another_thread:
        workers.append(threading.Thread(target=automate))
    for worker in workers:
        worker.start()
    for cycle in range(cycles):
        close = threading.Event()
        threading.Timer(0.4, close.set).start()
        plugin.show_editor(close)
    stop.set()
    for worker in workers:
        worker.join()
    print("cycles", cycles)
    """
)


def run_host(vst3_path, mode: str):
    return subprocess.run(
        [sys.executable, "-c", HOST_SCRIPT, str(vst3_path), "20", mode],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_vst3_editor_opens_and_closes_20_times_while_audio_runs(vst3_path):
    result = run_host(vst3_path, "play")
    assert result.returncode == 0, f"host died ({result.returncode}):\n{result.stderr[-3000:]}"
    assert "cycles 20" in result.stdout


@pytest.mark.xfail(
    strict=True,
    reason="nice-plug 0.4.2 VST3 wrapper: parameter changes from a non-main thread run a GUI task on "
    "the shared background worker, which borrows `editor_window` while the main thread holds it "
    "mutably during attached()/removed() -> panic 'already mutably borrowed' -> abort (see README). "
    "strict: this turns into a failure once the framework fixes it, so the marker gets removed.",
)
def test_vst3_editor_survives_automation_from_another_thread_while_opening(vst3_path):
    result = run_host(vst3_path, "automate")
    assert result.returncode == 0, f"host died ({result.returncode}):\n{result.stderr[-1500:]}"
    assert "cycles 20" in result.stdout
