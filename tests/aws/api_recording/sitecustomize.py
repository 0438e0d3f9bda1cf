"""Imported at start-up by every Python process whose PYTHONPATH has this directory (the
IAM test puts it there for the emulator and its function processes): records their AWS
API calls when HYPERFRAMES_TEST_API_LOG is set (see hf_api_recorder.py)."""

from __future__ import annotations

import hf_api_recorder

hf_api_recorder.install_from_env()
