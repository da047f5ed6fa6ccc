"""Make the spoken digits of the audio security code (run once; the WAVs are committed).

Needs Debian's espeak-ng with its Azerbaijani voice (``apt-get install espeak-ng``;
``espeak-ng --voices | grep az``). Each digit is spoken alone, trimmed of silence and
stored as 8 kHz mono 8-bit PCM: telephone quality, small enough to inline in a page.

    python3 scripts/make_digit_voices.py src/mcqs/security/voice
"""

from __future__ import annotations

import audioop  # deprecated in 3.11, gone in 3.13: fine for a one-off tool
import io
import subprocess
import sys
import wave
from pathlib import Path

DIGITS_AZ = ("sıfır", "bir", "iki", "üç", "dörd", "beş", "altı", "yeddi", "səkkiz", "doqquz")
RATE = 8000
SILENCE = 300  # 16-bit amplitude under which a frame counts as silence


def spoken(word: str) -> tuple[bytes, int]:
    wav = subprocess.run(
        ["espeak-ng", "-v", "az", "-s", "140", "--stdout", word], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as source:
        return source.readframes(source.getnframes()), source.getframerate()


def trimmed(frames: bytes) -> bytes:
    loud = [
        i for i in range(0, len(frames), 2) if abs(audioop.getsample(frames, 2, i // 2)) > SILENCE
    ]
    return frames[loud[0] : loud[-1] + 2] if loud else frames


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for digit, word in enumerate(DIGITS_AZ):
        frames, rate = spoken(word)
        frames, _ = audioop.ratecv(trimmed(frames), 2, 1, rate, RATE, None)
        frames = audioop.bias(audioop.lin2lin(frames, 2, 1), 1, 128)  # 8-bit WAV is unsigned
        with wave.open(str(target / f"{digit}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(1)
            out.setframerate(RATE)
            out.writeframes(frames)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
