"""The chat-template translation, proved with Go's own text/template: for each family's Hugging Face
template, the Go TEMPLATE executed the way Ollama executes it yields exactly the prompt that
transformers' `apply_chat_template(..., add_generation_prompt=True)` yields, apart from the leading BOS."""

from __future__ import annotations

import pytest
from conftest import chat_tokenizer as _tokenizer

FAMILIES = {
    "chatml": (
        """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""",
        "<s>",
        "<|im_end|>",
    ),
    "qwen2.5": (
        """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}""",
        None,
        "<|im_end|>",
    ),
    "llama3": (
        """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}""",
        "<|begin_of_text|>",
        "<|eot_id|>",
    ),
    "llama3.1": (
        """{{- bos_token }}
{%- if not date_string is defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}""",
        "<|begin_of_text|>",
        "<|eot_id|>",
    ),
    "llama2": (
        """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}""",
        "<s>",
        "</s>",
    ),
    "mistral": (
        """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"] + eos_token}}
    {%- endif %}
{%- endfor %}""",
        "<s>",
        "</s>",
    ),
    "gemma": (
        """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'assistant') -%}{%- set role = "model" -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{'<start_of_turn>model\n'}}{%- endif -%}""",
        "<bos>",
        "<eos>",
    ),
    "phi3": (
        """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}""",
        "<s>",
        "<|endoftext|>",
    ),
    "deepseek-r1": (
        """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}{%- endfor -%}{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}""",
        "<｜begin▁of▁sentence｜>",
        "<｜end▁of▁sentence｜>",
    ),
    "deepseek-llm": (
        """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}""",
        "<｜begin▁of▁sentence｜>",
        "<｜end▁of▁sentence｜>",
    ),
    "zephyr": (
        """{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>\n'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}""",
        "<s>",
        "</s>",
    ),
    "alpaca": (
        """{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% elif message['role'] == 'user' %}{{ '### Instruction:\n' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ '### Response:\n' + message['content'] + eos_token + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}""",
        "<s>",
        "</s>",
    ),
    "vicuna": (
        """{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + ' ' }}{% elif message['role'] == 'user' %}{{ 'USER: ' + message['content'] + ' ' }}{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' + message['content'] + eos_token + ' ' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}""",
        "<s>",
        "</s>",
    ),
}
NAMED = ["chatml", "qwen2", "llama3", "mistral", "gemma", "phi3"]  # modelops' own templates/chat/*.jinja
CONVERSATION = [
    {"role": "system", "content": "你是机器学习助教。Answer briefly."},
    {"role": "user", "content": "什么是过拟合？"},
    {"role": "assistant", "content": "模型记住了训练集的噪声。"},
    {"role": "user", "content": "How do I spot it?\nIn one line."},
]
EXPECTED_STOPS = {
    "chatml": "<|im_end|>",
    "qwen2.5": "<|im_end|>",
    "llama3": "<|eot_id|>",
    "llama3.1": "<|eot_id|>",
    "llama2": "</s>",
    "mistral": "</s>",
    "gemma": "<end_of_turn>",
    "phi3": "<|end|>",
    "deepseek-r1": "<｜end▁of▁sentence｜>",
    "deepseek-llm": "<｜end▁of▁sentence｜>",
    "zephyr": "</s>",
    "alpaca": "### Instruction:",
    "vicuna": "USER:",
}


