"""Small node classes for executor tests, given to the executor through ``node_classes`` (never registered)."""

from __future__ import annotations

import json

from playalter.nodes import compat


class Number:
    RETURN_TYPES = ("INT",)
    FUNCTION = "make"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 100})}}

    def make(self, value):
        return (value,)


class Add:
    RETURN_TYPES = ("INT",)
    FUNCTION = "add"
    CATEGORY = "test"
    calls = 0

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"forceInput": True}), "b": ("INT", {"default": 0, "min": -10, "max": 10})}}

    def add(self, a, b):
        type(self).calls += 1
        return (a + b,)


class Range:
    """OUTPUT_IS_LIST: 0..count-1 as a list."""

    RETURN_TYPES = ("INT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "make"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"count": ("INT", {"default": 3, "min": 0, "max": 50})}}

    def make(self, count):
        return (list(range(count)),)


class Sum:
    """INPUT_IS_LIST: receives whole lists."""

    RETURN_TYPES = ("INT",)
    INPUT_IS_LIST = True
    FUNCTION = "total"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"values": ("INT", {"forceInput": True})}}

    def total(self, values):
        return (sum(values),)


class Choice:
    RETURN_TYPES = ("STRING",)
    FUNCTION = "pick"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mode": (["fast", "exact"],),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**32}),
                "scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 2.0}),
            },
            "optional": {"label": ("STRING", {"default": "x"})},
        }

    def pick(self, mode, seed, scale, label="x"):
        return (f"{mode}-{seed}-{scale}-{label}",)


class Even:
    RETURN_TYPES = ("INT",)
    FUNCTION = "make"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    @classmethod
    def VALIDATE_INPUTS(cls, value):
        return True if value % 2 == 0 else f"{value} is odd"

    def make(self, value):
        return (value,)


class Report:
    """Output node: the values it received as JSON."""

    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "report"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT,STRING", {"forceInput": True})}}

    def report(self, value):
        return {"ui": {"json": [json.dumps({"value": value})], "text": [str(value)]}}


class Fail:
    RETURN_TYPES = ("INT",)
    FUNCTION = "fail"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    def fail(self, value):
        return (1 // value,)


class Slow:
    """Reports progress in steps and honours cancellation."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "test"
    on_step = None

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3, "min": 1, "max": 100})}}

    def run(self, steps):
        progress = compat.Progress(steps)
        for step in range(steps):
            if type(self).on_step is not None:
                type(self).on_step(step)
            progress.update()
        return (steps,)


TEST_NODES = {cls.__name__: cls for cls in (Number, Add, Range, Sum, Choice, Even, Report, Fail, Slow)}
