#!/usr/bin/env python3
"""ui_latency.py - key-to-screen latency of the workbench through a pty
while the CPU pipeline runs. Starts a 512x512 job on the tiny model, then
types characters one at a time and times each until it is echoed on the
screen. Prints min/median/max in ms. Run from the repository root:
    python3 tests/ui_latency.py
"""
import os, pty, select, statistics, sys, tempfile, time, fcntl, termios, struct

def main():
    tmp = tempfile.mkdtemp()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(LANG="C.UTF-8", TERM="xterm-256color",
                          XDG_CONFIG_HOME=tmp + "/c", XDG_STATE_HOME=tmp + "/s")
        os.execv("./zimt", ["./zimt", "ui", "--model", "tests/data/tiny-zimage", "--device",
                            "cpu", "--graphics", "blocks", "--output-dir", tmp + "/out"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    def read_until(token, timeout):
        buf = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.01)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if b"\033[c" in data or b"\033[16t" in data:
                    os.write(fd, b"\033[?62;22c")  # answer DA1: no sixel
                buf += data
                if token in buf:
                    return True
        return False
    read_until(b"model loaded", 30)
    def setsize():
        os.write(fd, b"\x1bOS")  # F4
        read_until(b"Size (Enter", 5)
        os.write(fd, b"c")
        read_until(b"Custom size", 5)
        os.write(fd, b"512x512\r")
        read_until(b"512x512", 5)
    setsize()
    os.write(fd, b"\x07")  # Ctrl-G: generate
    read_until(b"ms/step", 60)
    lat = []
    # "§" never appears in the workbench's own text, so its echo is the
    # typed key reaching the screen and nothing else.
    for ch in ["\u00a7"] * 20:
        t0 = time.monotonic()
        os.write(fd, ch.encode())
        if read_until(ch.encode(), 2):
            lat.append((time.monotonic() - t0) * 1000)
        time.sleep(0.05)
    if not lat:
        print("no keys echoed")
    else:
        print("key-to-screen latency while a CPU job runs: n=%d min %.1f ms median %.1f ms max %.1f ms"
              % (len(lat), min(lat), statistics.median(lat), max(lat)), flush=True)
    os.write(fd, b"\x1b")
    time.sleep(0.3)
    os.write(fd, b"\x11")
    time.sleep(0.3)
    os.write(fd, b"y")
    read_until(b"never", 20)
    try:
        os.kill(pid, 15)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    return 0 if lat and max(lat) < 50 else 1

sys.exit(main())
