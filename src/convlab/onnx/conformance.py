"""Run onnx's whole backend test suite on convlab and count the outcomes.

    python -m convlab.onnx.conformance [--kind node] [--show-failures]

Each test ends as one of: passed; unsupported (an operator or element type convlab lacks, or an
attribute value it refuses by name: onnx's runner skips some of these itself, the others raise
NotImplementedError when the model is prepared); failed (a wrong value, shape or dtype, or any other
error: these are convlab's bugs); or skipped by onnx's runner for reasons of its own (models it
would download). Each test's CUDA twin is left out of the counts.
"""

from __future__ import annotations

import argparse
import collections
import unittest

from ._require import require


def _outcomes(result: unittest.TestResult) -> dict[str, list[str]]:
    outcomes = collections.defaultdict(list)
    for test, text in result.errors + result.failures:
        kind = "unsupported" if "NotImplementedError" in text else "failed"
        outcomes[kind].append(f"{test.id().rsplit('.', 1)[-1]}: {text.strip().splitlines()[-1]}")
    for test, reason in result.skipped:
        if not test.id().endswith("_cpu"):
            continue  # the same test on a CUDA device, which convlab does not claim
        kind = "unsupported" if "Not compatible" in reason else "skipped"
        outcomes[kind].append(f"{test.id().rsplit('.', 1)[-1]}: {reason}")
    return outcomes


def run(kind: str = "node") -> tuple[int, dict[str, list[str]]]:
    """Run the CPU tests of one kind of onnx's suite ('node', 'light', 'pytorch-converted',
    'pytorch-operator', 'simple') and return (passed, {outcome: [test: reason]})."""
    require()
    import onnx.backend.test

    from .backend import ConvlabBackend

    tests = onnx.backend.test.BackendTest(ConvlabBackend, __name__)
    tests.include(r"_cpu$")
    groups = {"node": "OnnxBackendNodeModelTest", "light": "OnnxBackendRealModelTest",
              "pytorch-converted": "OnnxBackendPyTorchConvertedModelTest",
              "pytorch-operator": "OnnxBackendPyTorchOperatorModelTest",
              "simple": "OnnxBackendSimpleModelTest"}
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    suite.addTests(loader.loadTestsFromTestCase(tests.test_cases[groups[kind]]))
    cpu = sum(test.id().endswith("_cpu") for test in _tests(suite))  # counted before the run
    result = unittest.TestResult()                                     # empties the suite
    suite.run(result)
    outcomes = _outcomes(result)
    return cpu - sum(len(v) for v in outcomes.values()), outcomes


def _tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="node", help="node (default), light, pytorch-converted, "
                        "pytorch-operator or simple")
    parser.add_argument("--show-failures", action="store_true", help="list each failed test")
    args = parser.parse_args(argv)
    passed, outcomes = run(args.kind)
    counts = {k: len(outcomes[k]) for k in ("failed", "unsupported", "skipped")}
    print(f"onnx {require().__version__} {args.kind} tests on convlab: passed {passed}, "
          f"failed {counts['failed']}, unsupported {counts['unsupported']}, "
          f"skipped by onnx's runner {counts['skipped']}")
    if args.show_failures:
        print("\n".join(sorted(outcomes["failed"])))


if __name__ == "__main__":
    main()
