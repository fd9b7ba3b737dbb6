"""Write the generated traces shipped in traces/ (deterministic: fixed seeds, no network).

Run from anywhere::

    python traces/make_traces.py            # writes next to this script
    python traces/make_traces.py --out DIR  # somewhere else

Every trace comes from :mod:`intersim.energy.generators` with ``numpy.random.default_rng(seed)``;
the seeds and parameters are in ``TRACES`` below and in traces/README.md. Powers are rounded to
1 nW so the CSV files stay small (the rounded values round-trip exactly). Re-running rewrites
bit-identical files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from intersim.energy import harvester
from intersim.energy import generators as trace_gen
from intersim.energy.trace import Trace
from intersim.energy.trace_io import save_trace

HERE = Path(__file__).resolve().parent

#: NREL Solar Radiation Research Laboratory, Golden, Colorado (the site of the MIDC BMS data).
GOLDEN_LAT, GOLDEN_LON, GOLDEN_ALT_M, GOLDEN_TZ = 39.742, -105.18, 1828.8, "Etc/GMT+7"  # MST
POWER_RESOLUTION_W = 1e-9


def _rounded(trace: Trace, name: str, **meta) -> Trace:
    power = np.round(trace.power_w / POWER_RESOLUTION_W) * POWER_RESOLUTION_W
    return Trace(trace.time_s, power, trace.end_s, loop=trace.loop, name=name,
                 meta={**trace.meta, **meta, "power_resolution_w": POWER_RESOLUTION_W})


def solar_cloudy_1h(seed=1):
    """Small PV cell (1 cm^2, 4.4 % effective), broken clouds, 11:30-12:30 MST, 15 June 2023."""
    t = trace_gen.solar(GOLDEN_LAT, GOLDEN_LON, "2023-06-15 11:30", 3600.0, 1.0,
                        harvester.SMALL_CELL_AREA_M2, harvester.SMALL_CELL_EFFICIENCY,
                        cloud="cloudy", rng=np.random.default_rng(seed), tz=GOLDEN_TZ,
                        altitude_m=GOLDEN_ALT_M)
    return _rounded(t, "solar_cloudy_1h", seed=seed)


def solar_day_24h(seed=2):
    """Same cell and site, the whole of 15 June 2023 (MST), broken clouds, 1-s resolution."""
    t = trace_gen.solar(GOLDEN_LAT, GOLDEN_LON, "2023-06-15 00:00", 86400.0, 1.0,
                        harvester.SMALL_CELL_AREA_M2, harvester.SMALL_CELL_EFFICIENCY,
                        cloud="cloudy", rng=np.random.default_rng(seed), tz=GOLDEN_TZ,
                        altitude_m=GOLDEN_ALT_M)
    return _rounded(t, "solar_day_24h", seed=seed)


def indoor_office_8h(seed=3):
    """AM1417 indoor cell on an office desk, 08:00-16:00: 500 lx lights with a lunch break at
    reduced light (150 lx, 12:00-12:45), 30 lx ambient before the lights come on at 08:15,
    people shading the cell ~6 times an hour; 1-s resolution (100 Hz flicker averages out)."""
    h = 3600.0
    schedule = [(0.25 * h, 4.0 * h, 500.0), (4.0 * h, 4.75 * h, 150.0), (4.75 * h, 8.0 * h, 500.0)]
    t = trace_gen.indoor(schedule, 8 * h, 1.0, off_lux=30.0, flicker_hz=100.0, flicker_depth=0.3,
                         occlusion_rate_per_h=6.0, occlusion_factor=0.4, mean_occlusion_s=30.0,
                         noise_sigma=0.02, cell=harvester.AM1417, rng=np.random.default_rng(seed))
    return _rounded(t, "indoor_office_8h", seed=seed)


def rf_reader_10min(seed=4):
    """915 MHz UHF RFID reader, 1 W into a 6 dBi antenna, tag dipole 2 dBi at 3 m, Rician
    fading (K = 3, 50 ms coherence: a person moving), reader on 4 s / off 1 s; 10-ms samples."""
    t = trace_gen.rf(3.0, 1.0, 915e6, 600.0, 0.01, tx_gain_dbi=6.0, rx_gain_dbi=2.0,
                     fading="rician", rician_k=3.0, coherence_s=0.05, reader_on_s=4.0,
                     reader_off_s=1.0, rng=np.random.default_rng(seed))
    return _rounded(t, "rf_reader_10min", seed=seed)


def rf_reader_duty_10min(seed=5):
    """The same reader and tag at 1.2 m, but the reader inventories only 3 s out of every 15 s
    (on 3 s / off 12 s, serving other tags or duty-cycled for regulations): long dark gaps in
    which a node that is mid-inference browns out; 10-ms samples. The default scenario's trace."""
    t = trace_gen.rf(1.2, 1.0, 915e6, 600.0, 0.01, tx_gain_dbi=6.0, rx_gain_dbi=2.0,
                     fading="rician", rician_k=3.0, coherence_s=0.05, reader_on_s=3.0,
                     reader_off_s=12.0, rng=np.random.default_rng(seed))
    return _rounded(t, "rf_reader_duty_10min", seed=seed)


#: file name -> builder
TRACES = {
    "solar_cloudy_1h.csv": solar_cloudy_1h,
    "solar_day_24h.parquet": solar_day_24h,
    "indoor_office_8h.csv": indoor_office_8h,
    "rf_reader_10min.csv": rf_reader_10min,
    "rf_reader_duty_10min.csv": rf_reader_duty_10min,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: traces/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for file_name, build in TRACES.items():
        trace = build()
        path = save_trace(trace, args.out / file_name)
        s = trace.stats()
        print(f"{path.name}: {s['samples']} samples, {s['duration_s']:g} s, mean "
              f"{s['mean_power_w'] * 1e3:.4g} mW, max {s['max_power_w'] * 1e3:.4g} mW, "
              f"{path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
