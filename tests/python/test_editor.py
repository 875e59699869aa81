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


def start_standalone(standalone_path, page=None, env=None):
    existing = parity_windows()
    env = {**os.environ, **(env or {})}
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
            # Park the pointer off the window: a tooltip under it would cover the screenshots.
            subprocess.run(["xdotool", "mousemove", "2550", "1590"], check=False)
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
    stderr = process.stderr.read().decode(errors="replace")
    assert process.returncode == 0, f"exit code {process.returncode}: {stderr[-2000:]}"
    return stderr


def screenshot(window: str, path) -> Image.Image:
    subprocess.run(["import", "-window", window, str(path)], check=True)
    return Image.open(path).convert("RGB")


def meter_green_fraction(image: Image.Image) -> float:
    pixels = np.asarray(image).astype(int)
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 120) & (pixels[..., 2] < 160)
    return float(green.mean())


PAGES = ["loudness", "chain", "chain:glue", "chain:multiband", "chain:limiter", "spectrum", "stereo", "references", "platforms", "checks"]


def colour_fraction(image: Image.Image, rgb, tolerance=40) -> float:
    """Fraction of pixels within `tolerance` (sum of channel differences) of `rgb`."""
    pixels = np.asarray(image).astype(int)
    return float((np.abs(pixels - list(rgb)).sum(axis=2) < tolerance).mean())


