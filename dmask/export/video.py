"""A masked MP4 as a DICOM Video Photographic Image (PS3.3 A.32.7), H.264 in one fragment.

The video is not re-encoded: its H.264 packets are copied, unchanged, into
one Annex B elementary stream (FFmpeg's h264 muxer converts the MP4's
length-prefixed NAL units), which is the single fragment after an empty Basic
Offset Table (PS3.5 8.2.8). So the PACS holds exactly the frames of the MP4.

Transfer syntax, from the stream's own SPS (profile and level, PS3.5 10.13):
High (or Main, or Constrained Baseline, both subsets of it) at level 4.1 or
below, up to 1920x1080, is 1.2.840.10008.1.2.4.102 (what dmask writes up to
1080p at 30 frames/s); level 4.2 (1080p at 50 or 60) is .104. Anything
beyond is refused with the size to record at. .103 (BD-compatible) is not
used: it is a subset of .102 restricted to Blu-ray's sizes and rates, which a
clinic camera's stream does not promise, and every .103 decoder reads .102.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_fragments
from pydicom.tag import Tag
from pydicom.uid import MPEG4HP41, MPEG4HP422D, UID, VideoPhotographicImageStorage

from dmask.errors import InputError
from dmask.export.identity import Series, StudyIdentity, new_instance
from dmask.provenance import ProvenanceKey, seal_problem

_ANNEX_B = "h264"
_NAL_SPS = 7
_PROFILES = {66: "Constrained Baseline", 77: "Main", 100: "High"}
_MAX_SIZE = (1920, 1080)
_LEVELS = ((41, MPEG4HP41), (42, MPEG4HP422D))  # the highest level_idc each syntax takes
# SNOMED CT 89545001 "Face structure": the region shown, for viewers' hanging protocols.
_FACE = ("89545001", "SCT", "Face structure")


@dataclass(frozen=True)
class H264Stream:
    """An MP4's video as one Annex B bitstream. fps: frames per second; profile and level: the SPS's idc values."""

    bitstream: bytes
    width: int
    height: int
    fps: Fraction
    frames: int
    profile: int
    level: int


def read_h264(path: Path, key: ProvenanceKey) -> H264Stream:
    """The H.264 video of a masked MP4 that this appliance wrote and sealed with key, packets unchanged;
    InputError for anything else."""
    try:
        problem = seal_problem(path, key)
        source = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise InputError(f"{path}: cannot be read as a video ({error}); give a masked MP4") from error
    if problem:
        raise InputError(f"{path}: not a video this appliance masked as it stands ({problem}); export only the "
                         "MP4s that dmask mask, batch or record wrote here, unchanged, never a camera's file")
    with source:
        video = source.streams.video[0] if source.streams.video else None
        if video is None or video.codec_context.name != "h264":
            raise InputError(f"{path}: holds no H.264 video; write it with output.video_codec h264")
        buffer = io.BytesIO()
        frames = 0
        with av.open(buffer, "w", format=_ANNEX_B) as sink:
            stream = sink.add_stream_from_template(video)
            for packet in source.demux(video):
                if packet.dts is not None:
                    packet.stream = stream
                    sink.mux(packet)
                    frames += 1
        fps = Fraction(video.average_rate) if video.average_rate else Fraction(30)
        bitstream = buffer.getvalue()
        profile, level = _sps(bitstream, path)
        return H264Stream(bitstream, video.codec_context.width, video.codec_context.height, fps, frames,
                          profile, level)


def _sps(bitstream: bytes, path: Path) -> tuple[int, int]:
    """(profile_idc, level_idc) of the first sequence parameter set."""
    at = bitstream.find(b"\x00\x00\x01")
    while at >= 0 and at + 6 <= len(bitstream):
        if bitstream[at + 3] & 0x1F == _NAL_SPS:
            return bitstream[at + 4], bitstream[at + 6]
        at = bitstream.find(b"\x00\x00\x01", at + 3)
    raise InputError(f"{path}: its H.264 stream has no sequence parameter set; it cannot be archived")


def transfer_syntax(stream: H264Stream, path: Path) -> UID:
    """The MPEG-4 AVC transfer syntax for the stream, or InputError saying what to record at instead."""
    width, height = _MAX_SIZE
    if stream.profile not in _PROFILES:
        raise InputError(f"{path}: H.264 profile {stream.profile} is not High, Main or Baseline, which DICOM's "
                         "H.264 transfer syntaxes need; mask it again with dmask")
    if max(stream.width, stream.height) <= width and min(stream.width, stream.height) <= height:
        for level, syntax in _LEVELS:
            if stream.level <= level:
                return syntax
    raise InputError(f"{path}: H.264 level {stream.level / 10:g} at {stream.width}x{stream.height} is beyond "
                     f"DICOM's H.264 transfer syntaxes (level 4.2 and {width}x{height} at most); "
                     "record or mask at 1080p or below")


def video_instance(path: Path, key: ProvenanceKey, identity: StudyIdentity, series: Series, number: int,
                   recorded: dt.datetime) -> Dataset:
    """The Video Photographic Image instance of the masked MP4 at path, sealed with key."""
    stream = read_h264(path, key)
    ds = new_instance(VideoPhotographicImageStorage, transfer_syntax(stream, path), identity, series, number,
                      recorded)
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PatientOrientation = ""  # no patient axes in a photograph
    ds.Laterality = ""  # type 2C; the face is not paired, so empty (validators cannot tell and ask for it)
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = stream.height, stream.width
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = stream.frames
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)  # Frame Time
    ds.FrameTime = f"{1000.0 / float(stream.fps):.6g}"
    ds.CineRate = ds.RecommendedDisplayFrameRate = round(float(stream.fps))
    ds.StartTrim, ds.StopTrim = 1, stream.frames
    ds.AcquisitionContextSequence = []
    ds.AnatomicRegionSequence = [_region()]
    ds.PixelData = encapsulate([stream.bitstream], has_bot=False)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds


def _region() -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = _FACE
    return item


def decode_frames(ds: Dataset) -> list[np.ndarray]:
    """The (height, width, 3) uint8 BGR frames of a Video Photographic instance: what a viewer plays."""
    bitstream = b"".join(generate_fragments(ds.PixelData))
    with av.open(io.BytesIO(bitstream), format=_ANNEX_B) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
