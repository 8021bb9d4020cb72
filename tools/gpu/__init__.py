"""GPU benchmark instruments and the commands the GPU machine runs (see run_all.sh)."""
