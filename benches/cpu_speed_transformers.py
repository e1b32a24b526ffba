#!/usr/bin/env python3
"""The seed's transformers recipe on the benchmark checkpoint, for benches/cpu_speed.rs.

Usage: cpu_speed_transformers.py <model-dir> <bf16|f32> <tasks.json>
Greedy, repetition penalty 1.05, eager attention, no cache kept between turns (as the seed's
recipe: every turn is one `generate` over the whole conversation). Prints one JSON object.
"""
import json
import resource
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def rss_mb():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


class Clock:
    """A streamer: its first put() is the prompt, every later one a new token."""

    def __init__(self):
        self.prompt_seen = False
        self.times = []

    def put(self, value):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self):
        pass


def run(model, tokenizer, messages, new_tokens):
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
    clock = Clock()
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=False, repetition_penalty=1.05,
            max_new_tokens=new_tokens, min_new_tokens=new_tokens, streamer=clock,
            pad_token_id=0)
    n = out.shape[1] - ids.shape[1]
    first, last = clock.times[0], clock.times[-1]
    return {
        "prompt_tokens": int(ids.shape[1]),
        "tokens": int(n),
        "ttft_s": first - started,
        "decode_tps": (len(clock.times) - 1) / (last - first) if last > first else None,
    }


def main():
    folder, dtype_name, tasks_path = sys.argv[1:4]
    tasks = json.load(open(tasks_path))
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype_name]
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation="eager").eval()
    result = {"engine": f"transformers {dtype_name}", "load_s": time.perf_counter() - started,
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "after_load_mb": rss_mb()["VmRSS"], "runs": {}}
    for task in tasks["runs"]:
        r = run(model, tokenizer, task["messages"], task["new_tokens"])
        r["rss_mb"] = rss_mb()["VmRSS"]
        result["runs"][task["name"]] = r
        print(f"  transformers {dtype_name} {task['name']}: {r}", file=sys.stderr, flush=True)
    result["peak_mb"] = rss_mb()["VmHWM"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
