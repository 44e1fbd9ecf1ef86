"""Jinja chat templates of the tiny models, one per architecture family.

Each renders like the real model's template (system prompt, multi-turn, ``add_generation_prompt``)
and like the LLaMA-Factory template of the same family, so training data rendered either way matches.
Raw strings: Jinja, not Python, turns ``\\n`` into a newline.
"""

from __future__ import annotations

QWEN2_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

# Qwen2.5: ChatML, with a default system prompt when the conversation has none.
QWEN2 = (
    r"""{%- if messages and messages[0]['role'] == 'system' -%}
{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' -}}
{%- set loop_messages = messages[1:] -%}
{%- else -%}
{{- '<|im_start|>system\n"""
    + QWEN2_DEFAULT_SYSTEM
    + r"""<|im_end|>\n' -}}
{%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}"""
)

# Qwen3: ChatML without a default system prompt. Reasoning (``<think>...</think>``, or the
# ``reasoning_content`` field) is kept only for assistant turns after the last user turn;
# ``enable_thinking=False`` pre-fills an empty think block in the generation prompt.
QWEN3 = r"""{%- set ns = namespace(last_query=-1) -%}
{%- for message in messages -%}
{%- if message['role'] == 'user' -%}{%- set ns.last_query = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
{%- set content = message['content'] if message['content'] is string else '' -%}
{%- if message['role'] == 'assistant' -%}
{%- set reasoning = message['reasoning_content'] if message['reasoning_content'] is string else '' -%}
{%- if '</think>' in content -%}
{%- set reasoning = content.split('</think>')[0].split('<think>')[-1] -%}
{%- set content = content.split('</think>')[-1] -%}
{%- endif -%}
{%- set reasoning = reasoning.strip('\n') -%}
{%- set content = content.lstrip('\n') -%}
{%- if loop.index0 > ns.last_query and (loop.last or reasoning) -%}
{{- '<|im_start|>assistant\n<think>\n' + reasoning + '\n</think>\n\n' + content + '<|im_end|>\n' -}}
{%- else -%}
{{- '<|im_start|>assistant\n' + content + '<|im_end|>\n' -}}
{%- endif -%}
{%- else -%}
{{- '<|im_start|>' + message['role'] + '\n' + content + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- if enable_thinking is defined and enable_thinking is false -%}
{{- '<think>\n\n</think>\n\n' -}}
{%- endif -%}
{%- endif -%}"""

# Llama 3: header blocks closed by <|eot_id|>; contents are trimmed like Meta's template.
LLAMA3 = r"""{{- bos_token -}}
{%- for message in messages -%}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'
    + (message['content'] | trim) + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%}"""

# GLM-4-0414: [gMASK]<sop> prefix, role tokens, no end-of-turn token (the next role token ends a
# turn, so <|user|> and <|observation|> are stop tokens). The reply itself starts with "\n".
GLM4 = r"""{{- '[gMASK]<sop>' -}}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}
{{- '<|system|>\n' + message['content'] -}}
{%- elif message['role'] == 'user' -%}
{{- '<|user|>\n' + message['content'] -}}
{%- elif message['role'] == 'assistant' -%}
{{- '<|assistant|>\n' + message['content'] -}}
{%- elif message['role'] in ['tool', 'observation'] -%}
{{- '<|observation|>\n' + message['content'] -}}
{%- else -%}
{{- raise_exception('unsupported role ' + message['role']) -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|assistant|>' -}}
{%- endif -%}"""

# Mistral: the system prompt is folded into the first user turn; the model answers right after
# [/INST], so add_generation_prompt adds nothing.
MISTRAL = r"""{%- if messages and messages[0]['role'] == 'system' -%}
{%- set system_prefix = messages[0]['content'] + '\n\n' -%}
{%- set loop_messages = messages[1:] -%}
{%- else -%}
{%- set system_prefix = '' -%}
{%- set loop_messages = messages -%}
{%- endif -%}
{{- bos_token -}}
{%- for message in loop_messages -%}
{%- if message['role'] == 'user' -%}
{{- '[INST] ' + (system_prefix if loop.first else '') + message['content'] + '[/INST]' -}}
{%- elif message['role'] == 'assistant' -%}
{{- ' ' + message['content'] + eos_token -}}
{%- else -%}
{{- raise_exception('only system, user and assistant roles are supported') -}}
{%- endif -%}
{%- endfor -%}"""