@pytest.mark.parametrize("page", PAGES)
def test_every_page_draws_with_a_running_signal(standalone_path, screenshot_dir, page):
    env = {"PARITY_EDITOR_STATS": "1"}
    process, window = start_standalone(standalone_path, page=page, env=env)
    try:
        time.sleep(3.5)  # short-term loudness needs 3 s of the demo input
        name = page.replace(":", "-")
        first = screenshot(window, screenshot_dir / f"editor-{name}.png")
        time.sleep(0.6)
        second = screenshot(window, screenshot_dir / f"editor-{name}-later.png")
    finally:
        stderr = close(process, window)
    width, height = first.size
    assert width >= 900 and height >= 600, first.size
    pixels = np.asarray(first)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 40, f"only {colours} colours: blank window?"
    assert (pixels.max(axis=2) > 200).mean() > 0.002, "no bright text"
    # The I/O column on the right of every page: the peak bars are lit.
    assert meter_green_fraction(first.crop((width - 200, 0, width, height))) > 0.03, "I/O meters not lit"
    assert not np.array_equal(np.asarray(first), np.asarray(second)), "the editor is frozen"
    main = first.crop((0, 120, width - 200, height - 50))
    if page == "loudness":
        assert colour_fraction(main, (70, 150, 220)) > 0.005, "no M/S loudness bars"
    elif page.startswith("chain"):
        assert colour_fraction(main, (120, 200, 255)) > 0.0005, "no stage titles"
        if page == "chain":
            assert colour_fraction(main, (255, 255, 255), 10) > 0.0005, "no EQ curve (white)"
        if page == "chain:glue":
            assert colour_fraction(main, (235, 185, 60), 30) > 0.0001, "no threshold line on the transfer curve"
    elif page == "spectrum":
        assert colour_fraction(main, (255, 170, 90)) > 0.001, "no right-channel trace"
    elif page == "stereo":
        assert colour_fraction(main.crop((0, 0, main.size[0] // 2, main.size[1])), (110, 190, 255), 60) > 0.002, "no scope points"
    elif page == "checks":
        # Green, amber or red lamps for the 14 checks, and their advice lines.
        lamps = sum(colour_fraction(main, rgb, 30) for rgb in ((90, 200, 120), (235, 185, 60), (230, 80, 70)))
        assert lamps > 0.002, f"no check lamps ({lamps})"
        rows_with_text = (np.asarray(main).max(axis=2) > 140).any(axis=1)
        lines = int(np.count_nonzero(np.diff(rows_with_text.astype(int)) == 1))
        assert lines >= 14, f"checks: only {lines} lines of text"
    elif page in ("references", "platforms"):
        # Separate lines of text: the platform table's 11 rows, the 16 reference slots.
        rows_with_text = (np.asarray(main).max(axis=2) > 140).any(axis=1)
        lines = int(np.count_nonzero(np.diff(rows_with_text.astype(int)) == 1))
        assert lines >= (12 if page == "platforms" else 16), f"{page}: only {lines} lines of text"
    # Meters animate at the frame rate, and the editor's own time per frame is measured.
    stats = [line for line in stderr.splitlines() if line.startswith("parity-editor-frames")]
    assert stats, f"no frame statistics on stderr: {stderr[-500:]}"
    figures = dict(item.split("=") for item in stats[-1].split()[1:])
    # Software GL under Xvfb on a shared 2-core machine draws 15–60 frames per second.
    assert int(figures["count"]) >= 30, stats[-1]
    with open(screenshot_dir / "editor-frame-times.txt", "a") as log:
        log.write(f"{page}: {stats[-1]}\n")


def test_editor_at_150_percent_scale(standalone_path, screenshot_dir):
    """A HiDPI desktop (Xft.dpi 144 = 150 %): baseview scales the window and egui draws at 1.5
    pixels per point, so everything is 1.5 times larger and still laid out."""
    subprocess.run(["xprop", "-root", "-f", "RESOURCE_MANAGER", "8s", "-set", "RESOURCE_MANAGER", "Xft.dpi:\t144\n"], check=True)
    try:
        process, window = start_standalone(standalone_path, page="loudness")
    finally:
        subprocess.run(["xprop", "-root", "-remove", "RESOURCE_MANAGER"], check=False)
    try:
        time.sleep(3.5)
        image = screenshot(window, screenshot_dir / "editor-loudness-150.png")
    finally:
        close(process, window)
    width, height = image.size
    assert abs(width - 1.5 * 1120) < 4 and abs(height - 1.5 * 740) < 4, image.size
    assert meter_green_fraction(image.crop((width - 300, 0, width, height))) > 0.03
    assert (np.asarray(image).max(axis=2) > 200).mean() > 0.002, "no bright text"


def test_editor_resizes_and_keeps_drawing(standalone_path, screenshot_dir):
    process, window = start_standalone(standalone_path)
    try:
        time.sleep(1.0)
        before = screenshot(window, screenshot_dir / "editor-default-size.png")
        subprocess.run(["xdotool", "windowsize", window, "1300", "860"], check=True)
        # The GL surface is recreated on resize; wait (bounded) for the first frame at the new size.
        deadline = time.monotonic() + 10.0
        while True:
            time.sleep(0.5)
            after = screenshot(window, screenshot_dir / "editor-resized.png")
            drawn = after.size[0] >= 1250 and meter_green_fraction(after.crop((after.size[0] - 200, 0, after.size[0], after.size[1]))) > 0.03
            if drawn or time.monotonic() > deadline:
                break
    finally:
        close(process, window)
    assert after.size != before.size, f"window did not resize: {before.size} -> {after.size}"
    assert after.size[0] >= 1250 and after.size[1] >= 820, after.size
    # The layout follows the window: the I/O column moved to the new right edge, still lit, and
    # the page reaches into the new space.
    width, height = after.size
    assert meter_green_fraction(after.crop((width - 200, 0, width, height))) > 0.03
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
            subprocess.run(["xdotool", "windowmove", "--sync", second_window, "1200", "0"], check=True)
            images = {}
            for window, name in [(first_window, "a"), (second_window, "b")]:
                # Two software-GL windows at once: wait (bounded) for each one's live meters.
                deadline = time.monotonic() + 10.0
                while True:
                    time.sleep(0.5)
                    images[name] = screenshot(window, screenshot_dir / f"editor-two-instances-{name}.png")
                    width, height = images[name].size
                    io_column = images[name].crop((width - 200, 0, width, height))
                    if meter_green_fraction(io_column) > 0.03 or time.monotonic() > deadline:
                        break
                assert meter_green_fraction(io_column) > 0.03, f"instance {name}: meters not lit"
        finally:
            close(second, second_window)
    finally:
        close(first, first_window)


HOST_SCRIPT = textwrap.dedent(
    """
    import ctypes, sys, threading, time
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
    libc = ctypes.CDLL("libc.so.6")

    def rss_kb():
        # Return freed heap to the system first, so RSS counts what is still held.
        libc.malloc_trim(0)
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])

    for cycle in range(cycles):
        if cycle == 10:
            rss_after_warm_up = rss_kb()
        close = threading.Event()
        threading.Timer(0.4, close.set).start()
        plugin.show_editor(close)
    stop.set()
    for worker in workers:
        worker.join()
    print("cycles", cycles)
    print("rss_kb", rss_after_warm_up, rss_kb())
    """
)


def run_host(vst3_path, mode: str):
    return subprocess.run(
        [sys.executable, "-c", HOST_SCRIPT, str(vst3_path), "50", mode],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_vst3_editor_opens_and_closes_50_times_while_audio_runs_without_growing(vst3_path, screenshot_dir):
    result = run_host(vst3_path, "play")
    assert result.returncode == 0, f"host died ({result.returncode}):\n{result.stderr[-3000:]}"
    assert "cycles 50" in result.stdout
    # RSS after 10 cycles (fonts, GL and the first window's allocations are in) and after 50.
    start_kb, end_kb = (int(v) for v in result.stdout.split("rss_kb")[1].split())
    with open(screenshot_dir / "editor-open-close-rss.txt", "w") as log:
        log.write(f"VST3 editor opened and closed 50 times while audio ran: RSS {start_kb} kB after 10 cycles, {end_kb} kB after 50\n")
    # The editor itself holds nothing per window (the editor_frame bench opens 200 headless
    # windows at flat RSS). What remains per cycle is below it: nice-plug 0.4.2's VST3 run-loop
    # handler (~160 kB per open, see README) and Mesa's software GL. A leak of Parity's own (a
    # buffer per open, textures) would show as megabytes per cycle.
    per_cycle_kb = (end_kb - start_kb) / 40
    assert per_cycle_kb < 1_000, f"RSS grew {per_cycle_kb:.0f} kB per open/close cycle"


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
    assert "cycles 50" in result.stdout


INTERACTION_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time, subprocess
    import numpy as np
    import pedalboard

    plugin = pedalboard.load_plugin(sys.argv[1])
    shots = sys.argv[2]
    close = threading.Event()
    stop = threading.Event()

    def play():
        audio = (np.random.default_rng(1).standard_normal((2, 512)) * 0.1).astype(np.float32)
        while not stop.is_set():
            plugin.process(audio, 48000, buffer_size=512, reset=False)

    def drive():
        try:
            deadline = time.monotonic() + 30
            window = None
            while time.monotonic() < deadline and window is None:
                found = subprocess.run(
                    ["xdotool", "search", "--onlyvisible", "--name", "^Parity$"], capture_output=True, text=True
                ).stdout.split()
                window = found[0] if found else None
                time.sleep(0.3)
            time.sleep(1.5)
            print("before", plugin.bypass, flush=True)
            subprocess.run(["import", "-window", window, f"{shots}/vst3-editor.png"], check=True)
            # The Bypass button sits at the right end of the header (default size 1120 x 740).
            subprocess.run(["xdotool", "mousemove", "--window", window, "1078", "23"], check=True)
            time.sleep(0.3)
            subprocess.run(["xdotool", "click", "1"], check=True)
            time.sleep(0.8)
            print("after_click", plugin.bypass, flush=True)
            subprocess.run(["import", "-window", window, f"{shots}/vst3-editor-bypassed.png"], check=True)
            # The host automates it back (from this non-GUI thread, as a sequencer would).
            plugin.bypass = "Not Bypassed"
            time.sleep(0.8)
            print("after_automation", plugin.bypass, flush=True)
            subprocess.run(["import", "-window", window, f"{shots}/vst3-editor-automated.png"], check=True)
        finally:
            close.set()

    threading.Thread(target=play).start()
    threading.Thread(target=drive).start()
    plugin.show_editor(close)
    stop.set()
    """
)


def test_vst3_click_reaches_the_host_and_host_automation_moves_the_control(vst3_path, screenshot_dir):
    result = subprocess.run(
        [sys.executable, "-c", INTERACTION_SCRIPT, str(vst3_path), str(screenshot_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"host died ({result.returncode}):\n{result.stderr[-3000:]}"
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines.get("before") == "Not Bypassed", result.stdout
    assert lines.get("after_click") == "Bypassed", f"the click did not reach the host: {result.stdout}"
    assert lines.get("after_automation") == "Not Bypassed", result.stdout

    def yellow(name):
        pixels = np.asarray(Image.open(screenshot_dir / name).convert("RGB")).astype(int)
        return float((np.abs(pixels - [255, 255, 0]).sum(axis=2) < 40).mean())

    # The lit "BYPASSED" button (yellow) appears with the click and goes with the automation.
    assert yellow("vst3-editor.png") == 0.0
    assert yellow("vst3-editor-bypassed.png") > 0.0005
    assert yellow("vst3-editor-automated.png") == 0.0


def write_wav(path, seconds=6.0, rate=44100):
    """A 16-bit stereo WAV: two tones at −12 dBFS, a little wider on the right."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    left = 0.25 * np.sin(2 * np.pi * 220 * t)
    right = 0.25 * np.sin(2 * np.pi * 330 * t)
    frames = (np.stack([left, right], axis=1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def click_at(window, x, y):
    """Moves the pointer over (x, y) of `window`, lets the editor draw a frame with it there (as a
    hand does), and clicks."""
    subprocess.run(["xdotool", "mousemove", "--window", window, str(x), str(y)], check=True)
    time.sleep(0.3)
    subprocess.run(["xdotool", "click", "1"], check=True)


def test_a_reference_typed_into_a_slot_loads_and_is_heard_with_one_click(standalone_path, screenshot_dir, tmp_path):
    # The browser opens at $HOME: a folder with two reference tracks in it.
    write_wav(tmp_path / "Reference A.wav")
    write_wav(tmp_path / "Reference B.wav", seconds=8.0)
    process, window = start_standalone(standalone_path, page="references", env={"HOME": str(tmp_path)})
    try:
        time.sleep(2.0)
        # Slot 1's path field (default size 1120 x 740, above the two-row monitor bar), the path,
        # Enter.
        click_at(window, 180, 529)
        subprocess.run(["xdotool", "type", "--delay", "5", str(tmp_path / "Reference A.wav")], check=True)
        subprocess.run(["xdotool", "key", "Return"], check=True)
        time.sleep(3.0)
        loaded = screenshot(window, screenshot_dir / "editor-references-loaded.png")
        # One click on slot 1's "hear": the monitor plays the reference and says so in orange.
        click_at(window, 75, 161)
        time.sleep(1.0)
        hearing = screenshot(window, screenshot_dir / "editor-references-hearing.png")
    finally:
        close(process, window)
    width, height = loaded.size
    slot_list = loaded.crop((0, 150, 520, 175))
    # A ready slot's figures are drawn in the accent colour.
    assert colour_fraction(slot_list, (120, 200, 255), 60) > 0.01, "slot 1 shows no loudness figures"
    browser = loaded.crop((540, 240, width - 200, 400))
    # Its two files, listed in the browser (grey text on the dark background).
    assert (np.asarray(browser).max(axis=2) > 110).mean() > 0.01, "the browser lists nothing"
    status_line = hearing.crop((0, 40, width - 200, 70))
    assert colour_fraction(status_line, (230, 140, 20), 60) > 0.05, "no orange 'monitoring a reference' bar"
    assert colour_fraction(loaded.crop((0, 40, width - 200, 70)), (230, 140, 20), 60) < 0.01
