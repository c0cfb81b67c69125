"""Which prompt Ollama builds a chat from. Since 0.30 Ollama runs GGUF models in llama-server: a chat goes
through the chat template inside the GGUF (rendered by llama-server's Jinja, with the request's tools and
`think` as `enable_thinking`, and tool calls and reasoning parsed from the reply by llama.cpp) when that
template can do more than the Modelfile's TEMPLATE — tools or thinking — and through the TEMPLATE
otherwise; older servers, and servers started with OLLAMA_GO_TEMPLATE set, always use the TEMPLATE.
The rule is Ollama's (server/images.go: `chatTemplateCapabilities`, `shouldPreferChatTemplate`; routes.go:
`usesOllamaRenderedChat`); a translated TEMPLATE declares neither tools nor thinking tags, so the GGUF's
template wins exactly when it has a capability."""

from __future__ import annotations

TOOL_WORDS = ("tools", "tool_call")
THINK_TAGS = ("<think>", "</think>")
THINK_SPLITS = ("content.split('</think>')", 'content.split("</think>")')


def chat_template_capabilities(chat_template: str) -> list[str]:
    """What Ollama reads a GGUF chat template to offer: `tools` when its text names tools or tool calls,
    `thinking` when it writes <think>…</think> (or strips earlier reasoning at </think>)."""
    capabilities = []
    if any(word in chat_template for word in TOOL_WORDS):
        capabilities.append("tools")
    strips = (any(split in chat_template for split in THINK_SPLITS) and "reasoning_content" not in chat_template
              and "<SPECIAL_12>" not in chat_template)
    if all(tag in chat_template for tag in THINK_TAGS) or strips:
        capabilities.append("thinking")
    return capabilities


def prompt_note(gguf_template: str | None) -> str:
    """What the Modelfile says about which template Ollama prompts the model with."""
    if not gguf_template:
        return "the GGUF carries no chat template: every Ollama uses this TEMPLATE"
    capabilities = chat_template_capabilities(gguf_template)
    if not capabilities:
        return ("Ollama uses this TEMPLATE (the chat template in the GGUF declares no tools or thinking, which "
                "would make Ollama 0.30 and newer prefer it)")
    return (f"Ollama 0.30 and newer prompt this model with the chat template inside the GGUF, because it has "
            f"{' and '.join(capabilities)} that this TEMPLATE lacks: llama-server renders it with the request's "
            "tools and `think` (as enable_thinking) and parses tool calls and reasoning from the reply; older "
            "servers, or one started with OLLAMA_GO_TEMPLATE=1, use this TEMPLATE, which has no tools and no "
            "thinking tags")
