// MurmurGossip: see DESIGN.md
