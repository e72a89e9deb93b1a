//! Harness for end-to-end tests against a real control plane (see `e2e/control-plane/`).
