#!/usr/bin/env python3
"""Golden greedy outputs from Hugging Face transformers for the tiny Gemma 2 fixture.

Usage: make_goldens.py <fixture-dir> [-o goldens.json]
The fixture comes from `cargo run --example make_tiny_gemma -- <fixture-dir>`.
"""
import argparse
import json
import logging
import sys
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

PAD, EOS, BOS, END_OF_TURN = 0, 1, 2, 5
TERMINATORS = [EOS, END_OF_TURN]
SLIDING_WINDOW = 128
# Same order and framing as `fingerprint` in tests/support/tiny_gemma.rs.
FILES = ["config.json", "generation_config.json", "model.safetensors",
         "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


def user(text):
    return [{"role": "user", "content": text}]


# (name, messages, repetition_penalty, max_new_tokens); prompt + max_new_tokens <= SLIDING_WINDOW.
CASES = [
    ("en_hello", user("Hello! Who are you?"), 1.05, 48),
    ("en_poem", user("Write a short poem about the sea."), 1.05, 64),
    ("en_capital", user("What is the capital of France?"), 1.05, 40),
    ("en_colors", user("List three colors, one per line."), 1.05, 64),
    ("en_code", user("Print hello world in Python."), 1.05, 48),
    ("ko_hello", user("안녕하세요"), 1.05, 48),
    ("ko_weather", user("오늘 날씨가 어때요?"), 1.05, 48),
    ("ko_intro", user("한국어로 자기소개를 해 주세요."), 1.05, 48),
    ("multi_turn", [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ], 1.05, 48),
    ("moon_rp_1.0", user("Tell me about the moon."), 1.0, 64),
    ("moon_rp_1.05", user("Tell me about the moon."), 1.05, 64),
]

# Token sequences (as pieces) whose decoding the engine must reproduce.
DECODE_CASES = [
    ("korean_bytes_and_pieces", ["안녕", "<0xEB>", "<0xB0>", "<0x98>", "<0xEA>", "<0xB0>", "<0x91>", "습니다"]),
    ("html_added_tokens", ["▁the", "<br>", "<u>", "model", "</u>", "<table>", "▁sea"]),
    ("newlines_and_terminator", ["user", "\n\n", "▁you", "\n\n\n", "!", "<end_of_turn>", "\n"]),
    ("special_tokens_skipped", ["<bos>", "<start_of_turn>", "model", "\n", "Hello", "<end_of_turn>", "<eos>"]),
    ("broken_utf8", ["▁a", "<0xEC>", "<0x95>", "▁", "요", "<0xFF>"]),
]


def fingerprint(folder: Path) -> int:
    h = 0xCBF29CE484222325
    for name in FILES:
        for b in name.encode() + b"\0" + (folder / name).read_bytes():
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def load(folder: Path):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        sys.exit(f"weights did not load cleanly: {problems}")
    return tokenizer, model.eval()


def prompt_ids(tokenizer, messages):
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    return out if isinstance(out, torch.Tensor) else out["input_ids"]  # v5 returns a BatchEncoding


def run_case(tokenizer, raw, model, name, messages, penalty, max_new):
    ids = prompt_ids(tokenizer, messages)
    prompt = ids[0].tolist()
    assert prompt[0] == BOS and prompt[1] != BOS, f"{name}: prompt must start with one <bos>"
    assert len(prompt) + max_new <= SLIDING_WINDOW, f"{name}: exceeds the sliding window"
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert raw.encode(rendered, add_special_tokens=False).ids == prompt, f"{name}: tokenizers differ"
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             repetition_penalty=penalty, max_new_tokens=max_new,
                             eos_token_id=TERMINATORS, pad_token_id=PAD,
                             output_scores=True, return_dict_in_generate=True)
    new = out.sequences[0, len(prompt):].tolist()
    # Smallest gap between the chosen token and the runner-up: how robust the greedy path is.
    margin = min((s[0].topk(2).values[0] - s[0].topk(2).values[1]).item() for s in out.scores)
    text = tokenizer.decode(new, skip_special_tokens=True)
    assert raw.decode(new, skip_special_tokens=True) == text, f"{name}: decoders differ"
    return {
        "name": name, "messages": messages, "repetition_penalty": penalty,
        "max_new_tokens": max_new, "prompt_ids": prompt, "output_ids": new,
        "finish": "stop" if new and new[-1] in TERMINATORS else "length",
        "text": text, "min_logit_margin": round(margin, 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixture", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("goldens.json"))
    args = parser.parse_args()
    logging.captureWarnings(True)
    transformers.logging.set_verbosity_warning()
    torch.manual_seed(0)

    tokenizer, model = load(args.fixture)
    raw = Tokenizer.from_file(str(args.fixture / "tokenizer.json"))
    cases = [run_case(tokenizer, raw, model, *case) for case in CASES]
    decode_cases = []
    for name, pieces in DECODE_CASES:
        ids = [raw.token_to_id(p) for p in pieces]
        assert None not in ids, f"{name}: unknown piece"
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert raw.decode(ids, skip_special_tokens=True) == text, f"{name}: decoders differ"
        decode_cases.append({"name": name, "ids": ids, "text": text})

    goldens = {
        "fingerprint": f"{fingerprint(args.fixture):016x}",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "cases": cases,
        "decode_cases": decode_cases,
    }
    args.output.write_text(json.dumps(goldens, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for c in cases:
        print(f"{c['name']:14} prompt {len(c['prompt_ids']):3}  out {len(c['output_ids']):3}  "
              f"{c['finish']:6} margin {c['min_logit_margin']:.3f}  {c['text']!r}")
    print(f"fingerprint {goldens['fingerprint']} -> {args.output}")


if __name__ == "__main__":
    main()
