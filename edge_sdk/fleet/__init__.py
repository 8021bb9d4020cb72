"""Fleets of devices: signed model bundles, the rollout agent, the local-broker bridge, fleet status.

- `bundle.py`, `keys.py`: a model bundle is one tar file holding the ONNX model, its class names, the build
  settings, optional prebuilt TensorRT engines (keyed by board, JetPack, TensorRT and CUDA), and
  `manifest.json` (sha256 of every file) signed with Ed25519 (`manifest.sig`, through `cryptography`).
  `edge-sdk bundle keygen|create|verify`.
- `agent.py`: the rollout agent inside the daemon. It follows the retained `<prefix>/<device>/model/desired`
  message, downloads, verifies, gates, smoke-runs and swaps the model live (the SIGHUP reload path),
  watches a trial period and rolls back on failure, and reports on `<prefix>/<device>/model/reported`.
- `bridge.py`: the configuration of a local Mosquitto bridged to a central (clustered) broker, topics mapped
  from `<prefix>/<device>/...` locally to `<site>/<device>/...` centrally.
- `status.py`: `edge-sdk fleet status`, the fleet's reported states read from the central broker.

Everything heavy (cryptography, paho, onnxruntime) is imported where it is used.
"""
