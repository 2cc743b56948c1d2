"""Signal helpers for behaviour reports: detrending, the dominant oscillation, decimation."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

BAND_HZ = (0.3, 5.0)
"""Oscillations are looked for between these frequencies (slower is drift, faster is jitter)."""
PAD_FACTOR = 8
"""Zero padding of the FFT: the peak frequency is read on a grid 8x finer than 1/duration."""
FLAT = 1e-9
"""A detrended signal with a standard deviation below this has no oscillation."""


class Oscillation(BaseModel):
    """The dominant sinusoid of a detrended signal, in the signal's own unit.

    `amplitude` is the half peak-to-peak of the fitted sinusoid, A in A sin(2 pi f t + phi):
    a base swaying +-4 cm has amplitude 0.04 m. `share` is the fraction of the detrended
    signal's variance that this sinusoid explains (1: a pure oscillation, near 0: noise or
    a one-off movement such as a fall)."""

    model_config = ConfigDict(frozen=True)

    frequency: float
    amplitude: float
    share: float


def detrend(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """`x` minus its least-squares straight line over `t`."""
    if len(x) < 2:
        return x - x.mean() if len(x) else x
    slope, offset = np.polyfit(t, x, 1)
    return x - (slope * t + offset)


def dominant_oscillation(x: np.ndarray, fps: float, band: tuple[float, float] = BAND_HZ) -> Oscillation | None:
    """The strongest oscillation of `x` (sampled at `fps`) within `band`, or None for a flat
    or too short signal.

    Frequency: the peak of the Hann-windowed, zero-padded FFT of the linearly detrended
    signal. Amplitude: a least-squares fit of a sinusoid at that frequency (plus a line),
    which, unlike the FFT peak height, does not depend on the window or on where the
    frequency falls between FFT bins.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    t = np.arange(n) / fps
    low, high = band[0], min(band[1], fps / 2)
    if n < 8 or not np.all(np.isfinite(x)) or high <= low:
        return None
    residual = detrend(x, t)
    if residual.std() < FLAT:
        return None
    size = PAD_FACTOR * n
    spectrum = np.abs(np.fft.rfft(residual * np.hanning(n), size))
    freqs = np.fft.rfftfreq(size, 1 / fps)
    in_band = (freqs >= low) & (freqs <= high)
    if not in_band.any():
        return None
    frequency = float(freqs[in_band][np.argmax(spectrum[in_band])])
    w = 2 * np.pi * frequency * t
    basis = np.stack([np.sin(w), np.cos(w), t, np.ones(n)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    amplitude = float(np.hypot(coef[0], coef[1]))
    fitted = coef[0] * basis[:, 0] + coef[1] * basis[:, 1]
    share = float(min(1.0, fitted.var() / residual.var()))
    return Oscillation(frequency=round(frequency, 3), amplitude=amplitude, share=round(share, 3))


def decimation_step(fps: float, max_hz: float) -> int:
    """Keep every step-th sample so that the kept rate is at most `max_hz`."""
    return max(1, int(np.ceil(fps / max_hz - 1e-9)))
