"""Interactive figures that work on the static site: the data is computed in Python and embedded
in the page with a few lines of plain JavaScript (no kernel, no plotting library to download).
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Sequence

import torch

from .losses import soften


def temperature_grid(t_min: float = 1.0, t_max: float = 20.0, steps: int = 39) -> list[float]:
    """Temperatures from ``t_min`` to ``t_max``, evenly spaced (the slider's stops)."""
    if steps < 2 or not 0 < t_min < t_max:
        raise ValueError(f"need steps >= 2 and 0 < t_min < t_max, got {steps}, {t_min}, {t_max}")
    return [t_min + (t_max - t_min) * i / (steps - 1) for i in range(steps)]


def softened_rows(logits: torch.Tensor, temperatures: Sequence[float]) -> list[list[float]]:
    """Per temperature, the softmax of ``logits / T`` (one example's logits), rounded for the page."""
    return [[round(float(p), 6) for p in soften(logits.double(), T)] for T in temperatures]


def temperature_slider(logits: torch.Tensor, class_names: Sequence[str], temperatures: Sequence[float] | None = None,
                       *, title: str = "") -> str:
    """HTML of a slider over temperatures and one bar per class of the softened probabilities of
    ``logits`` (one example), with the probability of each class written above its bar."""
    temperatures = list(temperatures or temperature_grid())
    rows = softened_rows(logits, temperatures)
    uid = f"kdbook-slider-{uuid.uuid4().hex[:8]}"
    n = len(class_names)
    width, height, top, bottom = 560, 220, 24, 56
    bar_w = (width - 20) / n
    bars, labels, values = [], [], []
    for k, name in enumerate(class_names):
        x = 10 + k * bar_w
        bars.append(f'<rect class="bar" x="{x + 4:.1f}" width="{bar_w - 8:.1f}" y="{height - bottom}" height="0" '
                    f'fill="#0072B2"/>')
        values.append(f'<text class="val" x="{x + bar_w / 2:.1f}" y="{height - bottom - 4}" font-size="11" '
                      f'text-anchor="middle" fill="currentColor"></text>')
        labels.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" font-size="11" text-anchor="end" '
                      f'fill="currentColor" transform="rotate(-35 {x + bar_w / 2:.1f} {height - bottom + 14})">'
                      f'{html.escape(str(name))}</text>')
    start = min(range(len(temperatures)), key=lambda i: abs(temperatures[i] - 1.0))
    data = json.dumps({"T": [round(t, 3) for t in temperatures], "p": rows})
    return f"""<div id="{uid}" class="kdbook-slider" style="max-width:{width}px">
<p style="margin:0"><label>Temperature <b class="tval"></b>
<input type="range" min="0" max="{len(temperatures) - 1}" step="1" value="{start}" style="width:100%"
 aria-label="temperature"></label></p>
<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title or 'softened probabilities')}"
 style="width:100%;height:auto">{''.join(bars)}{''.join(values)}{''.join(labels)}</svg>
<script>(function () {{
  var d = {data}, root = document.getElementById("{uid}");
  var input = root.querySelector("input"), bars = root.querySelectorAll("rect.bar"),
      vals = root.querySelectorAll("text.val"), tval = root.querySelector(".tval");
  var base = {height - bottom}, span = {height - bottom - top};
  function show(i) {{
    tval.textContent = "T = " + d.T[i].toFixed(1);
    d.p[i].forEach(function (p, k) {{
      bars[k].setAttribute("y", base - p * span); bars[k].setAttribute("height", p * span);
      vals[k].setAttribute("y", base - p * span - 4);
      vals[k].textContent = p >= 0.0995 ? (100 * p).toFixed(0) + "%" : (100 * p).toFixed(1) + "%";
    }});
  }}
  input.addEventListener("input", function () {{ show(+input.value); }});
  show(+input.value);
}})();</script></div>"""
