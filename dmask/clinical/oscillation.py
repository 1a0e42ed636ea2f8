"""Nystagmus in a recording's gaze: an oscillation the two eyes share, found in their velocity spectrum.

Why not each eye's position spectrum, as before: gaze that wanders and jumps
(saccades are steps) piles its power up at the low end, so the strongest peak
above 1 Hz held a quarter of the band's power in healthy talking heads, and
the report called 17 of 22 of ../shared/data's videos nystagmus (issue 25).

The method:
- each eye's gaze (deg; frames in a blink, under a cover or without a face are
  gaps, bridged linearly) is differentiated: a saccade's step becomes an
  impulse, whose spectrum is flat; velocities beyond CLIP_TIMES robust
  standard deviations (a saccade, a glance) are clipped, so a few large
  glances do not make a rhythm;
- the two eyes' velocities are averaged: nystagmus moves both eyes, while
  each eye's measurement jitter is its own;
- the strongest bin of the Hann-windowed periodogram from MIN_HZ to
  MAX_NYQUIST_SHARE of the Nyquist frequency is an oscillation where it stands
  above the band's median power by what white noise would reach in one of its
  M bins with probability FALSE_ALARM: for exponentially distributed powers,
  ln(M / FALSE_ALARM) / ln 2 times the median;
- its frequency is refined, and its amplitude (deg, peak to peak) measured,
  by a least-squares sine on the same clipped velocity, of both eyes and of
  each (a sine of A deg p-p changes by A sin(pi f / fps) a frame at most),
  so the glances' steps do not add to it either.
A nystagmus of one eye only shows at half its size in the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_HZ = 1.0
MAX_NYQUIST_SHARE = 0.9
FALSE_ALARM = 1e-3
CLIP_TIMES = 3.0  # robust standard deviations of the velocity
MAD_TO_SD = 1.4826
MIN_SECONDS = 2.0  # of gaze measured in both eyes
REFINE_STEPS = 41  # frequencies tried within one bin either side of the peak


@dataclass(frozen=True)
class Oscillation:
    """An oscillation of the gaze on one axis, or none (frequency NaN).

    frequency_hz; amplitude_deg: peak to peak, of the two eyes' mean;
    right_deg, left_deg: each eye's, at that frequency; prominence: the peak's
    power over the band's median; threshold: the prominence it had to reach.
    """

    frequency_hz: float = math.nan
    amplitude_deg: float = math.nan
    right_deg: float = math.nan
    left_deg: float = math.nan
    prominence: float = math.nan
    threshold: float = math.nan

    @property
    def found(self) -> bool:
        return math.isfinite(self.frequency_hz)


def _velocity(trace: np.ndarray) -> np.ndarray:
    """(N - 1,) frame-to-frame change of a gaze trace, gaps bridged, saccades clipped (module docstring)."""
    frames = np.arange(len(trace))
    valid = np.isfinite(trace)
    steps = np.diff(np.interp(frames, frames[valid], trace[valid]))
    steps -= np.median(steps)
    limit = CLIP_TIMES * MAD_TO_SD * np.median(np.abs(steps))
    return np.clip(steps, -limit, limit) if limit > 0 else steps


def velocity_spectrum(right: np.ndarray, left: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(frequencies Hz, power, band indices) of the eyes' mean gaze velocity; None with too little gaze measured."""
    velocities = _velocities(right, left, fps)
    return None if velocities is None else _spectrum(velocities.mean(0), fps)


def _spectrum(velocity: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """velocity_spectrum of a mean velocity already made; None with no frequency in the band."""
    power = np.abs(np.fft.rfft(velocity * np.hanning(len(velocity)))) ** 2
    frequencies = np.fft.rfftfreq(len(velocity), 1.0 / fps)
    band = np.flatnonzero((frequencies >= MIN_HZ) & (frequencies <= MAX_NYQUIST_SHARE * fps / 2))
    return (frequencies, power, band) if len(band) else None


def _velocities(right: np.ndarray, left: np.ndarray, fps: float) -> np.ndarray | None:
    """(2, N - 1) each eye's clipped gaze velocity, deg a frame; None with too little gaze measured in either."""
    measured = min(np.isfinite(right).sum(), np.isfinite(left).sum())
    if not math.isfinite(fps) or measured < MIN_SECONDS * fps:
        return None
    return np.array([_velocity(right), _velocity(left)])


def threshold(bins: int) -> float:
    """The prominence white noise reaches in one of `bins` periodogram bins with probability FALSE_ALARM."""
    return math.log(bins / FALSE_ALARM) / math.log(2.0)


def sine_amplitude(velocity: np.ndarray, measured: np.ndarray, fps: float, frequency: float) -> float:
    """Peak-to-peak amplitude (deg) of the position sine whose frame-to-frame change fits velocity
    (least squares, over the measured changes only: a bridged gap holds no oscillation)."""
    phase = 2.0 * np.pi * frequency * np.flatnonzero(measured) / fps
    design = np.column_stack([np.sin(phase), np.cos(phase), np.ones_like(phase)])
    (a, b, _), *_ = np.linalg.lstsq(design, velocity[measured], rcond=None)
    return math.hypot(a, b) / math.sin(math.pi * frequency / fps)


def find_oscillation(right: np.ndarray, left: np.ndarray, fps: float) -> Oscillation:
    """The oscillation both eyes' gaze traces (deg a frame at fps, NaN gaps) share on one axis, or none."""
    velocities = _velocities(right, left, fps)
    spectrum = None if velocities is None else _spectrum(velocities.mean(0), fps)
    if spectrum is None:
        return Oscillation()
    frequencies, power, band = spectrum
    peak = band[np.argmax(power[band])]
    prominence = float(power[peak] / max(float(np.median(power[band])), 1e-300))
    needed = threshold(len(band))
    if prominence < needed:
        return Oscillation(prominence=prominence, threshold=needed)
    measured = [np.isfinite(t[1:]) & np.isfinite(t[:-1]) for t in (right, left)]
    both, in_both = velocities.mean(0), measured[0] & measured[1]
    step = frequencies[1]
    tried = np.linspace(frequencies[peak] - step, frequencies[peak] + step, REFINE_STEPS)
    frequency = float(tried[np.argmax([sine_amplitude(both, in_both, fps, f) for f in tried])])
    each = (sine_amplitude(v, m, fps, frequency) for v, m in zip(velocities, measured))
    return Oscillation(frequency, sine_amplitude(both, in_both, fps, frequency), *each, prominence, needed)