def _expected(tokenizer, messages) -> str:
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return (
        prompt[len(tokenizer.bos_token) :] if tokenizer.bos_token and prompt.startswith(tokenizer.bos_token) else prompt
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_go_template_reproduces_the_hf_chat_template(family, go_render):
    from modelops.deploy.ollama_template import go_template, layout_of

    tokenizer = _tokenizer(*FAMILIES[family])
    layout = layout_of(tokenizer)
    template = go_template(layout)
    assert go_render(template, CONVERSATION) == _expected(tokenizer, CONVERSATION)
    without_system = CONVERSATION[1:]
    assert go_render(template, without_system) == _expected(tokenizer, without_system)
    assert EXPECTED_STOPS[family] in layout.stops


@pytest.mark.parametrize("name", NAMED)
def test_modelops_named_templates_translate(name, go_render):
    from modelops.deploy.ollama_template import go_template, layout_of
    from modelops.lm.chat_templates import chat_template

    tokenizer = _tokenizer(chat_template(name), "<s>", "</s>")
    template = go_template(layout_of(tokenizer))
    assert go_render(template, CONVERSATION) == _expected(tokenizer, CONVERSATION)


def test_a_template_that_cannot_be_translated_is_refused():
    from modelops.deploy.ollama_template import TranslationError, layout_of

    numbered = "{% for m in messages %}[{{ loop.index }}] {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(TranslationError, match="cannot be translated|cannot reproduce"):
        layout_of(_tokenizer(numbered, "<s>", "</s>"))
    with pytest.raises(TranslationError, match="no chat template"):
        layout_of(_tokenizer("", "<s>", "</s>"))


LLAMA_32 = (  # the core of Llama 3.2's template: today's date in the system header, a system slot
    """{{- bos_token }}{%- set date_string = strftime_now("%d %b %Y") %}"""
    """{{- "<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: " """
    """+ date_string + "\\n\\n" }}{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] | trim }}"""
    """{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"""
    """{{- "<|eot_id|>" }}{%- for message in loop_messages %}{{- '<|start_header_id|>' + message['role'] + """
    """'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"""
    """{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"""
)


def test_todays_date_is_translated_to_ollamas_current_date_not_frozen(go_render):
    import datetime

    from modelops.deploy.ollama_template import go_template, layout_of

    tokenizer = _tokenizer(LLAMA_32, "<|begin_of_text|>", "<|eot_id|>")
    layout = layout_of(tokenizer)
    template = go_template(layout)
    frozen = datetime.date.today().strftime("%d %b %Y")
    assert layout.dated and "{{ currentDate }}" in template and frozen not in template
    today = datetime.date.today().isoformat()         # what Ollama's currentDate writes, whatever the format
    for messages in (CONVERSATION, CONVERSATION[1:]):
        expected = _expected(tokenizer, messages).replace(frozen, today)
        assert go_render(template, messages) == expected


@pytest.mark.parametrize("template, why", [
    ("{% for m in messages %}{{ m['content'] }}{% endfor %}{{ guideline.strip() }}", "UndefinedError"),
    ("{% for m in messages %}{% if m['role'] == 'assistant' %}{{ raise_exception('no assistant turns') }}"
     "{% endif %}{{ m['content'] }}{% endfor %}", "no assistant turns"),
])
def test_a_template_that_fails_on_a_plain_conversation_is_refused_not_a_crash(template, why):
    from modelops.deploy.ollama_template import TranslationError, layout_of

    with pytest.raises(TranslationError, match=f"fails on a user/assistant/user conversation.*{why}"):
        layout_of(_tokenizer(template, "<s>", "</s>"))


def test_the_contract_check_finds_what_marker_probes_cannot_see():
    """Llama 3 trims each content; the markers have no spaces to trim, a held-out answer can."""
    from modelops.deploy.ollama_template import first_difference, layout_of

    tokenizer = _tokenizer(*FAMILIES["llama3"])
    layout = layout_of(tokenizer)
    assert first_difference(tokenizer, layout, [CONVERSATION, CONVERSATION[1:]]) is None
    padded = [{"role": "user", "content": "What is overfitting?\n"}]
    found = first_difference(tokenizer, layout, [CONVERSATION, padded])
    assert found and found.startswith("conversation 2, character ") and "overfitting?\\n" in found
    gemma2 = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}" \
             "{% endif %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}" \
             "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    tokenizer = _tokenizer(gemma2, "<bos>", "<eos>")
    layout = layout_of(tokenizer)
    assert layout.system == "none" and first_difference(tokenizer, layout, [CONVERSATION]) is None
