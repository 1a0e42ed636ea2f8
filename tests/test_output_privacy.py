"""What an output file carries besides the mask: nothing.

A voice is a biometric identifier, and a camera's container and EXIF
metadata (creation time, make, model and serial, GPS, its encoder strings)
point at a person, a place and a time. Inputs that carry all of these are
masked, and the outputs are read back with FFmpeg (PyAV) and Pillow.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dmask.capture.media import VideoReader
from dmask.video_out import MASKED_TAG
from support import video_streams
from support import dmask

PLANTED = {
    "creation_time": "2024-05-01T10:11:12.000000Z",
    "make": "CameraCoMake",
    "model": "X100Model",
    "serial_number": "SN99887766",
    "location": "+48.8577+002.2950/",
    "encoder": "CameraCoFirmware-1.2",
    "comment": "patient Jane Roe, ward 7",
}


def camera_video(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """A video like a camera's: H.264 with an AAC voice track and every tag in PLANTED."""
    options = {"movflags": "use_metadata_tags"} if path.suffix == ".mp4" else {}
    with av.open(str(path), "w", container_options=options) as container:
        container.metadata.update(PLANTED)
        video = container.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.metadata.update({"handler_name": "CameraCoVideoHandler", "title": "CameraCoTrack"})
        audio = container.add_stream("aac", rate=48000)
        audio.metadata.update({"handler_name": "CameraCoSoundHandler"})
        samples_per_frame = 48000 // fps
        for index, image in enumerate(frames):
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
            tone = np.sin(2 * np.pi * 220 * (np.arange(samples_per_frame) + index * samples_per_frame) / 48000)
            sound = av.AudioFrame.from_ndarray((0.3 * tone).astype(np.float32)[None, :], format="fltp", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = 48000, index * samples_per_frame, Fraction(1, 48000)
            container.mux(audio.encode(sound))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return path


def planted_strings() -> list[bytes]:
    return [value.encode() for value in PLANTED.values()] + [b"CameraCo", b"2024-05-01", b"48.8577"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_masked_video_has_one_h264_stream_and_none_of_the_inputs_audio_or_tags(tmp_path, shared_data, suffix):
    with VideoReader(shared_data / "videos/lp_driving_d1.mp4") as reader:
        frames = [frame.image for frame in reader]
    source = camera_video(tmp_path / f"camera{suffix}", frames)
    assert [kind for kind, _, _ in video_streams(source)] == ["video", "audio"]
    with av.open(str(source)) as container:
        tags = {key.lower(): value for key, value in container.metadata.items()}  # Matroska writes them upper case
        assert tags["make"] == PLANTED["make"] and tags["location"] == PLANTED["location"], "the input carries the tags"

    result = dmask(tmp_path, "mask", source, "-o", "masked.mp4", "--no-progress")
    assert result.returncode == 0, result.stderr
    output = tmp_path / "masked.mp4"
    assert video_streams(output) == [("video", "h264", "yuv420p")]
    with av.open(str(output)) as container:
        tags = {**container.metadata, **container.streams.video[0].metadata}
        assert container.streams.video[0].frames == len(frames)
    assert set(tags) <= {"major_brand", "minor_version", "compatible_brands", "encoder", "language", "handler_name", "vendor_id",
                         "comment"}
    assert tags["comment"] == MASKED_TAG  # ours, for people and players (export trusts the seal, not this), not the camera's
    assert tags["encoder"].startswith("Lavf") and tags.get("handler_name") == "VideoHandler"
    data = output.read_bytes()
    assert not [s for s in planted_strings() if s in data]
    assert data.find(b"moov") < data.find(b"mdat"), "+faststart: the index comes first"


def test_a_masked_photo_carries_no_exif(tmp_path, shared_data):
    photo = Image.open(shared_data / "identities/eric_clapton/of_clapton-2.jpg")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = PLANTED["make"], PLANTED["model"], PLANTED["encoder"]  # Make, Model, Software
    exif[0x0132] = "2024:05:01 10:11:12"  # DateTime
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 27.7), 3: "E", 4: (2.0, 17.0, 42.0)}  # GPS
    source = tmp_path / "camera.jpg"
    photo.save(source, exif=exif)
    assert Image.open(source).getexif()[0x010F] == PLANTED["make"], "the input really carries EXIF"

    for output in ("masked.jpg", "masked.png"):
        result = dmask(tmp_path, "mask", source, "-o", output, "--no-progress")
        assert result.returncode == 0, result.stderr
        masked = Image.open(tmp_path / output)
        assert len(masked.getexif()) == 0 and "exif" not in masked.info
        data = (tmp_path / output).read_bytes()
        assert b"Exif" not in data and not [s for s in planted_strings() if s in data]
