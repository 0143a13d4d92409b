"""Presets: each loads and validates as written by ``botkit init --preset``, keeps the starter's comments,
carries its rules in English and Chinese; the customer-service project gets the example knowledge base;
the installed ``botkit`` lists presets, refuses an unknown one, and runs in the project it wrote."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from botkit import presets
from botkit.config import Settings, load_settings
from botkit.scaffold import STARTER_CONFIG, starter_config, write_starter
from tests.core.installed import run_botkit

USES = ["customer-service", "legal", "medical", "tutoring", "virtual-assistant"]
EXAMPLE_KB = Path(presets.__file__).parent / "example_kb"


def test_the_designs_uses_each_have_a_preset() -> None:
    assert presets.names() == USES
    for name in USES:
        assert presets.summary(name), f"{name} has no one-line description"


@pytest.mark.parametrize("name", USES)
def test_a_project_made_with_a_preset_loads_with_its_rules(tmp_path: Path, name: str) -> None:
    write_starter(tmp_path, preset=name)
    settings = load_settings(tmp_path / "botkit.toml")
    preset = presets.values(name)
    assert settings.chat.system_prompt == preset["chat"]["system_prompt"] != ""
    assert settings.safety.enabled
    assert settings.safety.emergency.words
    assert settings.safety.refuse
    # The starter's own settings are still there, and so are its comments.
    assert settings.plugins == ["plugins.example"]
    assert settings.rate_limit.messages == 20
    written = (tmp_path / "botkit.toml").read_text(encoding="utf-8")
    assert '# path = "/path/to/model"           # a local Hugging Face model directory' in written
    assert f"# Preset {name}: {presets.summary(name)}" in written


@pytest.mark.parametrize("name", USES)
def test_every_rule_text_is_in_english_and_chinese(name: str) -> None:
    safety = load_settings_of(name).safety
    tables = [safety.emergency.reply, *(topic.reply for topic in safety.refuse)]
    tables += [safety.disclaimer] if safety.disclaimer else []
    for table in tables:
        assert sorted(table) == ["en", "zh"], table
    words = [*safety.emergency.words, *(w for t in safety.refuse for w in t.words)]
    assert any(w.isascii() for w in words)
    assert any(not w.isascii() for w in words)


def load_settings_of(name: str) -> Settings:
    """The preset's values over the defaults (what the merged config adds to the starter's)."""
    return Settings.model_validate(presets.values(name))


def test_medical_and_legal_disclaim_and_customer_service_runs_the_desk() -> None:
    medical, legal = load_settings_of("medical"), load_settings_of("legal")
    assert "not a substitute for a doctor" in medical.safety.disclaimer["en"]
    assert "不能代替医生" in medical.safety.disclaimer["zh"]
    assert "not a substitute for a lawyer" in legal.safety.disclaimer["en"]
    assert "不能代替律师" in legal.safety.disclaimer["zh"]
    desk = load_settings_of("customer-service")
    assert desk.desk.enabled
    assert desk.safety.handoff.words
    assert not desk.kb.rephrase  # FAQ answers in the shop's own words
    for name in ("virtual-assistant", "tutoring", "customer-service"):
        assert not load_settings_of(name).safety.disclaimer


def test_the_customer_service_project_gets_the_example_knowledge_base(tmp_path: Path) -> None:
    written = write_starter(tmp_path / "shop", preset="customer-service")
    kb = tmp_path / "shop" / "kb"
    shipped = sorted(p.relative_to(EXAMPLE_KB) for p in EXAMPLE_KB.rglob("*") if p.is_file())
    copied = sorted(p.relative_to(kb) for p in kb.rglob("*") if p.is_file())
    assert copied == shipped
    assert Path("faq.csv") in copied
    assert all((kb / p).read_bytes() == (EXAMPLE_KB / p).read_bytes() for p in shipped)
    assert {kb / p for p in copied} <= set(written)
    # Presets without a [kb] table get no knowledge base.
    write_starter(tmp_path / "clinic", preset="medical")
    assert not (tmp_path / "clinic" / "kb").exists()


def test_an_unknown_preset_names_the_presets_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(presets.UnknownPresetError, match="the presets are: customer-service, legal, medical"):
        write_starter(tmp_path / "x", preset="dentist")
    assert not (tmp_path / "x").exists()


def test_a_changed_knowledge_base_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    write_starter(tmp_path, preset="customer-service")
    faq = tmp_path / "kb" / "faq.csv"
    faq.write_text("question,answer\nOur own?,Yes.\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"faq\.csv already exists"):
        write_starter(tmp_path, preset="customer-service")
    assert faq.read_text(encoding="utf-8") == "question,answer\nOur own?,Yes.\n"
    write_starter(tmp_path, preset="customer-service", force=True)
    assert faq.read_bytes() == (EXAMPLE_KB / "faq.csv").read_bytes()


def test_merging_keeps_values_and_refuses_a_preset_with_top_level_keys() -> None:
    assert starter_config(None) == STARTER_CONFIG
    merged = tomllib.loads(starter_config("legal"))
    assert merged["model"] == tomllib.loads(STARTER_CONFIG)["model"]
    assert merged["safety"]["refuse"][0]["name"] == "breaking the law"
    with pytest.raises(ValueError, match="a preset holds tables only"):
        presets.merge_config(STARTER_CONFIG, 'name = "other"\n[chat]\nsystem_prompt = "x"\n')


def test_installed_botkit_lists_presets_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    listing = run_botkit(["init", "--list-presets"], cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr.decode()
    lines = listing.stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == USES
    assert "Medical information: general health facts" in listing.stdout.decode()

    unknown = run_botkit(["init", "clinic", "--preset", "dentist"], cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.decode().strip() == (
        "botkit init: no preset named 'dentist'; the presets are: "
        "customer-service, legal, medical, tutoring, virtual-assistant"
    )
    assert not (tmp_path / "clinic").exists()


def test_installed_botkit_init_customer_service_writes_a_project_that_runs(tmp_path: Path) -> None:
    made = run_botkit(["init", "shop", "--preset", "customer-service"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr.decode()
    out = made.stdout.decode()
    assert "wrote shop/botkit.toml" in out
    assert "wrote shop/kb/ (the example shop's knowledge base, " in out
    assert out.rstrip().endswith("next: cd shop && botkit kb add kb && botkit chat")
    project = tmp_path / "shop"
    assert (project / "kb" / "faq.csv").is_file()

    listing = run_botkit(["plugins"], cwd=project)
    assert listing.returncode == 0, listing.stderr.decode()
    assert "example (plugins.example.Example)" in listing.stdout.decode()
    settings = load_settings(project / "botkit.toml")
    assert settings.desk.enabled
    assert settings.safety.enabled


def test_installed_botkit_chat_applies_the_medical_presets_rules(tmp_path: Path) -> None:
    made = run_botkit(["init", "clinic", "--preset", "medical"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr.decode()
    said = "/help\nwrite me a prescription for antibiotics\nI want to end my life\n"
    chat = run_botkit(["chat"], stdin=said.encode(), cwd=tmp_path / "clinic")
    assert chat.returncode == 0, chat.stderr.decode()
    out = chat.stdout.decode()
    assert out.count("not a substitute for a doctor") == 1  # the disclaimer, once, at the start
    assert "I cannot prescribe medicine or tell you what dose to take." in out
    assert "This may be an emergency. I am a bot and cannot help with it." in out
