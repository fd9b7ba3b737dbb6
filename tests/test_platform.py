"""Platform presets: every constant valid, sizes sane, errors name the bad value."""
import dataclasses
import math

import pytest

from intersim.errors import PlatformError
from intersim.hw.platform import KERNEL_KINDS, NVM_KINDS, PRESETS, Platform, get_platform


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_constants_valid(name):
    p = get_platform(name)
    for f in dataclasses.fields(Platform):
        v = getattr(p, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            assert math.isfinite(v) and v >= 0, f.name
    assert p.clock_hz > 0 and p.active_power_w > 0 and p.supply_v > 0
    assert p.sleep_power_w < p.active_power_w
    assert 1024 <= p.sram_bytes <= 256 * 1024          # the MCU class of the brief
    assert p.nvm_bytes >= 64 * 1024
    assert p.nvm_kind in NVM_KINDS
    assert p.default_kernel in p.mac_cycles
    assert set(p.mac_cycles) <= set(KERNEL_KINDS)
    assert p.sources, "every preset names its sources"


def test_required_presets_and_their_memories():
    assert get_platform("msp430fr5994").nvm_kind == "fram-internal"
    assert get_platform("msp430fr5994").nvm_word_bytes == 2
    assert {"cpu", "vector"} <= set(get_platform("msp430fr5994").mac_cycles)
    ext = get_platform("msp430fr5994-extfram")
    assert ext.nvm_kind == "fram-spi" and ext.nvm_bytes == 512 * 1024
    assert get_platform("msp432p401r").sram_bytes == 64 * 1024
    mx = get_platform("max78000")
    assert mx.nvm_kind == "flash" and mx.nvm_page_bytes == 8192 and mx.nvm_word_bytes == 16
    assert mx.default_kernel == "accelerator" and mx.volatile_weight_bytes > 0
    assert get_platform("msp430fr5994-inas-boot").boot_measured_at == "capacitor"


def test_extfram_matches_published_fits():
    p = get_platform("msp430fr5994-extfram")
    # 64 n + 424 cycles over n 16-bit elements = 32 cycles per byte.
    assert p.nvm_read_cycles_per_byte * 2 == pytest.approx(64.0)
    assert p.nvm_transfer_cycles == pytest.approx(424.0)
    assert p.nvm_write_transfer_cycles == pytest.approx(422.2277, abs=1e-3)
    assert p.mac_cycles["vector"] == pytest.approx(1.5) and p.mac_call_cycles["vector"] == pytest.approx(616.0)
    # total DMA energy per element = active energy over 64 cycles + the chip's share
    e = 64 * p.energy_per_cycle_j + 2 * p.nvm_read_energy_per_byte_j
    assert e == pytest.approx(2.7e-8, rel=1e-9)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(PlatformError, match="msp430fr5994") as ei:
        get_platform("msp9999")
    assert "msp9999" in str(ei.value)
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("change, match", [
    ({"clock_hz": 0.0}, "clock_hz"),
    ({"active_power_w": float("nan")}, "active_power_w"),
    ({"sram_bytes": -1}, "sram_bytes"),
    ({"nvm_kind": "eeprom"}, "eeprom"),
    ({"default_kernel": "accelerator"}, "accelerator"),
    ({"mac_cycles": {"gpu": 1.0}, "mac_call_cycles": {"gpu": 1.0}}, "gpu"),
    ({"nvm_kind": "flash"}, "flash"),
    ({"boot_measured_at": "wall"}, "wall"),
    ({"no_such_field": 1}, "no_such_field"),
])
def test_invalid_constants_rejected(change, match):
    with pytest.raises(PlatformError, match=match):
        get_platform("msp430fr5994").with_(**change)


def test_preset_tables_are_private_copies():
    p = get_platform("msp430fr5994")
    q = p.with_(name="copy")
    q.mac_cycles["cpu"] = 1.0
    assert p.mac_cycles["cpu"] != 1.0
