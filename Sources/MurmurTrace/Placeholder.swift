// MurmurTrace: see DESIGN.md
