"""Write the wall's alarm tones, one per alert severity, to assets/alarm-<severity>.wav (or to the
folder given): short beeps, more and higher the more severe, 16-bit mono PCM. The files are
committed; run this after changing a tone. The same input always writes the same bytes."""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wall.settings_core import PROJECT_DIR

RATE = 16_000
FADE_SECONDS = 0.008  # no click at either end of a beep
# severity: (frequency in Hz, beeps, seconds a beep, seconds between beeps, loudness 0-1)
TONES = {
    "critical": (988.0, 3, 0.12, 0.07, 0.8),
    "high": (784.0, 2, 0.18, 0.1, 0.7),
    "medium": (659.0, 1, 0.3, 0.0, 0.6),
    "low": (523.0, 1, 0.25, 0.0, 0.4),
}


def samples(frequency: float, beeps: int, beep: float, gap: float, loudness: float) -> bytes:
    frames = []
    beep_frames, gap_frames = round(beep * RATE), round(gap * RATE)
    fade = round(FADE_SECONDS * RATE)
    for n in range(beeps):
        for i in range(beep_frames):
            envelope = min(1.0, i / fade, (beep_frames - 1 - i) / fade)
            value = loudness * envelope * math.sin(2 * math.pi * frequency * i / RATE)
            frames.append(round(32767 * value))
        if n < beeps - 1:
            frames += [0] * gap_frames
    return struct.pack(f"<{len(frames)}h", *frames)


def write_tones(folder: Path) -> list[Path]:
    written = []
    for severity, tone in TONES.items():
        path = folder / f"alarm-{severity}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(samples(*tone))
        written.append(path)
    return written


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_DIR / "assets"
    for path in write_tones(folder):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
