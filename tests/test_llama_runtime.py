"""llama.cpp's weight repack is off where it crashes (a library built with AMX, llama.cpp#20824) and on
elsewhere, a user can override it, and every `Llama` this process builds gets the decided setting."""

from __future__ import annotations

import pytest

from modelops.deploy.llama_runtime import ENV, configure, cpu_flags, current_decision, decide, library_features

INFO = ("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
        "OPENMP = 1 | REPACK = 1 | ")


@pytest.mark.parametrize("setting, amx, enabled", [
    ("auto", True, False), ("auto", False, True), ("on", True, True), ("off", False, False)])
def test_the_repack_is_off_only_where_the_library_has_amx_unless_the_user_says(setting, amx, enabled):
    decision = decide(setting, amx)
    assert decision.enabled is enabled
    assert (ENV in decision.reason) == (setting != "auto" or amx)


def test_an_unknown_setting_is_refused_with_the_choices():
    with pytest.raises(SystemExit, match="auto, on, off"):
        decide("sometimes", False)


def test_library_features_are_read_from_the_system_info():
    features = library_features(INFO)
    assert features["AMX_INT8"] and features["AVX2"] and "AVX512_BF16" not in features


def test_cpu_flags_come_from_proc_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile amx_int8\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_tile", "amx_int8"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_this_machine_gets_the_safe_setting():
    """On a CPU with AMX and a native (AMX) build the repack must be off; elsewhere it stays on."""
    import llama_cpp

    has_amx = library_features(llama_cpp.llama_print_system_info().decode()).get("AMX_INT8", False)
    assert current_decision().enabled is not has_amx
    if {"amx_tile", "amx_int8"} <= cpu_flags() and has_amx:
        assert not current_decision().enabled


@pytest.mark.parametrize("setting, expected", [("off", False), ("on", True)])
def test_configure_reaches_the_model_parameters_every_llama_starts_from(monkeypatch, setting, expected):
    import llama_cpp.llama_cpp as bindings

    monkeypatch.setenv(ENV, setting)
    original = bindings.llama_model_default_params
    try:
        configure()
        configure()                                    # twice: wraps the original, not its own wrapper
        assert bindings.llama_model_default_params().use_extra_bufts is expected
        assert bindings.llama_model_default_params.unconfigured is original
    finally:
        bindings.llama_model_default_params = original
