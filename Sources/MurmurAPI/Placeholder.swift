// MurmurAPI: pure route logic for the node's HTTP API (see Specs/api.md).
