"""Step `ollama_modelfile`: the Modelfile that makes Ollama prompt the model the way it was trained —
FROM the chosen GGUF, a TEMPLATE translated from the model's own chat template (or the recipe's) and
checked against it on the held-out conversations, a `PARAMETER stop` for every end-of-turn token, SYSTEM,
the recipe's PARAMETERs, MESSAGE and LICENSE; notes say which template each Ollama prompts with (0.30 and
newer take the GGUF's own for tools and thinking), after checking that the GGUF carries the model's.
`modelfile.json` holds the same fields for creating the model over Ollama's HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelops import jsonlines
from modelops.deploy.gguf_facts import gguf_chat_template, model_folder, servable_template
from modelops.deploy.modelfile_values import ends_block_early, ends_parameter_line
from modelops.deploy.ollama_selection import prompt_note
from modelops.deploy.ollama_template import Layout, TranslationError, first_difference, go_template, layout_of
from modelops.lm.rows import kind, prompt
from modelops.steps.runtime import Spec, main
from modelops.templates import render

CONTRACT_ROWS = 200
_SYSTEM = {"none": "refuses", "ignored": "ignores"}


def modelfile_fields(spec: Spec) -> dict[str, Any]:
    from transformers import AutoTokenizer

    p = spec.params
    tokenizer = AutoTokenizer.from_pretrained(model_folder(spec.inputs))
    gguf_template = _gguf_template(spec.inputs["gguf"], tokenizer)
    notes = [prompt_note(gguf_template)]
    if p.template:
        template, stops, family = p.template, [], "the recipe's deploy.ollama.template"
    else:
        try:
            layout = layout_of(tokenizer)
        except TranslationError as exc:
            raise SystemExit(f"cannot write a TEMPLATE: {exc}; give one as `deploy.ollama.template` "
                             "(Ollama's Go template over .Messages)") from None
        template, stops, family = go_template(layout), layout.stops, f"{layout.family} layout, {layout.system} system"
        _check_contract(tokenizer, layout, spec.inputs["validation.jsonl"])
        if not layout.takes_system and p.system:
            raise SystemExit(f"the model's chat template {_SYSTEM[layout.system]} system messages: "
                             "remove deploy.ollama.system")
        notes += _notes(layout)
        stops = [*stops, *(t for t in _eos_tokens(model_folder(spec.inputs), tokenizer) if t not in stops)]
    parameters = dict(p.parameters)
    extra_stops = parameters.pop("stop", [])
    stops = list(dict.fromkeys(stops + ([extra_stops] if isinstance(extra_stops, str) else extra_stops)))
    for key, text in (("TEMPLATE", template), *(("stop", s) for s in stops)):
        if ends_parameter_line(text) if key == "stop" else ends_block_early(text):
            raise SystemExit(f"{key} {text!r} contains quotes that a Modelfile cannot hold")
    gguf = spec.inputs["gguf"].name
    adapter = spec.inputs["adapter.gguf"].name if "adapter.gguf" in spec.inputs else None
    return {"name": p.name, "gguf": gguf, "adapter": adapter, "template": template, "stops": stops,
            "parameters": parameters, "system": p.system, "messages": [m.model_dump() for m in p.messages],
            "license": p.license,
            "translated_from": family, "notes": notes}


def _notes(layout: Layout) -> list[str]:
    """What the Modelfile says about the translation: what Ollama does differently from the chat template."""
    notes = []
    if not layout.takes_system:
        notes.append(f"the chat template {_SYSTEM[layout.system]} system messages: Ollama leaves them out of "
                     "the prompt")
    if layout.dated:
        notes.append("the chat template writes today's date: the TEMPLATE uses Ollama's currentDate (YYYY-MM-DD)")
    if layout.variables:
        notes.append(f"the chat template needs {', '.join(sorted(layout.variables))}: translated as rendered "
                     "without tools")
    if layout.thinking:
        notes.append("the chat template switches thinking (enable_thinking): where this TEMPLATE is used, a request "
                     "with `think: false` gets its no-thinking prompt, one without `think` its default; reasoning "
                     "stays in the reply text and `think: true` is refused (the TEMPLATE declares no thinking tags)")
    return notes


def _gguf_template(gguf: Path, tokenizer) -> str | None:
    """The chat template inside the GGUF, which must be the model's own (Ollama 0.30+ and llama.cpp prompt with
    it); a tokenizer with several named templates is compared on its default one."""
    carried = gguf_chat_template(gguf)
    own = tokenizer.chat_template
    own = own.get("default") if isinstance(own, dict) else own
    if carried is not None and own and carried != servable_template(own):
        raise SystemExit(f"the chat template inside {gguf.name} is not the model's own: llama.cpp and Ollama 0.30+ "
                         "would prompt it differently from training; rebuild the GGUF (`modelops apply --force`)")
    return carried


def _eos_tokens(folder: Path, tokenizer) -> list[str]:
    """The tokens of the model's EOS ids (generation_config.json may list several: Llama 3's end of turn and
    end of text), which Ollama must stop on too."""
    from transformers import GenerationConfig

    try:
        ids = GenerationConfig.from_pretrained(folder).eos_token_id
    except OSError:                                  # no generation_config.json
        return []
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    return [t for t in tokenizer.convert_ids_to_tokens(ids) if t]


def _check_contract(tokenizer, layout, validation: Path) -> None:
    """The TEMPLATE must prompt the model as its own chat template does on the held-out conversations (the
    translation was measured on marker texts; real ones can meet a `trim` or a content check)."""
    prompts = [prompt(row) for row in jsonlines.load(validation)[:CONTRACT_ROWS] if kind(row) != "text"]
    prompts = prompts or [[{"role": "user", "content": "你好, hello!"}]]     # plain-text data holds no conversation
    difference = first_difference(tokenizer, layout, prompts)
    if difference:
        raise SystemExit(f"the translated TEMPLATE would prompt the model differently from its own chat template on "
                         f"{validation.name}: {difference}; give `deploy.ollama.template` (Ollama's Go template "
                         "over .Messages) or make the data fit the chat template")
    print(f"TEMPLATE checked against the chat template on {len(prompts)} held-out conversation(s): identical")


def run(spec: Spec) -> None:
    fields = modelfile_fields(spec)
    text = render("ollama/Modelfile.j2", recipe=spec.id.split("/")[0], **fields)
    (spec.out / "Modelfile").write_text(text, encoding="utf-8")
    spec.write_json("modelfile.json", fields)
    print(text)
    print(f"TEMPLATE from the model's chat template ({fields['translated_from']}); stops: {', '.join(fields['stops'])}")


if __name__ == "__main__":
    main(run)
