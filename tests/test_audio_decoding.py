"""``Audio(type="numpy")`` beyond PCM WAV (issue 13, last round).

Float WAV, FLAC, Ogg Vorbis, MP3 and AIFF decode with soundfile (the ``audio`` extra)
into what Gradio's pydub decoding hands ``fn``: int16 for 16-bit and lossy sources,
int32 for 24-bit and float ones. PCM WAV still decodes without soundfile; without it the
other formats are refused with the install line; a small file that decodes to too many
samples is refused at the call.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from asyncflag import FlagValueError, Interface, load_flagged
from asyncflag.components import Audio, files

sf = pytest.importorskip("soundfile")

RATE = 8000
TONE = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float64)


def encoded(samples: Any, fmt: str, subtype: str, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


class Seen:
    """``fn`` that keeps what it got."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, audio: Any) -> str:
        self.values.append(audio)
        return "ok"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fmt", "subtype", "dtype", "lossless"),
    [
        ("WAV", "FLOAT", np.int32, True),
        ("WAV", "DOUBLE", np.int32, True),
        ("FLAC", "PCM_16", np.int16, True),
        ("FLAC", "PCM_24", np.int32, True),
        ("AIFF", "PCM_16", np.int16, True),
        ("OGG", "VORBIS", np.int16, False),
        ("MP3", "MPEG_LAYER_III", np.int16, False),
    ],
)
async def test_formats_decode_as_gradio_hands_them(
    fmt: str, subtype: str, dtype: Any, lossless: bool, tmp_path: Path
) -> None:
    stereo = np.stack([TONE, -TONE], axis=1)
    upload = encoded(stereo, fmt, subtype)
    fn = Seen()
    iface = Interface(fn, "audio", "text", flagging_dir=tmp_path)
    async with iface:
        await iface.flag(await iface.submit(upload))
    rate, samples = fn.values[0]
    assert rate == RATE and samples.dtype == dtype and samples.shape[1] == 2
    full = np.iinfo(dtype).max + 1
    decoded = samples[:RATE].astype(np.float64) / full
    if lossless:
        assert samples.shape == (RATE, 2)
        assert np.allclose(decoded, stereo, atol=2 / 2**15)
    else:  # the 440 Hz tone at half scale, give or take the codec's delay and loss
        spectrum = np.abs(np.fft.rfft(decoded[:, 0]))
        assert abs(np.argmax(spectrum) * RATE / len(decoded) - 440) < 10
        assert 0.3 < np.abs(decoded).max() < 0.7
    (saved,) = load_flagged(tmp_path, iface.components)[0].values[:1]
    assert Path(saved).read_bytes() == upload  # the upload itself is what is flagged


@settings(max_examples=30, deadline=None)
@given(
    samples=hnp.arrays(np.int16, st.tuples(st.integers(1, 300), st.integers(1, 3))),
    rate=st.sampled_from([8000, 22050, 44100]),
)
def test_flac_round_trip(samples: Any, rate: int) -> None:
    upload = encoded(samples, "FLAC", "PCM_16", rate)
    component = Audio("a")

    async def decode() -> Any:
        return component.preprocess(component.check(upload), Path("."))

    for backend in ("asyncio", "trio"):
        got_rate, got = anyio.run(decode, backend=backend)
        assert got_rate == rate and got.dtype == np.int16
        assert got.reshape(samples.shape).tolist() == samples.tolist()


def test_a_small_file_decoding_to_too_much_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    silence = encoded(np.zeros(RATE * 60, dtype=np.int16), "FLAC", "PCM_16")
    assert len(silence) < 100_000  # a minute of silence, compressed
    monkeypatch.setattr(files, "MAX_DECODED_SAMPLES", RATE * 10)
    component = Audio("a")
    with pytest.raises(FlagValueError, match=f"FLAC audio decodes to more than {RATE * 10}"):
        component.preprocess(component.check(silence), Path("."))


def test_garbage_is_refused_clearly() -> None:
    component = Audio("a")
    for bad, what in [
        (b"fLaC" + b"\x00" * 60, "FLAC audio"),
        (b"OggS" + b"\x01" * 60, "OGG audio"),
        (b"not audio at all" * 4, "this content"),
    ]:
        with pytest.raises(FlagValueError, match=f"Audio 'a': {what} could not be decoded: ") as e:
            component.preprocess(component.check(bad), Path("."))
        assert "BytesIO" not in str(e.value)


@pytest.mark.anyio
async def test_without_soundfile_pcm_wav_decodes_and_the_rest_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "soundfile", None)  # import soundfile fails
    fn = Seen()
    iface = Interface(fn, "audio", "text", flagging_mode="never")
    async with iface:
        await iface.submit(encoded(TONE, "WAV", "PCM_16"))
        with pytest.raises(FlagValueError, match=r"FLAC audio needs soundfile: pip install"):
            await iface.submit(encoded(TONE, "FLAC", "PCM_16"))
        with pytest.raises(FlagValueError, match=r"asyncflag\[audio\]"):
            await iface.submit(encoded(TONE, "WAV", "FLOAT"))
    assert len(fn.values) == 1 and fn.values[0][1].dtype == np.int16
