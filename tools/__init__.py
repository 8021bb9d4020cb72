"""Developer tools that are not part of the installed runtime package (`pip install .` ships only edge_sdk/):

    scenes/      the synthetic scene generator (stills and videos with exact COCO ground truth):
                 the demo model's training data, the sample video, test and benchmark inputs
    evaluate/    the demo model's accuracy on generated scenes or a video (`python -m tools.evaluate`)
    gpu/         GPU benchmark instruments (spin.py) and the commands run on the GPU machine
    train/       training and export of the demo detector (needs torch)
    trt_api/     TensorRT API dumps and the mypy typings made from them
    bench_*.py   benchmark programs (print a table, write JSON)

Run them from the repository root (`python -m tools.scenes ...`, `python tools/bench_int8.py ...`).
"""
